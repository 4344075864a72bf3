{{
    config(
        pre_hook="{{ prepare_incremental_build() }}",
        post_hook="{{ record_build_state(next_boundaries(cycles=ref('int_billing_cycles'))) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- Usage per cycle, feature and dimension value: what the customer used, whatever has been
-- invoiced for it so far. Incremental by customer (macros/incremental_state.sql).

with

cycle_events as (
    select * from {{ ref('int_cycle_events') }} where {{ is_changed('customer_id') }}
),

final as (
    select
        invoice_id,
        cycle_id,
        customer_id,
        feature,
        dimension,
        {{ aggregate_usage('aggregation') }} as quantity,
        count(*) as events,
        max(part_seq) as last_part_seq
    from cycle_events
    group by invoice_id, cycle_id, customer_id, feature, dimension, aggregation
)

select * from final

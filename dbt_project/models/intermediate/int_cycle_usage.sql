{{
    config(
        pre_hook="{{ prepare_incremental_build(periods=ref('int_billing_cycles'), period_start='cycle_start', period_end='cycle_end') }}",
        post_hook="{{ record_build_state(next_boundaries(cycles=ref('int_billing_cycles'))) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- Usage per cycle, feature and dimension value: what the customer used, whatever has been
-- invoiced for it so far. Incremental by customer (macros/incremental_state.sql).

with

cycle_events as (
    select e.*
    from {{ ref('int_cycle_events') }} as e
    {{ join_changed_periods('e.customer_id', 'e.cycle_end') }}
    where {{ events_from_changed_periods('e.event_at') }}
),

final as (
    select
        invoice_id,
        cycle_id,
        customer_id,
        cycle_end,
        feature,
        dimension,
        {{ aggregate_usage('aggregation') }} as quantity,
        count(*) as events,
        max(part_seq) as last_part_seq
    from cycle_events
    group by invoice_id, cycle_id, customer_id, cycle_end, feature, dimension, aggregation
)

select * from final

-- Usage per cycle, feature and dimension value: what the customer used, whatever has been
-- invoiced for it so far.

with

cycle_events as (select * from {{ ref('int_cycle_events') }}),

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

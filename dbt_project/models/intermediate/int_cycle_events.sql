{{ config(materialized='view') }}

-- Each billable event with the cycle it falls in and the value of the pricing dimension its
-- cycle's plan splits the feature by (null: no dimension, or the event lacks the property).

with

events as (select * from {{ ref('int_usage_events') }}),
cycles as (select * from {{ ref('int_billing_cycles') }}),
features as (select * from {{ ref('dim_features') }}),
plan_features as (select * from {{ ref('dim_plan_features') }}),

final as (
    select
        c.invoice_id,
        c.cycle_id,
        c.customer_id,
        c.cycle_end,
        e.feature,
        f.aggregation,
        case when pf.dimension is not null then e.properties[pf.dimension] end as dimension,
        e.quantity,
        e.event_id,
        e.event_at,
        e.part_seq
    from events as e
    inner join cycles as c
        on c.customer_id = e.customer_id
        and e.event_at >= c.cycle_start
        and e.event_at < c.cycle_end
    inner join features as f on f.feature = e.feature
    left join plan_features as pf on pf.plan = c.plan_at_end and pf.feature = e.feature
    where e.received_at <= {{ as_of() }}
)

select * from final

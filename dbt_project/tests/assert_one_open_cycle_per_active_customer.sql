{{ config(meta={'dagster': {'ref': {'name': 'int_billing_cycles'}}}) }}

-- Every customer with an active subscription has exactly one cycle open at the run's moment.

with

active as (
    select customer_id
    from {{ ref('int_subscriptions_laid_out') }}
    where started_at <= {{ as_of() }} and (ends_at is null or ends_at > {{ as_of() }})
),

open_cycles as (
    select customer_id, count(*) as open_cycles
    from {{ ref('int_billing_cycles') }}
    where cycle_start <= {{ as_of() }} and {{ as_of() }} < cycle_end
    group by customer_id
)

select a.customer_id, coalesce(o.open_cycles, 0) as open_cycles
from active as a
left join open_cycles as o on o.customer_id = a.customer_id
where coalesce(o.open_cycles, 0) <> 1

-- Each subscription with what lays out its cycles: the customer's time zone and currency, and
-- the plan's interval, anchoring and limit reset (the control plane refuses plan changes that
-- would change the cycle layout, so the first plan's layout holds for the whole subscription).

with

subscriptions as (select * from {{ ref('stg_control__subscriptions') }}),
customers as (select * from {{ ref('stg_control__customers') }}),
subscription_plans as (select * from {{ ref('stg_control__subscription_plans') }}),
plans as (select * from {{ ref('dim_plans') }}),

first_plans as (
    select subscription_id, plan
    from subscription_plans
    qualify row_number() over (partition by subscription_id order by effective_from) = 1
),

final as (
    select
        s.subscription_id,
        s.customer_id,
        c.timezone,
        c.currency,
        s.started_at,
        s.billing_anchor,
        s.ends_at,
        p.interval,
        coalesce(s.anchoring, p.cycle_anchor) as anchoring,
        p.limit_reset,
        -- billed up to: its end if it has ended by the run's moment, else the run's moment
        case
            when s.ends_at is not null and s.ends_at <= {{ as_of() }} then s.ends_at
            else {{ as_of() }} + interval 1 microsecond
        end as laid_out_until
    from subscriptions as s
    inner join customers as c on c.customer_id = s.customer_id
    inner join first_plans as f on f.subscription_id = s.subscription_id
    inner join plans as p on p.plan = f.plan
)

select * from final

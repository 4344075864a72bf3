-- Monthly recurring revenue: the base prices of the subscriptions active at each month's end
-- (or now, for the current month), a yearly price counted as a twelfth per month. Exact: MRR
-- is a decimal number of minor units. Usage charges are not recurring and are not in it.

with

subscriptions as (select * from {{ ref('int_subscriptions_laid_out') }}),
subscription_plans as (select * from {{ ref('stg_control__subscription_plans') }}),
plans as (select * from {{ ref('dim_plans') }}),

months as (
    select unnest(generate_series(
        date_trunc('month', (select min(started_at) from subscriptions) at time zone 'UTC'),
        date_trunc('month', {{ as_of() }} at time zone 'UTC'),
        interval 1 month
    )) as month_start
),

moments as (
    select
        month_start::date as mrr_month,
        least(
            (month_start + interval 1 month) at time zone 'UTC',
            {{ as_of() }}
        ) - interval 1 microsecond as measured_at
    from months
),

active as (
    select m.mrr_month, m.measured_at, s.subscription_id, s.currency
    from moments as m
    inner join subscriptions as s
        on s.started_at <= m.measured_at
        and (s.ends_at is null or s.ends_at > m.measured_at)
),

priced as (
    select
        a.mrr_month,
        a.currency,
        a.subscription_id,
        case p.interval when 'year' then p.base_price::decimal(38, 6) / 12
            else p.base_price::decimal(38, 6) end as monthly_base
    from active as a
    asof inner join subscription_plans as sp
        on a.subscription_id = sp.subscription_id and a.measured_at >= sp.effective_from
    inner join plans as p on p.plan = sp.plan
),

final as (
    select
        mrr_month,
        currency,
        sum(monthly_base) as mrr,
        count(*) as active_subscriptions,
        count(*) filter (where monthly_base > 0) as paying_subscriptions
    from priced
    group by mrr_month, currency
)

select * from final

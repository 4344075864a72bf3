-- Limit utilization across customers: how many are ok, near or over each limit, per plan.

with

status as (select * from {{ ref('fct_limit_status') }}),

final as (
    select
        feature,
        plan,
        status,
        count(*) as customers,
        count(*) filter (where enforcement = 'hard') as hard_limited,
        avg(percent_used) as average_percent_used,
        max(percent_used) as max_percent_used
    from status
    where limit_value is not null
    group by feature, plan, status
)

select * from final

-- Where each active customer stands against each limit right now (the run's moment): used,
-- limit, percent, hard or soft, and ok / warning / critical / exceeded by the catalogue's
-- alert thresholds.

with

windows as (select * from {{ ref('int_limit_windows') }}),
usage as (select * from {{ ref('int_window_usage') }}),
thresholds as (select * from {{ ref('dim_alert_thresholds') }}),

current_windows as (
    select *
    from windows
    where window_start <= {{ as_of() }} and {{ as_of() }} < window_end
),

measured as (
    select
        w.customer_id,
        w.subscription_id,
        w.plan,
        w.feature,
        w.window_start,
        w.resets_at,
        coalesce(u.used, 0) as used,
        w.limit_value,
        w.enforcement,
        w.is_override,
        case
            when w.limit_value is null then null
            when w.limit_value = 0 then case when coalesce(u.used, 0) > 0 then 100 else 0 end
            else round(coalesce(u.used, 0) * 100 / w.limit_value, 2)
        end as percent_used
    from current_windows as w
    left join usage as u
        on u.customer_id = w.customer_id
        and u.window_start = w.window_start
        and u.feature = w.feature
),

final as (
    select
        m.*,
        case when m.limit_value is null then null else greatest(m.limit_value - m.used, 0) end
            as remaining,
        coalesce(
            (
                select t.level from thresholds as t
                where m.limit_value is not null
                    and {{ threshold_reached('m.used', 'm.limit_value', 't.threshold_percent') }}
                order by t.threshold_percent desc
                limit 1
            ),
            'ok'
        ) as status
    from measured as m
)

select * from final

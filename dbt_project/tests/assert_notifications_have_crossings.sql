{{ config(meta={'dagster': {'ref': {'name': 'fct_notifications'}}}) }}

-- Every limit notification has a threshold crossing behind it: the window's usage really
-- reached that percentage of the limit, at a real event.

select n.notification_id, n.customer_id, n.feature, n.threshold_percent, u.used, w.limit_value
from {{ ref('fct_notifications') }} as n
left join {{ ref('int_limit_windows') }} as w
    on w.customer_id = n.customer_id
    and w.feature = n.feature
    and w.window_start = n.window_start
left join {{ ref('int_window_usage') }} as u
    on u.customer_id = n.customer_id
    and u.feature = n.feature
    and u.window_start = n.window_start
where n.notification_type in ('limit_warning', 'limit_exceeded')
    and (
        n.created_at is null
        or w.limit_value is null
        or u.used is null
        or not {{ threshold_reached('u.used', 'w.limit_value', 'n.threshold_percent') }}
    )

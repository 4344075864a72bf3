{{
    config(
        pre_hook="{{ prepare_incremental_build(periods=ref('int_limit_windows'), period_start='window_start', period_end='window_end') }}",
        post_hook="{{ record_build_state(next_boundaries(cycles=ref('int_billing_cycles'), windows=ref('int_limit_windows'))) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- Billing notifications: limit_warning (at the warning and critical thresholds), limit_exceeded
-- (at 100%), and billing_cycle_end. Each is raised once per customer, feature, window and
-- threshold: its id is derived from exactly those (tollgate.billing.identifiers), so the API
-- raising the same notice in real time produces the same row, never a second one. A limit
-- notice is dated at the event that crossed the threshold. Incremental by customer
-- (macros/incremental_state.sql).

with

windows as (
    select w.*
    from {{ ref('int_limit_windows') }} as w
    {{ join_changed_periods('w.customer_id', 'w.window_end') }}
),
usage as (select * from {{ ref('int_window_usage') }}),
events as (select * from {{ ref('int_usage_events') }}),
thresholds as (select * from {{ ref('dim_alert_thresholds') }}),
features as (select * from {{ ref('dim_features') }}),
cycles as (
    select c.*
    from {{ ref('int_billing_cycles') }} as c
    {{ join_changed_periods('c.customer_id', 'c.cycle_end') }}
),
reads as (select * from {{ ref('stg_control__notification_reads') }}),

reached as (
    -- windows whose usage reached at least one threshold: only these need the running total
    select w.*, u.used, t.threshold_percent, t.level
    from windows as w
    inner join usage as u
        on u.customer_id = w.customer_id
        and u.window_start = w.window_start
        and u.feature = w.feature
    inner join thresholds as t
        on {{ threshold_reached('u.used', 'w.limit_value', 't.threshold_percent') }}
    where w.limit_value is not null
),

candidate_windows as (
    select distinct customer_id, feature, window_start, window_end, aggregation
    from reached
),

running as (
    select
        c.customer_id,
        c.feature,
        c.window_start,
        e.event_id,
        e.event_at,
        {{ running_usage('c.aggregation', 'e.quantity') }} as running_used
    from candidate_windows as c
    inner join events as e
        on e.customer_id = c.customer_id
        and e.feature = c.feature
        and e.event_at >= c.window_start
        and e.event_at < c.window_end
    where e.received_at <= {{ as_of() }} and {{ events_from_changed_periods('e.event_at') }}
    window running as (
        partition by c.customer_id, c.feature, c.window_start
        order by e.event_at, e.part_seq, e.event_id
        rows between unbounded preceding and current row
    )
),

crossings as (
    -- the moment each threshold was crossed: the first event whose running usage reached it
    select
        r.customer_id,
        r.feature,
        r.window_start,
        r.window_end,
        r.limit_value,
        r.enforcement,
        r.threshold_percent,
        r.level,
        min(x.event_at) as crossed_at
    from reached as r
    inner join running as x
        on x.customer_id = r.customer_id
        and x.feature = r.feature
        and x.window_start = r.window_start
        and {{ threshold_reached('x.running_used', 'r.limit_value', 'r.threshold_percent') }}
    group by all
),

limit_notifications as (
    -- type, title and message come from tollgate.billing.alerts, as the API's real-time notices
    select
        tollgate_notification_id(
            c.customer_id, tollgate_notification_type(c.level), c.feature, c.window_start,
            c.threshold_percent
        ) as notification_id,
        c.customer_id,
        tollgate_notification_type(c.level) as notification_type,
        c.level as severity,
        c.feature,
        c.threshold_percent,
        c.window_start,
        c.window_end,
        c.crossed_at as created_at,
        tollgate_notification_title(c.level, f.display_name, c.threshold_percent) as title,
        tollgate_notification_message(
            c.level, f.display_name, c.threshold_percent, c.enforcement, c.limit_value, f.unit,
            c.window_start
        ) as message
    from crossings as c
    inner join features as f on f.feature = c.feature
),

cycle_end_notifications as (
    select
        tollgate_notification_id(customer_id, 'billing_cycle_end', null, cycle_start, null)
            as notification_id,
        customer_id,
        'billing_cycle_end' as notification_type,
        'info' as severity,
        null as feature,
        null::integer as threshold_percent,
        cycle_start as window_start,
        cycle_end as window_end,
        cycle_end as created_at,
        'Billing period ended' as title,
        'Your billing period from ' || strftime(cycle_start at time zone 'UTC', '%Y-%m-%d')
            || ' to ' || strftime(cycle_end at time zone 'UTC', '%Y-%m-%d')
            || ' has ended; its invoice is finalized after the grace period.' as message
    from cycles
    where has_ended
),

all_notifications as (
    select * from limit_notifications
    union all by name
    select * from cycle_end_notifications
),

final as (
    select
        n.*,
        r.read_at is not null as is_read,
        r.read_at
    from all_notifications as n
    left join reads as r
        on r.customer_id = n.customer_id and r.notification_id = n.notification_id
)

select * from final

{{
    config(
        pre_hook="{{ prepare_incremental_build(periods=ref('int_limit_windows'), period_start='window_start', period_end='window_end') }}",
        post_hook="{{ record_build_state(next_boundaries(windows=ref('int_limit_windows'))) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- Usage per limit window and feature. Incremental by customer (macros/incremental_state.sql).

with

windows as (
    select w.*
    from {{ ref('int_limit_windows') }} as w
    {{ join_changed_periods('w.customer_id', 'w.window_end') }}
),
events as (select * from {{ ref('int_usage_events') }}),

final as (
    select
        w.customer_id,
        w.window_start,
        w.window_end,
        w.feature,
        {{ aggregate_usage('w.aggregation', 'e.quantity') }} as used,
        count(e.event_id) as events
    from windows as w
    inner join events as e
        on e.customer_id = w.customer_id
        and e.feature = w.feature
        and e.event_at >= w.window_start
        and e.event_at < w.window_end
    where e.received_at <= {{ as_of() }} and {{ events_from_changed_periods('e.event_at') }}
    group by w.customer_id, w.window_start, w.window_end, w.feature, w.aggregation
)

select * from final

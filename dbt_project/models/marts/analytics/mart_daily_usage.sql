{{
    config(
        pre_hook="{{ prepare_incremental_build('event_date', 'usage_date') }}",
        post_hook="{{ record_build_state(dates=true) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- System-wide usage per day (UTC) and feature. Incremental by event date: a run recomputes the
-- days with new events (macros/incremental_state.sql).

with

events as (select * from {{ ref('int_usage_events') }}),
features as (select * from {{ ref('dim_features') }}),

final as (
    select
        e.event_date as usage_date,
        e.feature,
        {{ aggregate_usage('f.aggregation', 'e.quantity') }} as quantity,
        count(*) as events,
        count(distinct e.customer_id) as customers
    from events as e
    inner join features as f on f.feature = e.feature
    where e.received_at <= {{ as_of() }} and {{ is_changed('e.event_date') }}
    group by e.event_date, e.feature, f.aggregation
)

select * from final

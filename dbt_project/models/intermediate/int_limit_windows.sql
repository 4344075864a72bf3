{{
    config(
        pre_hook="{{ prepare_incremental_build(events=false) }}",
        post_hook="{{ record_build_state(next_boundaries(windows=this)) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- Each subscription's limit windows (its cycles, or calendar months in the customer's time
-- zone, as the plan's limit_reset says) and, per feature, the limit that applies in each: the
-- customer's override if one is set, else the limit of the plan in effect at the window's end.
-- Incremental by customer (macros/incremental_state.sql).

with

subscriptions as (
    select * from {{ ref('int_subscriptions_laid_out') }} where {{ is_changed('customer_id') }}
),
subscription_plans as (select * from {{ ref('stg_control__subscription_plans') }}),
plan_features as (select * from {{ ref('dim_plan_features') }}),
features as (select * from {{ ref('dim_features') }}),
overrides as (select * from {{ ref('stg_control__limit_overrides') }}),

laid_out as (
    select
        subscription_id,
        customer_id,
        ends_at,
        unnest(
            tollgate_limit_windows(
                billing_anchor, interval, anchoring, timezone, limit_reset, started_at,
                laid_out_until
            )
        ) as w
    from subscriptions
),

windows as (
    select
        subscription_id,
        customer_id,
        w.window_start,
        w.window_end as resets_at,
        least(w.window_end, coalesce(ends_at, w.window_end)) as window_end
    from laid_out
),

with_plan as (
    select w.*, p.plan
    from windows as w
    asof inner join subscription_plans as p
        on w.subscription_id = p.subscription_id
        and least(w.window_end, {{ as_of() }} + interval 1 microsecond) > p.effective_from
),

final as (
    select
        w.subscription_id,
        w.customer_id,
        w.window_start,
        w.window_end,
        w.resets_at,
        w.plan,
        f.feature,
        f.aggregation,
        case when o.feature is not null then o.limit_value else pf.limit_value end
            as limit_value,
        case when o.feature is not null then o.enforcement else pf.enforcement end
            as enforcement,
        o.feature is not null as is_override
    from with_plan as w
    cross join features as f
    left join plan_features as pf on pf.plan = w.plan and pf.feature = f.feature
    left join overrides as o on o.customer_id = w.customer_id and o.feature = f.feature
    where pf.feature is not null or o.feature is not null
)

select * from final

{{
    config(
        pre_hook="{{ prepare_incremental_build(events=false) }}",
        post_hook="{{ record_build_state(next_boundaries(cycles=this)) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- Every billing cycle of every subscription up to the run's moment, laid out by the billing
-- model's own code (tollgate_billing_cycles: anniversary month-end rule, calendar anchoring,
-- the customer's time zone), with the plan in effect at its start and at its end. Incremental by
-- customer (macros/incremental_state.sql): a run lays out only the changed customers' cycles.

with

subscriptions as (
    select * from {{ ref('int_subscriptions_laid_out') }} where {{ is_changed('customer_id') }}
),
subscription_plans as (select * from {{ ref('stg_control__subscription_plans') }}),
ledger as (select * from {{ ref('stg_ledger__invoices') }}),

laid_out as (
    select
        subscription_id,
        customer_id,
        currency,
        ends_at,
        unnest(
            tollgate_billing_cycles(
                billing_anchor, interval, anchoring, timezone, started_at, laid_out_until
            )
        ) as cycle
    from subscriptions
),

cycles as (
    select
        subscription_id,
        customer_id,
        currency,
        cycle.cycle_start,
        -- a subscription ended mid-cycle bills usage up to its end
        least(cycle.cycle_end, coalesce(ends_at, cycle.cycle_end)) as cycle_end,
        cycle.cycle_end as scheduled_end,
        cycle.period_start,
        cycle.period_end,
        row_number() over (partition by subscription_id order by cycle.cycle_start) as cycle_number
    from laid_out
),

with_plans as (
    select
        c.*,
        at_start.plan as plan_at_start
    from cycles as c
    asof inner join subscription_plans as at_start
        on c.subscription_id = at_start.subscription_id
        and c.cycle_start >= at_start.effective_from
),

final as (
    select
        tollgate_invoice_id(w.customer_id, w.cycle_start) as invoice_id,
        w.customer_id || '/' || strftime(w.cycle_start at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ')
            as cycle_id,
        w.subscription_id,
        w.customer_id,
        w.cycle_number,
        w.cycle_start,
        w.cycle_end,
        w.scheduled_end,
        w.period_start,
        w.period_end,
        w.plan_at_start,
        -- usage of the whole cycle is priced on the plan the customer ended it on
        at_end.plan as plan_at_end,
        w.currency,
        w.cycle_end + {{ finalization_grace() }} as finalizes_at,
        w.cycle_end <= {{ as_of() }} as has_ended,
        l.invoice_id is not null as is_finalized
    from with_plans as w
    asof inner join subscription_plans as at_end
        on w.subscription_id = at_end.subscription_id
        and w.cycle_end > at_end.effective_from
    left join ledger as l on l.invoice_id = tollgate_invoice_id(w.customer_id, w.cycle_start)
)

select * from final

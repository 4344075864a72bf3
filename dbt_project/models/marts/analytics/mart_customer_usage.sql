{{ config(tags=['after_finalize']) }}

-- Each customer's usage and cost in their current cycle, with where they stand among all
-- customers for that feature (percentile 0-100): the data behind usage distributions and
-- top-customer lists.

with

cycles as (select * from {{ ref('int_billing_cycles') }}),
usage as (select * from {{ ref('int_cycle_usage') }}),
lines as (select * from {{ ref('fct_invoice_lines') }}),

current_cycles as (
    select * from cycles where not has_ended
),

usage_per_feature as (
    select c.customer_id, c.plan_at_end as plan, c.cycle_start, c.cycle_end, u.feature,
        sum(u.quantity) as quantity, sum(u.events) as events
    from current_cycles as c
    inner join usage as u on u.invoice_id = c.invoice_id
    group by all
),

cost_per_feature as (
    select l.invoice_id, l.feature, sum(l.amount)::bigint as amount
    from lines as l
    where l.line_kind in ('included', 'usage')
    group by all
),

final as (
    select
        u.*,
        coalesce(k.amount, 0) as usage_amount,
        c.currency,
        round(100 * percent_rank() over (partition by u.feature order by u.quantity), 1)
            as percentile
    from usage_per_feature as u
    inner join current_cycles as c
        on c.customer_id = u.customer_id and c.cycle_start = u.cycle_start
    left join cost_per_feature as k on k.invoice_id = c.invoice_id and k.feature = u.feature
)

select * from final

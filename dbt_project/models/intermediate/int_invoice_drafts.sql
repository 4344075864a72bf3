-- Draft invoice headers: one per cycle not yet finalized (plus one per customer whose late
-- usage has no next cycle to go on), with the moment it may be finalized.

with

cycles as (select * from {{ ref('int_billing_cycles') }}),
lines as (select * from {{ ref('int_invoice_draft_lines') }}),

line_totals as (
    select invoice_id, sum(amount)::bigint as subtotal, count(*) as lines
    from lines
    group by invoice_id
),

cycle_drafts as (
    select
        c.invoice_id,
        c.customer_id,
        'cycle' as invoice_kind,
        c.subscription_id,
        c.cycle_id,
        c.cycle_start as period_start,
        c.cycle_end as period_end,
        c.currency,
        c.finalizes_at
    from cycles as c
    where not c.is_finalized
),

adjustment_drafts as (
    -- ready at once: the cycles they bill for have long been finalized
    select
        l.invoice_id,
        l.customer_id,
        'adjustments' as invoice_kind,
        null as subscription_id,
        null as cycle_id,
        min(l.applies_from) as period_start,
        max(l.applies_to) as period_end,
        any_value(l.currency) as currency,
        {{ as_of() }} as finalizes_at
    from lines as l
    anti join cycle_drafts as d on d.invoice_id = l.invoice_id
    group by l.invoice_id, l.customer_id
),

headers as (
    select * from cycle_drafts
    union all by name
    select * from adjustment_drafts
),

final as (
    select
        h.*,
        coalesce(t.subtotal, 0)::bigint as subtotal,
        -- no taxes yet: the total is the subtotal
        coalesce(t.subtotal, 0)::bigint as total,
        coalesce(t.lines, 0) as line_count,
        h.finalizes_at <= {{ as_of() }} as is_closable
    from headers as h
    left join line_totals as t on t.invoice_id = h.invoice_id
)

select * from final

{{ config(tags=['after_finalize']) }}

-- Invoiced revenue by month of the billing period's start, plan and feature (no feature: base
-- fees and prorations), finalized and draft apart, per currency.

with

lines as (select * from {{ ref('fct_invoice_lines') }}),
invoices as (select * from {{ ref('fct_invoices') }}),

final as (
    select
        date_trunc('month', i.period_start at time zone 'UTC')::date as revenue_month,
        l.plan,
        l.feature,
        l.line_kind,
        l.currency,
        i.status as invoice_status,
        sum(l.amount)::bigint as amount,
        count(distinct l.customer_id) as customers
    from lines as l
    inner join invoices as i on i.invoice_id = l.invoice_id
    group by all
)

select * from final

{{ config(tags=['after_finalize']) }}

with

cycles as (select * from {{ ref('int_billing_cycles') }}),
invoices as (select * from {{ ref('fct_invoices') }}),

final as (
    select
        c.cycle_id,
        c.invoice_id,
        c.subscription_id,
        c.customer_id,
        c.cycle_number,
        c.cycle_start,
        c.cycle_end,
        c.plan_at_start,
        c.plan_at_end,
        c.currency,
        c.finalizes_at,
        case
            when i.status = 'finalized' then 'finalized'
            when c.has_ended then 'closed'
            else 'open'
        end as status,
        i.total as invoice_total
    from cycles as c
    left join invoices as i on i.invoice_id = c.invoice_id
)

select * from final

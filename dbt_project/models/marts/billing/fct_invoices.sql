{{ config(tags=['after_finalize']) }}

-- Every invoice: finalized ones exactly as the ledger holds them (never recomputed), and the
-- drafts of this run for everything not finalized yet.

with

ledger as (select * from {{ ref('stg_ledger__invoices') }}),
drafts as (select * from {{ ref('int_invoice_drafts') }}),

finalized as (
    select
        invoice_id, invoice_number, customer_id, invoice_kind, subscription_id, cycle_id,
        period_start, period_end, currency, subtotal, total,
        'finalized' as status, finalized_at, null::timestamptz as finalizes_at
    from ledger
),

still_draft as (
    select
        d.invoice_id, null as invoice_number, d.customer_id, d.invoice_kind, d.subscription_id,
        d.cycle_id, d.period_start, d.period_end, d.currency, d.subtotal, d.total,
        'draft' as status, null::timestamptz as finalized_at, d.finalizes_at
    from drafts as d
    anti join ledger as l on l.invoice_id = d.invoice_id
),

final as (
    select * from finalized
    union all by name
    select * from still_draft
)

select * from final

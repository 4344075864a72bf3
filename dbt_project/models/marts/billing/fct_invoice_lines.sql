{{ config(tags=['after_finalize']) }}

-- The lines of every invoice in fct_invoices. Trace a usage line to its events with the query
-- in docs/architecture.md ("Tracing a charge"): the customer's int_usage_events of that feature
-- and dimension in [applies_from, applies_to) from files with seq in
-- (trace_seq_from, trace_seq_to].

with

ledger as (select * from {{ ref('stg_ledger__invoice_lines') }}),
ledger_invoices as (select * from {{ ref('stg_ledger__invoices') }}),
drafts as (select * from {{ ref('int_invoice_draft_lines') }}),

final as (
    select *, 'finalized' as invoice_status from ledger
    union all by name
    select d.*, 'draft' as invoice_status
    from drafts as d
    anti join ledger_invoices as l on l.invoice_id = d.invoice_id
)

select * from final

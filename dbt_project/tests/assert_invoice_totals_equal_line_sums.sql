{{ config(meta={'dagster': {'ref': {'name': 'int_invoice_drafts'}}}) }}

-- Every invoice's total is the sum of its lines: drafts before finalization, and the ledger.

with

headers as (
    select invoice_id, total from {{ ref('int_invoice_drafts') }}
    union all
    select invoice_id, total from {{ ref('stg_ledger__invoices') }}
),

lines as (
    select invoice_id, amount from {{ ref('int_invoice_draft_lines') }}
    union all
    select invoice_id, amount from {{ ref('stg_ledger__invoice_lines') }}
),

sums as (
    select invoice_id, sum(amount) as amount from lines group by invoice_id
)

select h.invoice_id, h.total, coalesce(s.amount, 0) as sum_of_lines
from headers as h
left join sums as s on s.invoice_id = h.invoice_id
where h.total <> coalesce(s.amount, 0)

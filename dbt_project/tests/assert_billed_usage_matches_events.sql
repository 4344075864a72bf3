{{ config(meta={'dagster': {'ref': {'name': 'int_invoice_draft_lines'}}}) }}

-- Reconciliation, before anything is finalized: for every cycle, feature and dimension value,
-- the deduplicated events' usage equals the quantity invoiced for it (finalized lines, late
-- usage adjustments and this run's drafts together). A failure blocks finalization.

with

used as (
    select cycle_id, feature, dimension, quantity from {{ ref('int_cycle_usage') }}
),

billed_lines as (
    select cycle_id, feature, dimension, quantity, line_kind
    from {{ ref('stg_ledger__invoice_lines') }}
    union all
    select d.cycle_id, d.feature, d.dimension, d.quantity, d.line_kind
    from {{ ref('int_invoice_draft_lines') }} as d
    anti join {{ ref('stg_ledger__invoices') }} as l on l.invoice_id = d.invoice_id
),

billed as (
    select cycle_id, feature, dimension, sum(quantity) as quantity
    from billed_lines
    where line_kind in ('included', 'usage', 'adjustment')
    group by all
)

select
    coalesce(u.cycle_id, b.cycle_id) as cycle_id,
    coalesce(u.feature, b.feature) as feature,
    coalesce(u.dimension, b.dimension) as dimension,
    coalesce(u.quantity, 0) as used,
    coalesce(b.quantity, 0) as billed
from used as u
full outer join billed as b
    on b.cycle_id = u.cycle_id
    and b.feature = u.feature
    and b.dimension is not distinct from u.dimension
where coalesce(u.quantity, 0) <> coalesce(b.quantity, 0)

{{ config(tags=['after_finalize']) }}

-- Usage per customer, feature, billing cycle and dimension value, with the cycle's plan and
-- what has been invoiced for it (finalized and draft lines together).

with

usage as (select * from {{ ref('int_cycle_usage') }}),
cycles as (select * from {{ ref('int_billing_cycles') }}),
lines as (select * from {{ ref('fct_invoice_lines') }}),

billed as (
    select cycle_id, feature, dimension, sum(amount)::bigint as amount
    from lines
    where line_kind in ('included', 'usage', 'adjustment')
    group by all
),

final as (
    select
        u.customer_id,
        u.cycle_id,
        c.cycle_start,
        c.cycle_end,
        c.plan_at_end as plan,
        u.feature,
        u.dimension,
        u.quantity,
        u.events,
        coalesce(b.amount, 0) as amount,
        c.currency
    from usage as u
    inner join cycles as c on c.cycle_id = u.cycle_id
    left join billed as b
        on b.cycle_id = u.cycle_id
        and b.feature = u.feature
        and b.dimension is not distinct from u.dimension
)

select * from final

-- A digest of everything the control plane and the ledger hold for each customer: their
-- record, subscriptions and plans, plan changes, limit overrides, notification reads and
-- finalized invoices. Incremental billing models recompute a customer whose digest changed
-- since their last build (macros/incremental_state.sql).

with

customers as (select * from {{ ref('stg_control__customers') }}),
subscriptions as (select * from {{ ref('stg_control__subscriptions') }}),
subscription_plans as (select * from {{ ref('stg_control__subscription_plans') }}),
plan_changes as (select * from {{ ref('stg_control__plan_changes') }}),
overrides as (select * from {{ ref('stg_control__limit_overrides') }}),
reads as (select * from {{ ref('stg_control__notification_reads') }}),
ledger as (select * from {{ ref('stg_ledger__invoices') }}),

facts as (
    select customer_id, 'customer' as kind, c::varchar as fact from customers as c
    union all
    select customer_id, 'subscription', s::varchar from subscriptions as s
    union all
    select s.customer_id, 'plan', p::varchar
    from subscription_plans as p
    inner join subscriptions as s on s.subscription_id = p.subscription_id
    union all
    select s.customer_id, 'plan_change', c::varchar
    from plan_changes as c
    inner join subscriptions as s on s.subscription_id = c.subscription_id
    union all
    select customer_id, 'override', o::varchar from overrides as o
    union all
    select customer_id, 'read', r::varchar from reads as r
    union all
    select customer_id, 'invoice', invoice_id from ledger
),

final as (
    select
        customer_id,
        -- two order-independent 64-bit digests of the customer's facts (each fact is a whole
        -- row with its key, so no two are equal and xor cancels nothing): a quarter of the cost
        -- of hashing the sorted rows' text
        bit_xor(hash(kind, fact))::varchar || '-' || bit_xor(hash(fact, kind))::varchar
            as fingerprint
    from facts
    group by customer_id
)

select * from final

{{
    config(
        pre_hook="{{ prepare_incremental_build() }}",
        post_hook="{{ record_build_state(next_boundaries(cycles=ref('int_billing_cycles'))) }}",
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- The lines of every invoice not yet finalized: the cycle's base fee, proration lines for plan
-- changes inside it, usage by tier, and adjustments for usage that arrived after an earlier
-- invoice was finalized. Every amount comes from the pricing engine's SQL functions.
-- Incremental by customer (macros/incremental_state.sql): a run prices the changed customers.
--
-- Tracing: a usage line's events are its cycle's events of that feature and dimension value in
-- files with seq in (trace_seq_from, trace_seq_to]; trace_seq_to is the newest file holding one.

with

cycles as (
    select * from {{ ref('int_billing_cycles') }} where {{ is_changed('customer_id') }}
),
usage as (
    select * from {{ ref('int_cycle_usage') }} where {{ is_changed('customer_id') }}
),
prices as (select * from {{ ref('int_usage_prices') }}),
plans as (select * from {{ ref('dim_plans') }}),
features as (select * from {{ ref('dim_features') }}),
plan_features as (select * from {{ ref('dim_plan_features') }}),
plan_changes as (select * from {{ ref('stg_control__plan_changes') }}),
ledger_invoices as (select * from {{ ref('stg_ledger__invoices') }}),
ledger_lines as (
    select * from {{ ref('stg_ledger__invoice_lines') }} where {{ is_changed('customer_id') }}
),

drafts as (
    select * from cycles where not is_finalized
),

base_fees as (
    select
        d.invoice_id,
        d.customer_id,
        'base_fee' as line_kind,
        d.cycle_id,
        d.cycle_start as applies_from,
        d.scheduled_end as applies_to,
        d.plan_at_start as plan,
        null as feature,
        null as dimension,
        null::integer as tier,
        p.display_name || ' plan' as description,
        1::decimal(38, 18) as quantity,
        null as unit_amount,
        null as flat_amount,
        null as exact_amount,
        tollgate_base_charge(
            d.plan_at_start, d.period_start, d.period_end, d.cycle_start, d.scheduled_end
        ) as amount,
        null::bigint as trace_seq_from,
        null::bigint as trace_seq_to
    from drafts as d
    inner join plans as p on p.plan = d.plan_at_start
    where p.base_price > 0
),

prorations as (
    -- amounts exactly as the control plane recorded them when the change was made
    select
        d.invoice_id,
        d.customer_id,
        unnest([
            {
                'line_kind': 'proration_credit',
                'plan': c.from_plan,
                'description': 'Unused time on ' || c.from_plan || ' after '
                    || strftime(c.changed_at at time zone 'UTC', '%Y-%m-%d %H:%M UTC'),
                'amount': c.credit
            },
            {
                'line_kind': 'proration_charge',
                'plan': coalesce(c.to_plan, c.from_plan),
                'description': 'Remaining time on ' || coalesce(c.to_plan, '') || ' from '
                    || strftime(c.changed_at at time zone 'UTC', '%Y-%m-%d %H:%M UTC'),
                'amount': c.charge
            }
        ]) as line,
        d.cycle_id,
        c.changed_at as applies_from,
        d.scheduled_end as applies_to,
        c.plan_change_id
    from plan_changes as c
    inner join drafts as d
        on d.subscription_id = c.subscription_id
        -- a change at the cycle's first instant is already its plan at start (the base fee)
        and c.changed_at > d.cycle_start
        and c.changed_at < d.scheduled_end
),

proration_lines as (
    select
        invoice_id,
        customer_id,
        line.line_kind,
        cycle_id,
        applies_from,
        applies_to,
        line.plan,
        null as feature,
        null as dimension,
        null::integer as tier,
        line.description,
        1::decimal(38, 18) as quantity,
        null as unit_amount,
        null as flat_amount,
        null as exact_amount,
        line.amount,
        null::bigint as trace_seq_from,
        null::bigint as trace_seq_to,
        plan_change_id
    from prorations
    where line.amount <> 0
),

priced_without_usage as (
    -- a priced feature nobody used still gets its line: a first tier's flat fee is due at 0
    select d.invoice_id, d.cycle_id, d.customer_id, pf.feature, null as dimension,
        0::decimal(38, 18) as quantity, 0::bigint as last_part_seq
    from drafts as d
    inner join plan_features as pf on pf.plan = d.plan_at_end and pf.is_priced
    anti join usage as u on u.invoice_id = d.invoice_id and u.feature = pf.feature
),

cycle_usage as (
    select invoice_id, cycle_id, customer_id, feature, dimension, quantity, last_part_seq
    from usage
    where invoice_id in (select invoice_id from drafts)
    union all
    select * from priced_without_usage
),

usage_tiers as (
    select
        u.invoice_id,
        u.customer_id,
        u.cycle_id,
        d.cycle_start,
        d.cycle_end,
        d.plan_at_end as plan,
        u.feature,
        u.dimension,
        u.last_part_seq,
        -- priced once per quantity (int_usage_prices); the engine itself for anything the
        -- cache lacks
        unnest(coalesce(
            p.lines, tollgate_usage_lines(d.plan_at_end, u.feature, u.dimension, u.quantity)
        )) as line
    from cycle_usage as u
    inner join drafts as d on d.invoice_id = u.invoice_id
    left join prices as p
        on p.plan = d.plan_at_end
        and p.feature = u.feature
        and p.dimension_key = coalesce(u.dimension, '')
        and p.quantity = u.quantity
),

usage_lines as (
    select
        t.invoice_id,
        t.customer_id,
        t.line.kind as line_kind,
        t.cycle_id,
        t.cycle_start as applies_from,
        t.cycle_end as applies_to,
        t.plan,
        t.feature,
        t.dimension,
        t.line.tier,
        f.display_name
            || coalesce(' (' || t.dimension || ')', '')
            || ': ' || t.line.description as description,
        t.line.quantity,
        t.line.unit_amount,
        t.line.flat_amount,
        t.line.exact_amount,
        t.line.amount,
        0::bigint as trace_seq_from,
        t.last_part_seq as trace_seq_to
    from usage_tiers as t
    inner join features as f on f.feature = t.feature
),

billed_so_far as (
    -- what finalized invoices have billed for each cycle, feature and dimension value
    select
        cycle_id,
        feature,
        dimension,
        sum(quantity) as quantity,
        max(trace_seq_to) as trace_seq_to
    from ledger_lines
    where line_kind in ('included', 'usage', 'adjustment')
    group by cycle_id, feature, dimension
),

finalized_cycles as (
    select * from cycles where is_finalized
),

compared as (
    -- usage of finalized cycles against what was billed for it: a difference is late usage
    select
        coalesce(u.cycle_id, b.cycle_id) as cycle_id,
        coalesce(u.feature, b.feature) as feature,
        coalesce(u.dimension, b.dimension) as dimension,
        coalesce(u.quantity, 0) as used,
        coalesce(b.quantity, 0) as billed,
        b.trace_seq_to as billed_through_seq,
        u.last_part_seq
    from (
        select * from usage where invoice_id in (select invoice_id from finalized_cycles)
    ) as u
    full outer join billed_so_far as b
        on b.cycle_id = u.cycle_id
        and b.feature = u.feature
        and b.dimension is not distinct from u.dimension
    where coalesce(u.quantity, 0) <> coalesce(b.quantity, 0)
),

late_usage as (
    select
        c.customer_id,
        c.cycle_id,
        c.cycle_start,
        c.cycle_end,
        c.plan_at_end as plan,
        x.feature,
        x.dimension,
        x.used,
        x.billed,
        x.billed_through_seq,
        x.last_part_seq
    from compared as x
    inner join finalized_cycles as c on c.cycle_id = x.cycle_id
),

adjustment_targets as (
    -- late usage goes on the customer's next invoice; after their last cycle, on an invoice
    -- of its own
    select customer_id, min_by(invoice_id, cycle_start) as invoice_id
    from drafts
    group by customer_id
),

adjustment_lines as (
    select
        coalesce(
            t.invoice_id,
            'inv_adj_' || substr(md5(l.customer_id || chr(31) || (
                select count(*) from ledger_invoices as i where i.customer_id = l.customer_id
            )), 1, 20)
        ) as invoice_id,
        l.customer_id,
        'adjustment' as line_kind,
        l.cycle_id,
        l.cycle_start as applies_from,
        l.cycle_end as applies_to,
        l.plan,
        l.feature,
        l.dimension,
        null::integer as tier,
        f.display_name || coalesce(' (' || l.dimension || ')', '')
            || ': usage of ' || strftime(l.cycle_start at time zone 'UTC', '%Y-%m-%d')
            || ' to ' || strftime(l.cycle_end at time zone 'UTC', '%Y-%m-%d')
            || ' received after that invoice was finalized' as description,
        l.used - l.billed as quantity,
        null as unit_amount,
        null as flat_amount,
        null as exact_amount,
        tollgate_usage_charge(l.plan, l.feature, l.dimension, l.used)
            - tollgate_usage_charge(l.plan, l.feature, l.dimension, l.billed) as amount,
        coalesce(l.billed_through_seq, 0) as trace_seq_from,
        coalesce(l.last_part_seq, l.billed_through_seq, 0) as trace_seq_to
    from late_usage as l
    inner join features as f on f.feature = l.feature
    left join adjustment_targets as t on t.customer_id = l.customer_id
),

all_lines as (
    select *, 1 as kind_rank, null::bigint as plan_change_id from base_fees
    union all by name
    select *, 2 as kind_rank from proration_lines
    union all by name
    select *, 3 as kind_rank, null::bigint as plan_change_id from usage_lines
    union all by name
    select *, 4 as kind_rank, null::bigint as plan_change_id from adjustment_lines
),

final as (
    select
        -- stable across re-runs, so a line keeps its id from draft to finalized
        tollgate_line_id(
            a.invoice_id,
            a.line_kind,
            concat_ws('|', a.cycle_id, a.feature, a.dimension, a.tier, a.plan_change_id)
        ) as line_id,
        a.invoice_id,
        a.customer_id,
        a.line_kind,
        a.cycle_id,
        a.applies_from,
        a.applies_to,
        a.plan,
        a.feature,
        a.dimension,
        a.tier,
        a.description,
        a.quantity,
        a.unit_amount,
        a.flat_amount,
        a.exact_amount,
        a.amount,
        c.currency,
        a.trace_seq_from,
        a.trace_seq_to,
        cast(row_number() over (
            partition by a.invoice_id
            -- a total order, so a re-run numbers lines the same ("included" before "usage")
            order by a.kind_rank, a.feature, a.dimension nulls first, a.tier nulls first,
                a.line_kind, a.applies_from, a.plan_change_id nulls first
        ) as integer) as sort_order
    from all_lines as a
    inner join (select distinct customer_id, currency from cycles) as c
        on c.customer_id = a.customer_id
)

select * from final

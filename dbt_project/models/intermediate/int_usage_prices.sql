{{
    config(
        pre_hook="{{ prepare_price_cache() }}",
        post_hook=[
            "delete from {{ this }} as p where not exists (select 1 from tollgate_wanted_prices as w where w.plan = p.plan and w.feature = p.feature and w.dimension_key = p.dimension_key and w.quantity = p.quantity)",
            "{{ record_build_state() }}",
        ],
        **incremental_billing()
    )
}}
{{ incremental_build_inputs() }}
-- The pricing engine's invoice lines (tollgate_usage_lines) for every (plan, feature, dimension
-- value, quantity) a draft invoice bills. A cache: a run prices only the quantities it has
-- not priced before (a customer's usage of one feature changed), and keeps only what drafts
-- still bill. It starts over whenever the catalogue changes (macros/incremental_state.sql).

with

wanted as (
    {% if rebuild_all() %}{{ wanted_prices() }}{% else %}select * from tollgate_wanted_prices{% endif %}
),

to_price as (
    select * from wanted
    {% if not rebuild_all() %}
    anti join {{ this }} as p using (plan, feature, dimension_key, quantity)
    {% endif %}
)

select
    plan,
    feature,
    dimension,
    dimension_key,
    quantity,
    tollgate_usage_lines(plan, feature, dimension, quantity) as lines
from to_price

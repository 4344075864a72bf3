{#- Incremental billing: a run rebuilds only what changed since the model's last build.

    A model built this way keeps, in tollgate_build_* tables, what it was built from: the run's
    as-of moment, the events files it had, every customer's control-plane fingerprint (the
    rows of int_customer_fingerprints) and the next moment time alone changes the customer's
    rows (a cycle or limit window ends, a scheduled plan change takes effect). On the next run
    its pre-hook finds the customers whose rows may differ, and deletes their rows; the model
    then computes those customers only:

    - the events of a file loaded since (new data, late events and duplicates included);
    - events received since the last as-of moment (loaded before, billed only now);
    - a changed fingerprint (subscription, plan change, limit, notification read, invoice
      finalized), a new or a removed customer;
    - a boundary reached (valid_until <= as_of).

    A model keyed by event date recomputes the dates of those events, and any date whose staged
    rows changed otherwise (a count and seq digest per date: a duplicate there lost to an
    earlier copy in another date loaded later).

    Everything is rebuilt when the model's SQL, the catalogue or the finalization grace
    changed, or when a run bills as of an earlier moment than the last build. Each model
    records its own state, so materializing any subset of models keeps each one exact. The
    invariant every incremental build keeps (tests/pipelines/test_incremental_billing.py): its
    rows equal those of a full rebuild from the same inputs. -#}

{% macro create_build_state_tables() %}
    create table if not exists tollgate_build_state (
        model varchar not null, as_of timestamptz not null, fingerprint varchar not null
    );
    create table if not exists tollgate_build_files (
        model varchar not null, event_date date not null, part_seq bigint not null
    );
    create table if not exists tollgate_build_dates (
        model varchar not null, event_date date not null, fingerprint varchar not null
    );
    create table if not exists tollgate_build_customers (
        model varchar not null, customer_id varchar not null, fingerprint varchar not null,
        valid_until timestamptz
    );
{% endmacro %}

{#- What the whole model depends on besides customers' rows: its own SQL, the catalogue and the
    grace period. -#}
{% macro build_fingerprint() -%}
    md5(concat_ws('|',
        '{{ model.checksum.checksum }}',
        (select md5(string_agg(p::varchar, '|' order by p::varchar)) from {{ ref('dim_plans') }} as p),
        (select md5(string_agg(f::varchar, '|' order by f::varchar)) from {{ ref('dim_plan_features') }} as f),
        (select md5(string_agg(f::varchar, '|' order by f::varchar)) from {{ ref('dim_features') }} as f),
        (select md5(string_agg(u::varchar, '|' order by u::varchar)) from {{ ref('dim_feature_units') }} as u),
        (select md5(string_agg(t::varchar, '|' order by t::varchar)) from {{ ref('dim_alert_thresholds') }} as t),
        tollgate_finalization_grace_seconds()::varchar
    ))
{%- endmacro %}

{#- True when this build must recompute every row: the model was never built incrementally,
    its SQL, the catalogue or the grace period changed, or the run bills as of an earlier
    moment than the last build. Asked when the model's SQL is rendered and again in its
    pre-hook: the state it reads only changes in the post-hook. -#}
{% macro rebuild_all() %}
    {% if not execute or model.resource_type == 'unit_test' or not is_incremental() %}
        {{ return(true) }}
    {% endif %}
    {% set found = run_query(
        "select count(*) from tollgate_build_state where model = '" ~ this.identifier ~ "'"
        ~ " and as_of <= " ~ as_of() ~ " and fingerprint = " ~ build_fingerprint()
    ) %}
    {{ return(found.columns[0].values()[0] == 0) }}
{% endmacro %}

{#- Pre-hook: the keys (customer_id, or event_date) this build recomputes, into a temp table the
    model's SQL reads through is_changed(), and their old rows deleted. column: the model's
    column holding the key; events=false for models that do not read events.

    A model of per-period rows (cycles, limit windows) names its periods (a relation with
    customer_id, period_start and period_end columns) and the column of its own rows holding
    the period's end: a customer changed only by new events (since = the earliest of them) or
    a boundary (since = the boundary) then recomputes just the periods ending at or after it,
    and the model reads events from tollgate_scan_from on (the earliest start of those
    periods), so an hour of new events does not re-read the customer's whole history. -#}
{% macro prepare_incremental_build(
    key='customer_id', column=none, events=true, periods=none, period_start=none, period_end=none
) %}
    {% if rebuild_all() %}
        {% if is_incremental() %}delete from {{ this }};{% endif %}
    {% else %}
    create or replace temp table tollgate_changed as
    with
    state as (select * from tollgate_build_state where model = '{{ this.identifier }}'),
    {%- if events %}
    new_files as (
        select event_date, part_seq from {{ ref('stg_ingest__event_files') }}
        except
        select event_date, part_seq from tollgate_build_files where model = '{{ this.identifier }}'
    ),
    {%- endif %}
    {%- if key == 'customer_id' %}
    stored as (
        select customer_id, fingerprint, valid_until
        from tollgate_build_customers where model = '{{ this.identifier }}'
    ),
    {%- endif %}
    changed as (
        -- since: the earliest event that changed (null: anything of theirs may have)
        select null::{{ 'date' if key == 'event_date' else 'varchar' }} as {{ key }},
            null::timestamptz as since
        where false
        {%- if events %}
        union all
        select e.{{ key }}, e.event_at
        from {{ ref('stg_ingest__usage_events') }} as e
        semi join new_files as f on f.event_date = e.event_date and f.part_seq = e.part_seq
        union all
        select e.{{ key }}, e.event_at
        from {{ ref('stg_ingest__usage_events') }} as e
        where e.received_at > (select as_of from state) and e.received_at <= {{ as_of() }}
        {%- endif %}
        {%- if key == 'event_date' %}
        union all
        -- a date whose rows changed without a new file of its own: a duplicate in it lost
        -- to an earlier copy loaded later, in another date
        select coalesce(c.event_date, s.event_date), null
        from ({{ event_date_fingerprints() }}) as c
        full outer join (
            select event_date, fingerprint from tollgate_build_dates
            where model = '{{ this.identifier }}'
        ) as s on s.event_date = c.event_date
        where c.fingerprint is distinct from s.fingerprint
        {%- endif %}
        {%- if key == 'customer_id' %}
        union all
        select coalesce(c.customer_id, s.customer_id), null
        from {{ ref('int_customer_fingerprints') }} as c
        full outer join stored as s on s.customer_id = c.customer_id
        where c.fingerprint is distinct from s.fingerprint
        union all
        -- a boundary changes what follows it: since = the boundary
        select customer_id, valid_until from stored where valid_until <= {{ as_of() }}
        {%- endif %}
    )
    select
        {{ key }} as changed_key,
        case when count(*) filter (where since is null) = 0 then min(since) end as since
    from changed
    group by {{ key }};

    {% if periods %}
    delete from {{ this }} as t
    using tollgate_changed as c
    where c.changed_key = t.customer_id and (c.since is null or t.{{ period_end }} >= c.since);

    set variable tollgate_scan_from = (
        select coalesce(min(p.{{ period_start }}), 'infinity'::timestamptz)
        from {{ periods }} as p
        inner join tollgate_changed as c on c.changed_key = p.customer_id
        where c.since is null or p.{{ period_end }} >= c.since
    );
    {% else %}
    delete from {{ this }} where {{ column or key }} in (select changed_key from tollgate_changed);
    {% endif %}
    {% endif %}
{% endmacro %}

{#- For a model of per-period rows: the periods this build recomputes, as a join (nothing, when
    it rebuilds them all) and a condition on the events it reads (see prepare_incremental_build).
-#}
{% macro join_changed_periods(customer_id, period_end) -%}
    {%- if not rebuild_all() -%}
    inner join tollgate_changed as changed
        on changed.changed_key = {{ customer_id }}
        and (changed.since is null or {{ period_end }} >= changed.since)
    {%- endif -%}
{%- endmacro %}

{% macro events_from_changed_periods(event_at) -%}
    {%- if rebuild_all() -%}
    true
    {%- else -%}
    {{ event_at }} >= getvariable('tollgate_scan_from')
    {%- endif -%}
{%- endmacro %}

{#- The rows of the keys this build recomputes (every row, when it rebuilds them all). -#}
{% macro is_changed(column) -%}
    {%- if rebuild_all() -%}
    true
    {%- else -%}
    {{ column }} in (select changed_key from tollgate_changed)
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: what this build was made from. valid_until_sql selects (customer_id,
    valid_until): the next moment time alone changes a customer's rows; dates: keep each event
    date's fingerprint (for models keyed by event date). -#}
{% macro record_build_state(valid_until_sql=none, dates=false) %}
    delete from tollgate_build_state where model = '{{ this.identifier }}';
    insert into tollgate_build_state
    select '{{ this.identifier }}', {{ as_of() }}, {{ build_fingerprint() }};

    delete from tollgate_build_files where model = '{{ this.identifier }}';
    insert into tollgate_build_files
    select '{{ this.identifier }}', event_date, part_seq from {{ ref('stg_ingest__event_files') }};

    delete from tollgate_build_dates where model = '{{ this.identifier }}';
    {% if dates %}
    insert into tollgate_build_dates
    select '{{ this.identifier }}', event_date, fingerprint from ({{ event_date_fingerprints() }});
    {% endif %}

    delete from tollgate_build_customers where model = '{{ this.identifier }}';
    {% if valid_until_sql %}
    insert into tollgate_build_customers
    select '{{ this.identifier }}', f.customer_id, f.fingerprint, b.valid_until
    from {{ ref('int_customer_fingerprints') }} as f
    left join ({{ valid_until_sql }}) as b on b.customer_id = f.customer_id;
    {% endif %}
{% endmacro %}

{#- (customer_id, valid_until): the next moment after as_of at which time alone changes what a
    customer's rows hold: a subscription starts, a plan change takes effect, a cycle or limit
    window (of the given relations) ends. -#}
{% macro next_boundaries(cycles=none, windows=none) %}
    select customer_id, min(boundary) as valid_until
    from (
        {%- if cycles %}
        select customer_id, unnest([cycle_end, scheduled_end]) as boundary from {{ cycles }}
        union all
        {%- endif %}
        {%- if windows %}
        select customer_id, unnest([window_end, resets_at]) as boundary from {{ windows }}
        union all
        {%- endif %}
        select customer_id, started_at from {{ ref('int_subscriptions_laid_out') }}
        union all
        select s.customer_id, p.effective_from
        from {{ ref('stg_control__subscription_plans') }} as p
        inner join {{ ref('stg_control__subscriptions') }} as s
            on s.subscription_id = p.subscription_id
    )
    where boundary > {{ as_of() }}
    group by customer_id
{% endmacro %}

{#- The materialization every incremental billing model shares; each adds its own hooks. -#}
{% macro incremental_billing() %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'sync_all_columns',
    }) }}
{% endmacro %}

{#- In the body of every incremental billing model: what its hooks read, so dbt builds it
    first. -#}
{% macro incremental_build_inputs() %}
{#- A unit test feeds the model fixed inputs and runs no hooks: nothing to depend on. -#}
{% if model.resource_type != 'unit_test' %}
-- depends_on: {{ ref('int_customer_fingerprints') }}
-- depends_on: {{ ref('stg_ingest__event_files') }}
-- depends_on: {{ ref('stg_ingest__usage_events') }}
-- depends_on: {{ ref('int_subscriptions_laid_out') }}
-- depends_on: {{ ref('stg_control__subscription_plans') }}
-- depends_on: {{ ref('stg_control__subscriptions') }}
-- depends_on: {{ ref('dim_plans') }}
-- depends_on: {{ ref('dim_plan_features') }}
-- depends_on: {{ ref('dim_features') }}
-- depends_on: {{ ref('dim_feature_units') }}
-- depends_on: {{ ref('dim_alert_thresholds') }}
{% endif %}
{% endmacro %}

{#- (event_date, fingerprint): how many staged events each date holds and from which files. -#}
{% macro event_date_fingerprints() %}
    select event_date, count(*)::varchar || '-' || sum(part_seq)::varchar as fingerprint
    from {{ ref('stg_ingest__usage_events') }}
    group by event_date
{% endmacro %}

{#- What int_usage_prices holds: every quantity a draft bills, and zero of every priced feature
    (a first tier's flat fee is due at 0). dimension_key: the dimension, '' for none, so keys
    compare with = . -#}
{% macro wanted_prices() %}
    select distinct c.plan_at_end as plan, u.feature, u.dimension,
        coalesce(u.dimension, '') as dimension_key, u.quantity
    from {{ ref('int_cycle_usage') }} as u
    inner join {{ ref('int_billing_cycles') }} as c on c.invoice_id = u.invoice_id
    where not c.is_finalized
    union
    select plan, feature, null, '', 0::decimal(38, 18)
    from {{ ref('dim_plan_features') }}
    where is_priced
{% endmacro %}

{% macro prepare_price_cache() %}
    {% if rebuild_all() %}
        {% if is_incremental() %}delete from {{ this }};{% endif %}
    {% endif %}
    create or replace temp table tollgate_wanted_prices as {{ wanted_prices() }};
{% endmacro %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        on_schema_change='fail',
        tags=['events_partitioned'],
        post_hook=[
            "{{ drop_later_duplicates_outside_loaded_dates() }}"
        ]
    )
}}

-- The ingest API already drops repeats it sees inside its dedup window; this is where
-- duplicates are removed for good: one row per (customer_id, event_id). The copy kept is the
-- one the pipeline could see first (lowest part file seq; one flush writes the same seq into
-- each date it spans, and then the earlier date wins), so a duplicate that turns up later never
-- displaces an event that was already billed.
--
-- Incremental by event date: a Dagster partition run reloads only its dates' folders (Hive
-- pruning), so a run costs what the new data costs, not what history costs.

with

{% if parquet_files_exist(events_glob()) %}
source as (
    select * from {{ source('ingest', 'usage_events') }}
    {% if loading_event_dates() %}
    where {{ in_loaded_event_dates('"date"') }}
    {% endif %}
),
{% else %}
source as (
    select
        null::varchar as event_id, null::varchar as customer_id, null::varchar as event_type,
        null::varchar as feature, null::decimal(38, 9) as quantity, null::varchar as unit,
        null::timestamptz as "timestamp", null::timestamptz as received_at,
        null::map(varchar, varchar) as properties, null::varchar as source,
        null::date as "date", null::varchar as filename
    where false
),
{% endif %}

parsed as (
    select
        event_id,
        customer_id,
        event_type,
        feature as event_feature,
        quantity,
        unit,
        "timestamp" as event_at,
        received_at,
        properties,
        source as event_source,
        cast("date" as date) as event_date,
        cast(regexp_extract(filename, 'part-(\d+)\.parquet$', 1) as bigint) as part_seq
    from source
),

deduplicated as (
    select *
    from parsed
    qualify row_number() over (
        partition by customer_id, event_id
        order by part_seq, event_date, received_at, event_at, quantity
    ) = 1
)

{% if loading_event_dates() %}
-- A duplicate with another timestamp lands in another date's folder: keep whichever copy was
-- published first, across dates too (the post-hook removes the other side's later copies).
, kept_in_other_dates as (
    select d.customer_id, d.event_id
    from deduplicated as d
    inner join {{ this }} as t
        on t.customer_id = d.customer_id and t.event_id = d.event_id
    where not ({{ in_loaded_event_dates('t.event_date') }})
        and (t.part_seq < d.part_seq or (t.part_seq = d.part_seq and t.event_date < d.event_date))
)

select d.*
from deduplicated as d
anti join kept_in_other_dates as k
    on d.customer_id = k.customer_id and d.event_id = k.event_id
{% else %}
select * from deduplicated
{% endif %}

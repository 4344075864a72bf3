{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        tags=['events_partitioned']
    )
}}

-- Every events file the pipeline has loaded, with its row count before deduplication. The
-- finalizer compares it with the files on disk: an invoice is only finalized once every file
-- published so far is loaded, so "events in files up to seq N" is exactly what it billed.

{% if parquet_files_exist(events_glob()) %}
select
    cast("date" as date) as event_date,
    cast(regexp_extract(filename, 'part-(\d+)\.parquet$', 1) as bigint) as part_seq,
    regexp_extract(filename, '(date=[^/]+/part-\d+\.parquet)$', 1) as file_name,
    count(*) as events
from {{ source('ingest', 'usage_events') }}
{% if loading_event_dates() %}
where {{ in_loaded_event_dates('"date"') }}
{% endif %}
group by all
{% else %}
select null::date as event_date, null::bigint as part_seq, null::varchar as file_name,
    null::bigint as events
where false
{% endif %}

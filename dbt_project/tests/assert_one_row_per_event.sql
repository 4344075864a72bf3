{{ config(meta={'dagster': {'ref': {'name': 'stg_ingest__usage_events'}}}) }}

-- One row per (customer_id, event_id), across every date. A load of some dates checks the keys
-- it loaded against every date (the dates loaded before were checked when they were loaded),
-- so the check costs what the new data costs; a load of every date checks every key.

with

events as (select * from {{ ref('stg_ingest__usage_events') }}),

loaded as (
    select customer_id, event_id from events where {{ in_loaded_event_dates('event_date') }}
)

select customer_id, event_id, count(*) as copies
from events
where getvariable('tollgate_event_date_from') is null
    or (customer_id, event_id) in (select customer_id, event_id from loaded)
group by customer_id, event_id
having count(*) > 1

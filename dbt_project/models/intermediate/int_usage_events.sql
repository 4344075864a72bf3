{{ config(materialized='view') }}

-- Deduplicated events that are a feature's usage, in the feature's unit (exactly: the event's
-- 9-decimal quantity times the catalogue's 9-decimal conversion factor, 18 decimals). Every
-- loaded event: each consumer bills only those received by its run's moment (as_of), so a re-run
-- as of the same moment bills the same events.

with

events as (select * from {{ ref('stg_ingest__usage_events') }}),
feature_units as (select * from {{ ref('dim_feature_units') }}),

final as (
    select
        e.event_id,
        e.customer_id,
        u.feature,
        cast(e.quantity * u.factor as decimal(38, 18)) as quantity,
        e.event_at,
        e.received_at,
        e.event_date,
        e.part_seq,
        e.properties
    from events as e
    inner join feature_units as u on u.event_type = e.event_type and u.unit = e.unit
)

select * from final

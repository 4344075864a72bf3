-- The ingest API already drops repeats it sees inside its dedup window; this is where
-- duplicates are removed for good: one row per (customer_id, event_id), the first received.
with source as (
    select * from {{ source('ingest', 'usage_events') }}
),

deduplicated as (
    select *
    from source
    qualify row_number() over (
        partition by customer_id, event_id order by received_at, timestamp
    ) = 1
)

select
    event_id,
    customer_id,
    event_type,
    feature,
    quantity,
    unit,
    timestamp as event_at,
    received_at,
    properties,
    source as event_source,
    cast(timestamp as date) as event_date
from deduplicated

select
    id as subscription_id,
    customer_id,
    status,
    started_at,
    billing_anchor,
    -- null: the plan's own cycle anchoring
    anchoring,
    cancel_at,
    ended_at,
    -- when it stops billing: ended now, or scheduled to end at a period end
    coalesce(ended_at, cancel_at) as ends_at
from {{ source('control', 'subscriptions') }}

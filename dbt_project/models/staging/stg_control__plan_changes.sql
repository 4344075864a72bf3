select
    id as plan_change_id,
    subscription_id,
    from_plan,
    -- null: a cancellation
    to_plan,
    "at" as changed_at,
    timing,
    -- minor units as the control plane computed them when the change was made
    credit,
    charge,
    currency
from {{ source('control', 'plan_changes') }}

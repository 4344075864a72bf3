select
    subscription_id,
    plan,
    effective_from,
    effective_to
from {{ source('control', 'subscription_plans') }}

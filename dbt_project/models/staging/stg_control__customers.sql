select
    id as customer_id,
    name as customer_name,
    email,
    timezone,
    currency,
    created_at,
    stripe_customer_id
from {{ source('control', 'customers') }}

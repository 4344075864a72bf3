select
    customer_id,
    feature,
    -- null: unlimited
    value as limit_value,
    enforcement
from {{ source('control', 'limit_overrides') }}

select customer_id, notification_id, read_at
from {{ source('control', 'notification_reads') }}

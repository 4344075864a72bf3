select * exclude (batch), batch as ledger_batch
from {{ source('ledger', 'invoices') }}

"""The validated usage event, as every later stage sees it.

Parsers (native JSON and CloudEvents) both produce ``UsageEvent``; storage only ever sees this
type, which is what makes both wire forms produce identical stored rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec

# Quantities are exact decimals with at most this many fractional digits and strictly below
# QUANTITY_MAX. Parquet stores them as decimal128(38, 9), so sums over billions of events
# stay exact in DuckDB.
QUANTITY_SCALE = 9
QUANTITY_MAX = Decimal(10) ** 18


# array_like: the WAL stores events as msgpack arrays, encoded straight from this type in C.
class UsageEvent(msgspec.Struct, frozen=True, array_like=True):
    event_id: str
    customer_id: str
    event_type: str
    feature: str
    quantity: Decimal
    unit: str
    timestamp: datetime  # timezone-aware, normalised to UTC
    properties: dict[str, str]
    source: str | None = None

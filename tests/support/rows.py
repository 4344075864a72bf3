"""WAL record payloads built from row tuples, for storage tests that think in rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ingest_api.events.model import UsageEvent
from ingest_api.storage.rows import encode_record

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# event_id, customer_id, event_type, feature, quantity, unit, timestamp (µs since the epoch),
# received_at (µs), properties, source: the stored columns, as plain values.
Row = tuple[str, str, str, str, str, str, int, int, dict[str, str], str | None]


def record(rows: Sequence[Row]) -> bytes:
    """One WAL record of these rows; the record's receipt time is the first row's."""
    events = [
        UsageEvent(
            event_id,
            customer_id,
            event_type,
            feature,
            Decimal(quantity),
            unit,
            _EPOCH + timedelta(microseconds=timestamp),
            properties,
            source,
        )
        for (
            event_id,
            customer_id,
            event_type,
            feature,
            quantity,
            unit,
            timestamp,
            _,
            properties,
            source,
        ) in rows
    ]
    return encode_record(events, rows[0][7] if rows else 0)

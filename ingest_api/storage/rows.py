"""The stored event: what a WAL record holds and what a Parquet file holds.

A WAL record payload is the msgpack encoding of ``(received_at_us, [UsageEvent, ...])``, written
by ``encode_record`` straight from the validated events (no per-event Python work on the ingest
hot path). Readers decode it with ``decode_record`` into ``StoredEvent``s; the compactor turns
records into an Arrow table with ``EVENTS_SCHEMA``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ingest_api.events.model import QUANTITY_SCALE, UsageEvent

QUANTITY_TYPE = pa.decimal128(38, QUANTITY_SCALE)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("feature", pa.string(), nullable=False),
        pa.field("quantity", QUANTITY_TYPE, nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("timestamp", TIMESTAMP_TYPE, nullable=False),
        pa.field("received_at", TIMESTAMP_TYPE, nullable=False),
        pa.field("properties", pa.map_(pa.string(), pa.string()), nullable=False),
        pa.field("source", pa.string(), nullable=True),
    ]
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StoredEvent(msgspec.Struct, frozen=True, array_like=True):
    """An event as readers decode it from the WAL: ``UsageEvent``'s fields in the same order,
    but the quantity stays the exact decimal string the writer's encoder produced, so that
    readers build Arrow columns without creating a Decimal per event."""

    event_id: str
    customer_id: str
    event_type: str
    feature: str
    quantity: str
    unit: str
    timestamp: datetime
    properties: dict[str, str]
    source: str | None = None


class WalRecord(NamedTuple):
    received_at_us: int
    events: list[StoredEvent]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(WalRecord)


def to_micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_record(events: Sequence[UsageEvent], received_at_us: int) -> bytes:
    return _encoder.encode((received_at_us, events))


def decode_record(payload: bytes) -> WalRecord:
    return _decoder.decode(payload)


def records_to_table(records: Sequence[WalRecord]) -> pa.Table:
    """One Arrow table of every event in ``records``, column by column."""
    events = [event for record in records for event in record.events]
    received = [record.received_at_us for record in records for _ in record.events]
    arrays = [
        pa.array([e.event_id for e in events], pa.string()),
        pa.array([e.customer_id for e in events], pa.string()),
        pa.array([e.event_type for e in events], pa.string()),
        pa.array([e.feature for e in events], pa.string()),
        # Casting the exact decimal strings is exact and vectorised.
        pc.cast(pa.array([e.quantity for e in events], pa.string()), QUANTITY_TYPE),
        pa.array([e.unit for e in events], pa.string()),
        pa.array([e.timestamp for e in events], TIMESTAMP_TYPE),
        pa.array(received, pa.int64()).cast(TIMESTAMP_TYPE),
        pa.array([e.properties for e in events], pa.map_(pa.string(), pa.string())),
        pa.array([e.source for e in events], pa.string()),
    ]
    return pa.Table.from_arrays(arrays, schema=EVENTS_SCHEMA)

"""The stored row: what a WAL record holds and what a Parquet file holds.

A WAL record payload is the msgpack encoding of ``(received_at_us, [UsageEvent, ...])``, written
by ``encode_record`` straight from the validated events (no per-event Python work on the ingest
hot path). Readers get row tuples in ``ROW_FIELDS`` order from ``decode_rows``; the compactor
turns those into an Arrow table with ``EVENTS_SCHEMA``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ingest_api.events.model import QUANTITY_SCALE, UsageEvent

ROW_FIELDS = (
    "event_id",
    "customer_id",
    "event_type",
    "feature",
    "quantity",
    "unit",
    "timestamp",
    "received_at",
    "properties",
    "source",
)

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
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(tuple[int, list[UsageEvent]])

Row = tuple[str, str, str, str, str, str, int, int, dict[str, str], str | None]


def to_micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def event_to_row(event: UsageEvent, received_at_us: int) -> Row:
    return (
        event.event_id,
        event.customer_id,
        event.event_type,
        event.feature,
        str(event.quantity),
        event.unit,
        to_micros(event.timestamp),
        received_at_us,
        event.properties,
        event.source,
    )


def encode_record(events: Sequence[UsageEvent], received_at_us: int) -> bytes:
    return _encoder.encode((received_at_us, events))


def decode_rows(payload: bytes) -> list[Row]:
    received_at_us, events = _decoder.decode(payload)
    return [event_to_row(event, received_at_us) for event in events]


def rows_to_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(ROW_FIELDS)
    by_name = dict(zip(ROW_FIELDS, columns, strict=True))
    arrays = [
        pa.array(by_name["event_id"], pa.string()),
        pa.array(by_name["customer_id"], pa.string()),
        pa.array(by_name["event_type"], pa.string()),
        pa.array(by_name["feature"], pa.string()),
        # Casting the canonical decimal strings is exact and vectorised.
        pc.cast(pa.array(by_name["quantity"], pa.string()), QUANTITY_TYPE),
        pa.array(by_name["unit"], pa.string()),
        pa.array(by_name["timestamp"], pa.int64()).cast(TIMESTAMP_TYPE),
        pa.array(by_name["received_at"], pa.int64()).cast(TIMESTAMP_TYPE),
        pa.array(by_name["properties"], pa.map_(pa.string(), pa.string())),
        pa.array(by_name["source"], pa.string()),
    ]
    return pa.Table.from_arrays(arrays, schema=EVENTS_SCHEMA)

"""Property-based tests: no input raises anything but RequestError, every parsed batch is
consistent, and generated valid events round-trip (equally in both wire forms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest_api.events.errors import RequestError
from ingest_api.events.model import QUANTITY_MAX, QUANTITY_SCALE, UsageEvent
from ingest_api.events.parsing import EventParser, ParsedBatch
from ingest_api.settings import IngestSettings

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PARSER = EventParser(IngestSettings(max_batch_events=20))
CONTENT_TYPES = [
    "application/json",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_batch(batch: ParsedBatch) -> None:
    """Invariants of every ParsedBatch."""
    indices = [index for index, _ in batch.events] + [r.index for r in batch.rejections]
    assert sorted(indices) == list(range(batch.size))
    assert [index for index, _ in batch.events] == sorted(index for index, _ in batch.events)
    assert [r.index for r in batch.rejections] == sorted(r.index for r in batch.rejections)
    assert 1 <= batch.size <= 20
    for _, event in batch.events:
        check_event(event)
    for rejection in batch.rejections:
        assert rejection.field
        assert rejection.reason
        msgspec.json.encode(rejection)  # what the HTTP layer does with it


def check_event(event: UsageEvent) -> None:
    assert 1 <= len(event.event_id) <= 255
    assert 1 <= len(event.customer_id) <= 255
    assert 1 <= len(event.event_type) <= 64
    assert 1 <= len(event.feature) <= 64
    assert 1 <= len(event.unit) <= 32
    assert event.quantity.is_finite()
    assert 0 <= event.quantity < QUANTITY_MAX
    assert event.quantity.as_tuple().exponent == -QUANTITY_SCALE
    assert event.timestamp.tzinfo is UTC
    assert NOW - timedelta(days=35) <= event.timestamp <= NOW + timedelta(minutes=5)
    assert len(event.properties) <= 20
    assert all(isinstance(v, str) for v in event.properties.values())
    msgspec.msgpack.encode(event)  # strings are encodable (no lone surrogates)


def parse_or_request_error(body: bytes, content_type: str | None) -> None:
    try:
        batch = PARSER.parse(body, content_type, NOW)
    except RequestError as error:
        check_request_error(error)
    else:
        check_batch(batch)


def check_request_error(error: RequestError) -> None:
    assert 400 <= error.status < 500
    assert error.code
    assert error.message
    assert error.hint
    msgspec.json.decode(error.to_json())


# --- arbitrary input ----------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=400),
    content_type=st.one_of(st.none(), st.sampled_from(CONTENT_TYPES), st.text(max_size=40)),
)
@example(body=b"[1e999999999999999999999999]", content_type="application/json")
@example(body=b'{"quantity":"1e-99999999999999999999"}', content_type="application/json")
@example(body=b"\xff", content_type="application/json")
def test_arbitrary_bytes(body: bytes, content_type: str | None) -> None:
    parse_or_request_error(body, content_type)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.decimals(allow_nan=True).map(str),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


@FUZZ
@given(value=json_values, content_type=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_json(value: Any, content_type: str) -> None:
    parse_or_request_error(msgspec.json.encode(value), content_type)


# --- almost-valid events: each field valid, or anything -----------------------------------------


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=4), children, max_size=2)
    ),
    max_leaves=4,
)


def valid_or_any(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, junk)


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True)
ids = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=255)
quantities = st.decimals(
    min_value=0, max_value=QUANTITY_MAX - 1, places=QUANTITY_SCALE, allow_nan=False
)
timestamps = st.datetimes(
    min_value=datetime(2025, 4, 27, 12, 0, 1), max_value=datetime(2025, 6, 1, 12, 4, 59)
).map(lambda moment: moment.replace(tzinfo=UTC).isoformat())
properties = st.dictionaries(st.text(min_size=1, max_size=64), st.text(max_size=256), max_size=20)

native_events = st.fixed_dictionaries(
    {
        "event_id": valid_or_any(ids),
        "customer_id": valid_or_any(ids),
        "event_type": valid_or_any(names),
        "feature": valid_or_any(names),
        "quantity": valid_or_any(quantities.map(str) | quantities.map(float)),
    },
    optional={
        "unit": valid_or_any(st.text(min_size=1, max_size=32)),
        "timestamp": valid_or_any(timestamps),
        "properties": valid_or_any(properties),
        "source": valid_or_any(ids),
        "extra": junk,
    },
)


def to_cloudevent(native: dict[str, Any]) -> dict[str, Any]:
    renames = {
        "event_id": "id",
        "customer_id": "subject",
        "event_type": "type",
        "timestamp": "time",
        "source": "source",
    }
    ce: dict[str, Any] = {"specversion": "1.0", "source": "svc", "data": {}}
    for key, value in native.items():
        if key in renames:
            ce[renames[key]] = value
        elif key == "extra":
            ce["extra"] = value  # an extension attribute, valid only as a string
        else:
            ce["data"][key] = value
    return ce


@FUZZ
@given(events=st.lists(native_events, min_size=1, max_size=5))
def test_almost_valid_native_batches(events: list[dict[str, Any]]) -> None:
    parse_or_request_error(msgspec.json.encode(events), "application/json")
    parse_or_request_error(msgspec.json.encode(events[0]), "application/json")


@FUZZ
@given(events=st.lists(native_events.map(to_cloudevent), min_size=1, max_size=5))
def test_almost_valid_cloudevent_batches(events: list[dict[str, Any]]) -> None:
    parse_or_request_error(msgspec.json.encode(events), "application/cloudevents-batch+json")
    parse_or_request_error(msgspec.json.encode(events[0]), "application/cloudevents+json")


@FUZZ
@given(
    events=st.lists(native_events, min_size=1, max_size=4),
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=4
    ),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_mutated_bodies(
    events: list[dict[str, Any]], edits: list[tuple[int, int]], content_type: str
) -> None:
    body = bytearray(msgspec.json.encode(events))
    for position, byte in edits:
        body[position % len(body)] = byte
    parse_or_request_error(bytes(body), content_type)


# --- valid events round-trip ------------------------------------------------------------------


valid_events = st.fixed_dictionaries(
    {
        "event_id": ids,
        "customer_id": ids,
        "event_type": names,
        "feature": names,
        "quantity": quantities,
    },
    optional={
        "unit": st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=32),
        "timestamp": timestamps,
        "properties": properties,
        "source": ids,
    },
)


def wire(event: dict[str, Any], quantity_as_number: bool) -> dict[str, Any]:
    quantity: Decimal = event["quantity"]
    return event | {
        "quantity": msgspec.Raw(str(quantity).encode()) if quantity_as_number else str(quantity)
    }


@FUZZ
@given(event=valid_events, quantity_as_number=st.booleans())
def test_valid_events_round_trip_in_both_forms(
    event: dict[str, Any], quantity_as_number: bool
) -> None:
    native_body = msgspec.json.encode(wire(event, quantity_as_number))
    [(_, parsed)] = PARSER.parse(native_body, "application/json", NOW).events
    assert parsed.event_id == event["event_id"]
    assert parsed.customer_id == event["customer_id"]
    assert parsed.quantity == event["quantity"]
    assert parsed.unit == event.get("unit", "unit")
    assert parsed.properties == event.get("properties", {})
    assert parsed.source == event.get("source")
    if "timestamp" in event:
        assert parsed.timestamp == datetime.fromisoformat(event["timestamp"])
    else:
        assert parsed.timestamp == NOW
    check_event(parsed)

    ce = to_cloudevent(wire(event, quantity_as_number))
    if "source" not in event:
        ce["source"] = "svc"
        parsed = msgspec.structs.replace(parsed, source="svc")
    ce_body = msgspec.json.encode(ce)
    [(_, from_ce)] = PARSER.parse(ce_body, "application/cloudevents+json", NOW).events
    assert from_ce == parsed

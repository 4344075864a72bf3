"""The native form (application/json): valid events parse to the exact UsageEvent, and every
rule rejects the offending event with the right field path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from ingest_api.events.errors import Rejection
from ingest_api.events.model import QUANTITY_SCALE, UsageEvent
from ingest_api.events.parsing import EventParser, ParsedBatch
from ingest_api.settings import IngestSettings

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PARSER = EventParser(IngestSettings())
JSON = "application/json"


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "evt_1",
        "customer_id": "cus_1",
        "event_type": "ai_tokens",
        "feature": "chat",
        "quantity": 5,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not _ABSENT}


_ABSENT: Any = object()


def parse(
    body: bytes | object, *, now: datetime = NOW, parser: EventParser = PARSER
) -> ParsedBatch:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return parser.parse(raw, JSON, now)


def parse_one(body: bytes | object, **kwargs: Any) -> UsageEvent:
    batch = parse(body, **kwargs)
    assert batch.rejections == [], batch.rejections
    assert batch.size == 1
    [(index, parsed)] = batch.events
    assert index == 0
    return parsed


def reject_one(body: bytes | object, **kwargs: Any) -> Rejection:
    batch = parse(body, **kwargs)
    assert batch.events == []
    assert batch.size == 1
    [rejection] = batch.rejections
    assert rejection.index == 0
    return rejection


# --- valid events -----------------------------------------------------------------------------


def test_minimal_event_gets_defaults() -> None:
    assert parse_one(event()) == UsageEvent(
        event_id="evt_1",
        customer_id="cus_1",
        event_type="ai_tokens",
        feature="chat",
        quantity=Decimal(5),
        unit="unit",
        timestamp=NOW,
        properties={},
        source=None,
    )


def test_full_event_is_normalised_to_utc() -> None:
    body = event(
        quantity="1234.5",
        unit="tokens",
        timestamp="2025-06-01T13:30:15.123456+02:00",
        properties={"model": "gpt-4o", "region": "eu-west-1"},
        source="chat-service",
    )
    parsed = parse_one(body)
    assert parsed == UsageEvent(
        event_id="evt_1",
        customer_id="cus_1",
        event_type="ai_tokens",
        feature="chat",
        quantity=Decimal("1234.5"),
        unit="tokens",
        timestamp=datetime(2025, 6, 1, 11, 30, 15, 123456, tzinfo=UTC),
        properties={"model": "gpt-4o", "region": "eu-west-1"},
        source="chat-service",
    )
    assert parsed.timestamp.tzinfo is UTC


def test_null_optional_fields_mean_defaults() -> None:
    body = event(unit=None, timestamp=None, properties=None, source=None)
    assert parse_one(body) == parse_one(event())


def test_strings_are_kept_as_sent() -> None:
    parsed = parse_one(event(event_id=" evt 1 ", customer_id="Kunde-Ä ✓", unit=" tokens "))
    assert (parsed.event_id, parsed.customer_id, parsed.unit) == (
        " evt 1 ",
        "Kunde-Ä ✓",
        " tokens ",
    )


def test_each_event_gets_its_own_properties_dict() -> None:
    batch = parse([event(event_id="a"), event(event_id="b")])
    first, second = (parsed for _, parsed in batch.events)
    assert first.properties == second.properties == {}
    assert first.properties is not second.properties


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (b"0.002", "0.002"),
        (b'"0.002"', "0.002"),
        (b"5", "5"),
        (b'"5"', "5"),
        (b"0", "0"),
        (b"-0", "0"),
        (b'"-0"', "0"),
        (b"1e3", "1000"),
        (b'"1e3"', "1000"),
        (b'"1.5E+2"', "150"),
        (b"25e-9", "0.000000025"),
        (b"2.5E-8", "0.000000025"),
        (b'"0.000000001"', "0.000000001"),
        (b"0.1", "0.1"),
        (b'"999999999999999999.999999999"', "999999999999999999.999999999"),
        (b"999999999999999999", "999999999999999999"),
        (b'"1.5000000000000"', "1.5"),  # extra digits are zeros: exact, nothing rounded
        (b"123456789.123456789", "123456789.123456789"),
    ],
)
def test_quantity_is_exact(literal: bytes, expected: str) -> None:
    body = b'{"event_id":"e","customer_id":"c","event_type":"t","feature":"f","quantity":%s}'
    parsed = parse_one(body % literal)
    assert parsed.quantity == Decimal(expected)
    # Stored at the scale of the Parquet column, decimal128(38, 9).
    assert parsed.quantity.as_tuple().exponent == -QUANTITY_SCALE
    assert not parsed.quantity.is_signed()


def test_float_literal_is_not_rounded_through_binary_floats() -> None:
    body = b'{"event_id":"e","customer_id":"c","event_type":"t","feature":"f","quantity":0.002}'
    assert parse_one(body).quantity == Decimal("0.002")
    string_body = body.replace(b"0.002", b'"0.002"')
    assert parse_one(string_body) == parse_one(body)


@pytest.mark.parametrize(
    ("literal", "reason_part"),
    [
        (b"-1", "negative"),
        (b'"-0.000000001"', "negative"),
        (b"1e18", "10^18"),
        (b'"1000000000000000000"', "10^18"),
        (b"999999999999999999.9999999999", "fractional digits"),
        (b'"0.0000000001"', "9 fractional digits"),
        (b"1.0000000001", "9 fractional digits"),
        (b"1e-10", "fractional digits"),
        (b"25e-10", "fractional digits"),
        (b"0.30000000000000004", "fractional digits"),
        (b"1E400", "10^18"),
        (b'"1e99999999999999999999999"', "not a valid decimal"),
        (b'"NaN"', "finite"),
        (b'"sNaN"', "finite"),
        (b'"Infinity"', "finite"),
        (b'"-Infinity"', "finite"),
        (b'"abc"', "not a valid decimal"),
        (b'""', "not a valid decimal"),
        (b"true", "got boolean"),
        (b"false", "got boolean"),
        (b"null", "got null"),
        (b"[1]", "got array"),
        (b'{"v":1}', "got object"),
    ],
)
def test_invalid_quantity_is_rejected(literal: bytes, reason_part: str) -> None:
    body = b'{"event_id":"e","customer_id":"c","event_type":"t","feature":"f","quantity":%s}'
    rejection = reject_one(body % literal)
    assert rejection.field == "quantity"
    assert reason_part in rejection.reason
    assert (rejection.event_id, rejection.customer_id) == ("e", "c")


# --- string fields ----------------------------------------------------------------------------

VALID_STRINGS = [
    ("event_id", "x" * 255),
    ("event_id", "order-42/line 7 ✓"),
    ("customer_id", "c" * 255),
    ("event_type", "a"),
    ("event_type", "A9:b.c-d_e"),
    ("event_type", "x" * 64),
    ("feature", "0day"),
    ("unit", "u" * 32),
    ("unit", "GB·h"),
    ("source", "s" * 255),
]


@pytest.mark.parametrize(("field", "value"), VALID_STRINGS)
def test_valid_string_fields(field: str, value: str) -> None:
    assert getattr(parse_one(event(**{field: value})), field) == value


INVALID_STRINGS = [
    ("event_id", "", "must not be empty"),
    ("event_id", "x" * 256, "at most 255"),
    ("event_id", "a\nb", "control"),
    ("event_id", "tab\there", "control"),
    ("event_id", "nul\x00", "control"),
    ("event_id", "del\x7f", "control"),
    ("event_id", "c1\x85", "control"),
    ("event_id", 42, "expected string, got number"),
    ("customer_id", "", "must not be empty"),
    ("customer_id", "x" * 256, "at most 255"),
    ("customer_id", "line\r", "control"),
    ("customer_id", ["c"], "expected string, got array"),
    ("event_type", "", "must not be empty"),
    ("event_type", "x" * 65, "at most 64"),
    ("event_type", "api call", "A-Z a-z 0-9 _ . : -"),
    ("event_type", "_private", "start with a letter or digit"),
    ("event_type", "-x", "start with a letter or digit"),
    ("event_type", "api_call\n", "A-Z"),  # `$` would have matched before a final newline
    ("event_type", "tokens/s", "A-Z"),
    ("event_type", "ünïcode", "A-Z"),
    ("event_type", None, "expected string, got null"),
    ("feature", "", "must not be empty"),
    ("feature", "x" * 65, "at most 64"),
    ("feature", "chat completions", "A-Z"),
    ("feature", True, "expected string, got boolean"),
    ("unit", "", "must not be empty"),
    ("unit", "u" * 33, "at most 32"),
    ("unit", "m\n", "control"),
    ("unit", 1, "expected string or null, got number"),
    ("source", "", "must not be empty"),
    ("source", "s" * 256, "at most 255"),
    ("source", "svc\x1b[31m", "control"),
    ("source", {}, "expected string or null, got object"),
]


@pytest.mark.parametrize(("field", "value", "reason_part"), INVALID_STRINGS)
def test_invalid_string_fields(field: str, value: object, reason_part: str) -> None:
    rejection = reject_one(event(**{field: value}))
    assert rejection.field == field
    assert reason_part in rejection.reason


@pytest.mark.parametrize("field", ["event_id", "customer_id", "event_type", "feature", "quantity"])
def test_missing_required_field(field: str) -> None:
    rejection = reject_one(event(**{field: _ABSENT}))
    assert rejection.field == field
    assert rejection.reason == "required field is missing"


@pytest.mark.parametrize("name", ["tenant", "Event_ID", "data", "amount", "quantity "])
def test_unknown_field_is_named(name: str) -> None:
    rejection = reject_one(event(**{name: "x"}))
    assert rejection.field == name
    assert rejection.reason.startswith("unknown field; accepted fields: event_id, customer_id")


def test_unknown_field_with_an_empty_name() -> None:
    rejection = reject_one(event(**{"": "x"}))
    assert rejection.field == "$"
    assert rejection.reason.startswith("unknown field with an empty name")


def ids(rejection: Rejection) -> tuple[str | None, str | None]:
    return rejection.event_id, rejection.customer_id


def test_rejection_echoes_readable_ids_only() -> None:
    assert ids(reject_one(event(quantity=-1))) == ("evt_1", "cus_1")
    assert ids(reject_one(event(event_id=7))) == (None, "cus_1")
    assert ids(reject_one(event(customer_id="x" * 300, quantity="bad"))) == ("evt_1", None)
    assert ids(reject_one(event(event_id="a\x00", quantity=-1))) == (None, "cus_1")
    assert ids(reject_one(event(event_id=_ABSENT, customer_id=_ABSENT))) == (None, None)


# --- properties -------------------------------------------------------------------------------


def test_properties_limits_are_inclusive() -> None:
    properties = {f"k{i:02d}" + "x" * 61: "v" * 256 for i in range(20)}
    assert all(len(key) == 64 for key in properties)
    assert parse_one(event(properties=properties)).properties == properties
    assert parse_one(event(properties={"empty": ""})).properties == {"empty": ""}


@pytest.mark.parametrize(
    ("properties", "field", "reason_part"),
    [
        ({f"k{i}": "v" for i in range(21)}, "properties", "at most 20 properties"),
        ({"": "v"}, "properties", "1 to 64 characters"),
        ({"fine": "v", "": "v"}, "properties", "got '' (0 characters)"),
        ({"k" * 65: "v"}, "properties", "1 to 64 characters"),
        ({"model": "v" * 257}, "properties.model", "at most 256"),
        ({"model": {"name": "x"}}, "properties.model", "expected string, got object"),
        ({"ok": "1", "n": 1}, "properties.n", "expected string, got number"),
        ({"flag": True}, "properties.flag", "expected string, got boolean"),
        ({"list": ["a"]}, "properties.list", "expected string, got array"),
        ({"none": None}, "properties.none", "expected string, got null"),
        (["model", "x"], "properties", "expected flat object of strings, got array"),
        ("model=x", "properties", "got string"),
    ],
)
def test_invalid_properties(properties: object, field: str, reason_part: str) -> None:
    rejection = reject_one(event(properties=properties))
    assert (rejection.field, rejection.event_id) == (field, "evt_1")
    assert reason_part in rejection.reason


# --- timestamps and the time window ----------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2025-06-01T11:00:00Z", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
        ("2025-06-01T11:00:00z", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
        ("2025-06-01T11:00:00+00:00", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
        ("2025-06-01T11:00:00-00:00", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
        ("2025-06-01T13:00:00+02:00", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
        ("2025-06-01T06:30:00-04:30", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
        ("2025-06-01T11:00:00.5Z", datetime(2025, 6, 1, 11, 0, 0, 500000, tzinfo=UTC)),
        ("2025-06-01 11:00:00Z", datetime(2025, 6, 1, 11, 0, tzinfo=UTC)),
    ],
)
def test_timestamp_is_normalised_to_utc(sent: str, expected: datetime) -> None:
    parsed = parse_one(event(timestamp=sent))
    assert parsed.timestamp == expected
    assert parsed.timestamp.tzinfo is UTC


@pytest.mark.parametrize(
    ("sent", "reason_part"),
    [
        ("2025-06-01T11:00:00", "no UTC offset"),
        ("2025-06-01", "RFC 3339"),
        ("yesterday", "RFC 3339"),
        ("2025-13-01T00:00:00Z", "RFC 3339"),
        ("", "RFC 3339"),
        (1748775600, "expected RFC 3339 timestamp string or null, got number"),
    ],
)
def test_invalid_timestamp(sent: object, reason_part: str) -> None:
    rejection = reject_one(event(timestamp=sent))
    assert rejection.field == "timestamp"
    assert reason_part in rejection.reason


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, microseconds=1), False),
        (timedelta(hours=1), False),
        (-timedelta(days=35), True),
        (-timedelta(days=35, microseconds=1), False),
        (-timedelta(days=400), False),
    ],
)
def test_time_window_edges(offset: timedelta, accepted: bool) -> None:
    batch = parse(event(timestamp=iso(NOW + offset)))
    if accepted:
        assert batch.events[0][1].timestamp == NOW + offset
    else:
        assert batch.rejections[0].field == "timestamp"


def test_time_window_edges_with_an_offset() -> None:
    latest = (NOW + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-7)))
    assert parse_one(event(timestamp=iso(latest))).timestamp == NOW + timedelta(minutes=5)
    too_new = latest + timedelta(microseconds=1)
    assert reject_one(event(timestamp=iso(too_new))).field == "timestamp"


def test_old_timestamp_reason_names_the_window() -> None:
    rejection = reject_one(event(timestamp="2025-04-01T00:00:00Z"))
    assert rejection.reason == (
        "timestamp 2025-04-01T00:00:00Z is older than the 35-day backfill window "
        "(earliest accepted: 2025-04-27T12:00:00Z)"
    )


def test_future_timestamp_reason_names_the_tolerance() -> None:
    rejection = reject_one(event(timestamp="2025-06-01T12:06:00Z"))
    assert rejection.reason == (
        "timestamp 2025-06-01T12:06:00Z is more than 5 minutes in the future "
        "(latest accepted: 2025-06-01T12:05:00Z)"
    )


def test_window_follows_settings() -> None:
    parser = EventParser(
        IngestSettings(backfill_window=timedelta(hours=36), future_tolerance=timedelta(0))
    )
    assert parse_one(event(timestamp=iso(NOW - timedelta(hours=36))), parser=parser)
    rejection = reject_one(event(timestamp=iso(NOW - timedelta(hours=37))), parser=parser)
    assert "36-hour backfill window" in rejection.reason
    rejection = reject_one(event(timestamp=iso(NOW + timedelta(seconds=1))), parser=parser)
    assert "more than 0 seconds in the future" in rejection.reason


@pytest.mark.parametrize(
    "sent",
    ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"],
)
def test_extreme_timestamps_are_rejected_not_crashing(sent: str) -> None:
    rejection = reject_one(event(timestamp=sent))
    assert rejection.field == "timestamp"
    assert sent.replace("+00:00", "Z") in rejection.reason


def test_default_timestamp_is_receipt_time_in_utc() -> None:
    berlin = NOW.astimezone(timezone(timedelta(hours=2)))
    parsed = parse_one(event(), now=berlin)
    assert parsed.timestamp == NOW
    assert parsed.timestamp.tzinfo is UTC


def test_naive_now_is_taken_as_utc() -> None:
    assert parse_one(event(), now=NOW.replace(tzinfo=None)).timestamp == NOW

"""CloudEvents 1.0 (structured and batch JSON): the attribute mapping, equivalence with the
native form, extension attributes, and CloudEvents names in rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from ingest_api.events.errors import Rejection
from ingest_api.events.model import UsageEvent
from ingest_api.events.parsing import EventParser, ParsedBatch
from ingest_api.settings import IngestSettings

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PARSER = EventParser(IngestSettings())
NATIVE = "application/json"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
_ABSENT: Any = object()  # leave the attribute out
_DEFAULT: Any = object()


def cloudevent(data: Any = _DEFAULT, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt_1",
        "source": "chat-service",
        "type": "ai_tokens",
        "subject": "cus_1",
        "data": {"feature": "chat", "quantity": 5} if data is _DEFAULT else data,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not _ABSENT}


def parse(body: object, content_type: str = STRUCTURED) -> ParsedBatch:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return PARSER.parse(raw, content_type, NOW)


def parse_one(body: object, content_type: str = STRUCTURED) -> UsageEvent:
    batch = parse(body, content_type)
    assert batch.rejections == [], batch.rejections
    [(index, parsed)] = batch.events
    assert (index, batch.size) == (0, 1)
    return parsed


def reject_one(body: object) -> Rejection:
    batch = parse(body)
    assert (batch.events, batch.size) == ([], 1)
    [rejection] = batch.rejections
    return rejection


def test_mapping() -> None:
    body = cloudevent(
        data={
            "feature": "chat.completions",
            "quantity": "1234.5",
            "unit": "tokens",
            "properties": {"model": "gpt-4o"},
        },
        time="2025-06-01T13:00:00+02:00",
        datacontenttype="application/json",
        dataschema="https://example.com/schemas/usage.json",
    )
    assert parse_one(body) == UsageEvent(
        event_id="evt_1",
        customer_id="cus_1",
        event_type="ai_tokens",
        feature="chat.completions",
        quantity=Decimal("1234.5"),
        unit="tokens",
        timestamp=datetime(2025, 6, 1, 11, 0, tzinfo=UTC),
        properties={"model": "gpt-4o"},
        source="chat-service",
    )


def test_defaults() -> None:
    parsed = parse_one(cloudevent())
    assert (parsed.unit, parsed.timestamp, parsed.properties) == ("unit", NOW, {})


# --- equivalence with the native form ----------------------------------------------------------


def as_native(ce: dict[str, Any]) -> dict[str, Any]:
    native = {
        "event_id": ce["id"],
        "customer_id": ce["subject"],
        "event_type": ce["type"],
        "source": ce["source"],
        **ce["data"],
    }
    if "time" in ce:
        native["timestamp"] = ce["time"]
    return native


EQUIVALENT: dict[str, dict[str, Any]] = {
    "defaults": cloudevent(),
    "decimal-string": cloudevent(data={"feature": "f", "quantity": "0.002"}),
    "decimal-number": cloudevent(data={"feature": "f", "quantity": 0.002}),
    "exponent": cloudevent(data={"feature": "f", "quantity": "1e3"}),
    "time-utc": cloudevent(time="2025-06-01T11:59:00Z"),
    "time-offset": cloudevent(time="2025-06-01T07:30:00-04:00"),
    "time-null": cloudevent(time=None),
    "unit-properties": cloudevent(
        data={"feature": "f", "quantity": 1, "unit": "GB", "properties": {"a": "b"}}
    ),
    "null-unit-properties": cloudevent(
        data={"feature": "f", "quantity": 1, "unit": None, "properties": None}
    ),
    "empty-properties": cloudevent(data={"feature": "f", "quantity": 1, "properties": {}}),
}


@pytest.mark.parametrize("ce", EQUIVALENT.values(), ids=EQUIVALENT.keys())
def test_cloudevent_equals_native_event(ce: dict[str, Any]) -> None:
    from_native = parse_one(as_native(ce), NATIVE)
    from_cloudevent = parse_one(ce)
    assert from_cloudevent == from_native
    assert str(from_cloudevent.quantity) == str(from_native.quantity)
    assert from_cloudevent.timestamp.tzinfo is from_native.timestamp.tzinfo is UTC


def test_cloudevents_batch_equals_native_batch() -> None:
    ces = list(EQUIVALENT.values())
    from_cloudevents = parse(ces, BATCH)
    from_native = parse([as_native(ce) for ce in ces], NATIVE)
    assert from_cloudevents.rejections == from_native.rejections == []
    assert from_cloudevents.events == from_native.events
    assert from_cloudevents.size == len(ces)


def test_batch_partial_acceptance_uses_cloudevents_paths() -> None:
    ces = [
        cloudevent(id="a"),
        cloudevent(id="b", data={"feature": "f", "quantity": -1}),
        cloudevent(id="c", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        cloudevent(id="d", subject=_ABSENT),
    ]
    batch = parse(ces, BATCH)
    assert [index for index, _ in batch.events] == [0, 2]
    assert [(r.index, r.event_id, r.customer_id, r.field) for r in batch.rejections] == [
        (1, "b", "cus_1", "data.quantity"),
        (3, "d", None, "subject"),
    ]


# --- attributes --------------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", ["specversion", "id", "source", "type", "subject", "data"])
def test_required_attributes(attribute: str) -> None:
    rejection = reject_one(cloudevent(**{attribute: _ABSENT}))
    assert (rejection.field, rejection.reason) == (attribute, "required field is missing")


@pytest.mark.parametrize("field", ["feature", "quantity"])
def test_required_data_fields(field: str) -> None:
    data = {"feature": "chat", "quantity": 1}
    del data[field]
    rejection = reject_one(cloudevent(data=data))
    assert (rejection.field, rejection.reason) == (f"data.{field}", "required field is missing")


@pytest.mark.parametrize(
    ("overrides", "field", "reason_part"),
    [
        ({"specversion": "0.3"}, "specversion", '"1.0"'),
        ({"specversion": 1.0}, "specversion", "got number"),
        ({"id": ""}, "id", "must not be empty"),
        ({"id": "x" * 256}, "id", "at most 255"),
        ({"id": "a\tb"}, "id", "control"),
        ({"subject": "s" * 256}, "subject", "at most 255"),
        ({"subject": "\x00"}, "subject", "control"),
        ({"subject": None}, "subject", "expected string, got null"),
        ({"source": ""}, "source", "must not be empty"),
        ({"source": "bad\x7f"}, "source", "control"),
        ({"type": "com example"}, "type", "A-Z a-z 0-9"),
        ({"type": "t" * 65}, "type", "at most 64"),
        ({"time": "2025-06-01T12:00:00"}, "time", "no UTC offset"),
        ({"time": "2025-01-01T00:00:00Z"}, "time", "35-day backfill window"),
        ({"time": "2025-06-01T12:05:01Z"}, "time", "5 minutes in the future"),
        ({"datacontenttype": "text/plain"}, "datacontenttype", "application/json"),
        ({"datacontenttype": "application/xml"}, "datacontenttype", "application/json"),
        ({"datacontenttype": "application/json; charset=latin-1"}, "datacontenttype", "utf-8"),
        ({"datacontenttype": 1}, "datacontenttype", "got number"),
        ({"dataschema": 1}, "dataschema", "got number"),
        ({"data": "feature=chat"}, "data", "expected object, got string"),
        ({"data": None}, "data", "expected object, got null"),
        ({"data": {"feature": "chat", "quantity": "0.0000000001"}}, "data.quantity", "9 fraction"),
        ({"data": {"feature": "chat", "quantity": True}}, "data.quantity", "got boolean"),
        ({"data": {"feature": "chat x", "quantity": 1}}, "data.feature", "A-Z a-z"),
        ({"data": {"feature": "chat", "quantity": 1, "unit": ""}}, "data.unit", "empty"),
        ({"data": {"feature": "c", "quantity": 1, "unit": "\n"}}, "data.unit", "control"),
        (
            {"data": {"feature": "c", "quantity": 1, "properties": {"k": 1}}},
            "data.properties.k",
            "expected string, got number",
        ),
        (
            {"data": {"feature": "c", "quantity": 1, "properties": {"": "v"}}},
            "data.properties",
            "1 to 64 characters",
        ),
        (
            {
                "data": {
                    "feature": "c",
                    "quantity": 1,
                    "properties": {str(i): "v" for i in range(21)},
                }
            },
            "data.properties",
            "at most 20",
        ),
        (
            {"data": {"feature": "c", "quantity": 1, "customer_id": "x"}},
            "data.customer_id",
            "unknown field; accepted fields: feature, quantity, unit, properties",
        ),
    ],
)
def test_invalid_attributes_use_cloudevents_paths(
    overrides: dict[str, Any], field: str, reason_part: str
) -> None:
    rejection = reject_one(cloudevent(**overrides))
    assert rejection.field == field
    assert reason_part in rejection.reason


@pytest.mark.parametrize(
    "value", ["application/json", "Application/JSON", "application/json; charset=utf-8"]
)
def test_json_datacontenttype_is_accepted(value: str) -> None:
    assert parse_one(cloudevent(datacontenttype=value)) == parse_one(cloudevent())


def test_dataschema_is_accepted_and_ignored() -> None:
    assert parse_one(cloudevent(dataschema="urn:x")) == parse_one(cloudevent())


# --- extension attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "extensions",
    [
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        {"partitionkey": "cus_1", "region": "eu"},
        {"ext1": ""},
        {"nullext": None},
    ],
)
def test_string_extension_attributes_are_ignored(extensions: dict[str, Any]) -> None:
    assert parse_one(cloudevent(**extensions)) == parse_one(cloudevent())


@pytest.mark.parametrize(
    ("name", "value", "reason_part"),
    [
        ("sequence", 42, "must be a string, got number"),
        ("sampled", True, "must be a string, got boolean"),
        ("nested", {"a": "b"}, "must be a string, got object"),
        ("tags", ["a"], "must be a string, got array"),
        ("Region", "eu", "unknown attribute `Region`"),
        ("customer_id", "cus_1", "lowercase letters and digits"),
        ("quantity", 5, "`quantity` belongs inside `data`"),
        ("feature", "chat", "`feature` belongs inside `data`"),
        ("data_base64", "AAAA", "data_base64"),
    ],
)
def test_bad_extension_attributes_are_rejected(name: str, value: object, reason_part: str) -> None:
    rejection = reject_one(cloudevent(**{name: value}))
    assert (rejection.field, rejection.event_id, rejection.customer_id) == (name, "evt_1", "cus_1")
    assert reason_part in rejection.reason


def test_extension_attributes_do_not_hide_other_errors() -> None:
    body = cloudevent(data={"feature": "chat", "quantity": -1}, region="eu")
    assert reject_one(body).field == "data.quantity"
    body = cloudevent(region="eu", subject=_ABSENT)
    assert reject_one(body).field == "subject"
    body = cloudevent(region="eu", data={"feature": "c", "quantity": 1, "extra": 1})
    assert reject_one(body).field == "data.extra"


def test_extension_attribute_in_first_position_of_single_event() -> None:
    body = b'{"zz":"x","specversion":"1.0","id":"e","source":"s","type":"t","subject":"c",'
    body += b'"data":{"feature":"f","quantity":1}}'
    assert parse_one(body).event_id == "e"


# --- batches of CloudEvents with extension attributes (decoded batch-wise) ----------------------

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_batch_with_extensions_equals_batch_without() -> None:
    plain = [cloudevent(id=f"e{i}") for i in range(5)]
    extended = [event | {"traceparent": TRACE, "region": "eu"} for event in plain]
    assert parse(extended, BATCH) == parse(plain, BATCH)


@pytest.mark.parametrize("valid_neighbours_have_extensions", [True, False])
def test_batch_with_extensions_rejects_only_the_bad_event(
    valid_neighbours_have_extensions: bool,
) -> None:
    extension = {"traceparent": TRACE} if valid_neighbours_have_extensions else {}
    events = [
        cloudevent(id="e0", **extension),
        cloudevent(id="e1", traceparent=TRACE, sequence=7),
        cloudevent(id="e2", **extension),
        cloudevent(id="e3", time="2020-01-01T00:00:00Z", traceparent=TRACE),
        cloudevent(id="e4", traceparent=TRACE, Bad="x", worse=1),
        cloudevent(id="e5", **extension),
    ]
    batch = parse(events, BATCH)
    assert [(index, event.event_id) for index, event in batch.events] == [
        (0, "e0"),
        (2, "e2"),
        (5, "e5"),
    ]
    assert [(r.index, r.event_id, r.customer_id, r.field) for r in batch.rejections] == [
        (1, "e1", "cus_1", "sequence"),
        (3, "e3", "cus_1", "time"),
        (4, "e4", "cus_1", "Bad"),  # the first bad attribute, in the order sent
    ]


def test_batch_with_extensions_and_an_invalid_event() -> None:
    events = [
        cloudevent(id="e0", traceparent=TRACE),
        cloudevent(id="e1", traceparent=TRACE, data={"feature": "f", "quantity": "x"}),
        cloudevent(id="e2", traceparent=TRACE, tags=["a"]),
    ]
    batch = parse(events, BATCH)
    assert [index for index, _ in batch.events] == [0]
    assert [(r.index, r.field) for r in batch.rejections] == [(1, "data.quantity"), (2, "tags")]

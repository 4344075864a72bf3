"""Whole-request errors (RequestError), batches and partial acceptance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from ingest_api.events.errors import Rejection, RequestError
from ingest_api.events.parsing import EventParser, ParsedBatch
from ingest_api.settings import IngestSettings

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PARSER = EventParser(IngestSettings())
NATIVE = "application/json"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
EVENT = b'{"event_id":"e","customer_id":"c","event_type":"t","feature":"f","quantity":1}'
CLOUDEVENT = (
    b'{"specversion":"1.0","id":"e","source":"s","type":"t","subject":"c",'
    b'"data":{"feature":"f","quantity":1}}'
)


def event(index: int, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"evt_{index}",
        "customer_id": "cus_1",
        "event_type": "api_call",
        "feature": "search",
        "quantity": 1,
    }
    return base | overrides


def parse(
    body: bytes, content_type: str | None = NATIVE, parser: EventParser = PARSER
) -> ParsedBatch:
    return parser.parse(body, content_type, NOW)


def request_error(
    body: bytes, content_type: str | None = NATIVE, parser: EventParser = PARSER
) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse(body, content_type, parser)
    return caught.value


# --- content type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", EVENT),
        ("application/json; charset=utf-8", EVENT),
        ("Application/JSON;Charset=UTF-8", EVENT),
        ('application/json; charset="utf-8"', EVENT),
        ("application/json; charset=utf8", EVENT),
        ("application/json; boundary=whatever", EVENT),
        (" application/json ", EVENT),
        ("application/cloudevents+json", CLOUDEVENT),
        ("application/cloudevents+json; charset=UTF-8", CLOUDEVENT),
        ("application/cloudevents-batch+json", b"[" + CLOUDEVENT + b"]"),
    ],
)
def test_accepted_content_types(content_type: str, body: bytes) -> None:
    assert len(parse(body, content_type).events) == 1


@pytest.mark.parametrize(
    ("content_type", "code"),
    [
        (None, "unsupported_media_type"),
        ("", "unsupported_media_type"),
        ("text/plain", "unsupported_media_type"),
        ("application/x-www-form-urlencoded", "unsupported_media_type"),
        ("application/xml", "unsupported_media_type"),
        ("application/jsonl", "unsupported_media_type"),
        ("application/cloudevents", "unsupported_media_type"),
        ("text/json", "unsupported_media_type"),
        ("application/json; charset=latin-1", "unsupported_charset"),
        ('application/json; charset="iso-8859-1"', "unsupported_charset"),
        ("application/json; charset=utf-16", "unsupported_charset"),
        ("application/cloudevents+json; charset=ascii", "unsupported_charset"),
    ],
)
def test_unsupported_content_type(content_type: str | None, code: str) -> None:
    error = request_error(EVENT, content_type)
    assert (error.status, error.code) == (415, code)
    if code == "unsupported_media_type":
        for accepted in (NATIVE, STRUCTURED, BATCH):
            assert accepted in error.hint


# --- body-level errors -------------------------------------------------------------------------

DEEP = 100_000


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"", NATIVE, 400, "malformed_json"),
        (b"  \n ", NATIVE, 400, "malformed_json"),
        (b"{", NATIVE, 400, "malformed_json"),
        (b"[", NATIVE, 400, "malformed_json"),
        (b"[" + EVENT + b",", NATIVE, 400, "malformed_json"),
        (EVENT + b" trailing", NATIVE, 400, "malformed_json"),
        (b"[" + EVENT + b",]", NATIVE, 400, "malformed_json"),
        (b"{'event_id': 'e'}", NATIVE, 400, "malformed_json"),
        (b"\xef\xbb\xbf" + EVENT, NATIVE, 400, "malformed_json"),  # BOM
        (b'{"event_id":"e\\ud800"}', NATIVE, 400, "malformed_json"),  # lone surrogate
        (b'{"event_id":"\\udc00x"}', NATIVE, 400, "malformed_json"),
        (b"nul", NATIVE, 400, "malformed_json"),
        (b"{" + CLOUDEVENT[1:-1], STRUCTURED, 400, "malformed_json"),
        (b"[" + CLOUDEVENT, BATCH, 400, "malformed_json"),
        (b"[{]", STRUCTURED, 400, "malformed_json"),
        (b"{]", BATCH, 400, "malformed_json"),
        (b"[" * DEEP + b"]" * DEEP, NATIVE, 400, "nesting_too_deep"),
        (b"[" * DEEP, NATIVE, 400, "nesting_too_deep"),
        (b'[{"properties":' + b"[" * DEEP + b"]" * DEEP + b"}]", NATIVE, 400, "nesting_too_deep"),
        (b'{"properties":' + b'{"a":' * DEEP, NATIVE, 400, "nesting_too_deep"),
        (b'{"data":' + b"[" * DEEP + b"]" * DEEP + b"}", STRUCTURED, 400, "nesting_too_deep"),
        (b"[" + b"[" * DEEP + b"]" * DEEP + b"]", BATCH, 400, "nesting_too_deep"),
        (b'"event"', NATIVE, 400, "invalid_top_level"),
        (b"42", NATIVE, 400, "invalid_top_level"),
        (b"null", NATIVE, 400, "invalid_top_level"),
        (b" true ", NATIVE, 400, "invalid_top_level"),
        (b'"x"', STRUCTURED, 400, "invalid_top_level"),
        (b"1.5", BATCH, 400, "invalid_top_level"),
        (b"[]", NATIVE, 400, "empty_batch"),
        (b" [ \n ] ", NATIVE, 400, "empty_batch"),
        (b"[]", BATCH, 400, "empty_batch"),
        (CLOUDEVENT, BATCH, 400, "batch_expected"),
        (b"{}", BATCH, 400, "batch_expected"),
        (b"[" + CLOUDEVENT + b"]", STRUCTURED, 400, "single_event_expected"),
        (b"[]", STRUCTURED, 400, "single_event_expected"),
    ],
)
def test_whole_request_errors(body: bytes, content_type: str, status: int, code: str) -> None:
    error = request_error(body, content_type)
    assert (error.status, error.code) == (status, code)
    assert error.message
    assert error.hint


def test_malformed_json_message_has_the_position() -> None:
    error = request_error(b'[{"event_id": "e",}]')
    assert error.message == (
        "request body is not valid JSON: JSON is malformed: trailing comma in object (byte 18)"
    )


def test_syntax_error_wins_over_an_earlier_validation_error() -> None:
    # msgspec meets the unknown field before the syntax error at the end.
    assert request_error(b'{"bogus": 1, "event_id": "e",}').code == "malformed_json"
    assert request_error(b'[{"bogus": 1}, {"event_id": "e",}]').code == "malformed_json"


@pytest.mark.parametrize(
    ("body", "offset"),
    [
        (b'{"event_id":"\xff"}', 13),
        (b'{"event_id":"caf\xc3"}', 16),
        (b'[{"zz":"\xed\xa0\x80"}]', 8),  # an encoded surrogate, in a field msgspec would skip
        (b'[1, "\xc3\x28"]', 5),  # in an element that is not an object
        (b"\x80", 0),
    ],
)
def test_invalid_utf8_reports_the_byte_offset(body: bytes, offset: int) -> None:
    for content_type in (NATIVE, STRUCTURED, BATCH):
        error = request_error(body, content_type)
        assert (error.status, error.code) == (400, "invalid_utf8")
        assert f"byte offset {offset}" in error.message


def test_non_ascii_utf8_is_fine() -> None:
    body = EVENT.replace(b'"c"', '"Kunde Müller ✓ 😀"'.encode())
    [(_, parsed)] = parse(body).events
    assert parsed.customer_id == "Kunde Müller ✓ 😀"


# --- batch size ------------------------------------------------------------------------------

SMALL = EventParser(IngestSettings(max_batch_events=3))


def batch_body(events: list[dict[str, Any]]) -> bytes:
    return msgspec.json.encode(events)


def test_batch_at_the_limit_is_accepted() -> None:
    batch = parse(batch_body([event(i) for i in range(3)]), parser=SMALL)
    assert (len(batch.events), batch.size) == (3, 3)


@pytest.mark.parametrize("bad_index", [None, 0, 3])
def test_batch_over_the_limit_is_413(bad_index: int | None) -> None:
    events = [event(i) for i in range(4)]
    if bad_index is not None:
        events[bad_index]["quantity"] = -1
    error = request_error(batch_body(events), parser=SMALL)
    assert (error.status, error.code) == (413, "batch_too_large")
    assert "3 events" in error.message
    assert "3" in error.hint


def test_cloudevents_batch_over_the_limit_is_413() -> None:
    error = request_error(b"[" + b",".join([CLOUDEVENT] * 4) + b"]", BATCH, SMALL)
    assert (error.status, error.code) == (413, "batch_too_large")


def test_default_limit_is_1000() -> None:
    assert parse(batch_body([event(i) for i in range(1000)])).size == 1000
    assert request_error(batch_body([event(i) for i in range(1001)])).status == 413


# --- partial acceptance -------------------------------------------------------------------------


def test_valid_events_survive_invalid_neighbours() -> None:
    events = [
        event(0),
        event(1, quantity="0.0000000001"),
        event(2),
        event(3, bogus=True),
        event(4),
    ]
    batch = parse(batch_body(events))
    assert batch.size == 5
    assert [(index, parsed.event_id) for index, parsed in batch.events] == [
        (0, "evt_0"),
        (2, "evt_2"),
        (4, "evt_4"),
    ]
    assert [(r.index, r.event_id, r.customer_id, r.field) for r in batch.rejections] == [
        (1, "evt_1", "cus_1", "quantity"),
        (3, "evt_3", "cus_1", "bogus"),
    ]


def test_rejections_after_the_fast_path_keep_their_index() -> None:
    # All events decode; one fails a check made in Python (the time window).
    events = [event(0), event(1, timestamp="2020-01-01T00:00:00Z"), event(2)]
    batch = parse(batch_body(events))
    assert [index for index, _ in batch.events] == [0, 2]
    assert [(r.index, r.field) for r in batch.rejections] == [(1, "timestamp")]


@pytest.mark.parametrize(
    ("element", "got"),
    [
        (b"1", "number"),
        (b'"evt"', "string"),
        (b"null", "null"),
        (b"true", "boolean"),
        (b"[]", "array"),
        (b"[" + EVENT + b"]", "array"),
    ],
)
@pytest.mark.parametrize("content_type", [NATIVE, BATCH])
def test_element_that_is_not_an_object_is_rejected(
    element: bytes, got: str, content_type: str
) -> None:
    good = EVENT if content_type == NATIVE else CLOUDEVENT
    batch = parse(b"[" + good + b"," + element + b"," + good + b"]", content_type)
    assert [index for index, _ in batch.events] == [0, 2]
    assert batch.rejections == [Rejection(1, None, None, "$", f"expected object, got {got}")]


def test_every_event_rejected_is_still_a_parsed_batch() -> None:
    batch = parse(b"[1, 2, 3]")
    assert (batch.events, batch.size) == ([], 3)
    assert [r.index for r in batch.rejections] == [0, 1, 2]


def test_single_invalid_event_is_a_rejection_at_index_0() -> None:
    batch = parse(EVENT.replace(b"1}", b"-1}"))
    assert batch.events == []
    assert batch.size == 1
    assert [(r.index, r.field) for r in batch.rejections] == [(0, "quantity")]


def test_duplicates_within_a_batch_are_left_to_deduplication() -> None:
    batch = parse(batch_body([event(7), event(7), event(7, quantity=2)]))
    assert [index for index, _ in batch.events] == [0, 1, 2]
    assert batch.rejections == []


# --- JSON shapes the HTTP layer sends -------------------------------------------------------


def test_request_error_json_shape() -> None:
    error = request_error(b"[]")
    assert msgspec.json.decode(error.to_json()) == {
        "error": {"code": "empty_batch", "message": error.message, "hint": error.hint}
    }
    assert str(error) == error.message
    assert isinstance(error, Exception)


def test_request_error_attributes() -> None:
    error = RequestError(418, "teapot", "short and stout", "tip me over")
    assert (error.status, error.code, error.message, error.hint) == (
        418,
        "teapot",
        "short and stout",
        "tip me over",
    )
    assert error.to_json() == (
        b'{"error":{"code":"teapot","message":"short and stout","hint":"tip me over"}}'
    )


def test_rejection_json_shape() -> None:
    [rejection] = parse(EVENT.replace(b'"t"', b'"t t"')).rejections
    assert msgspec.json.decode(msgspec.json.encode(rejection)) == {
        "index": 0,
        "event_id": "e",
        "customer_id": "c",
        "field": "event_type",
        "reason": rejection.reason,
    }

"""The request examples in docs/events.md parse as documented."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from ingest_api.events.parsing import EventParser, ParsedBatch
from ingest_api.settings import IngestSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PARSER = EventParser(IngestSettings())


def http_examples() -> list[tuple[str, bytes]]:
    """``(content type, body)`` of every ```http block with a body."""
    examples = []
    for block in re.findall(r"```http\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL):
        head, _, body = block.partition("\n\n")
        match = re.search(r"^Content-Type: (.+)$", head, re.MULTILINE)
        if match and body.strip():
            examples.append((match.group(1).strip(), body.encode()))
    return examples


EXAMPLES = http_examples()


def parse(content_type: str, body: bytes) -> ParsedBatch:
    return PARSER.parse(body, content_type, NOW)


def test_the_doc_has_examples_of_every_form() -> None:
    assert sorted({content_type for content_type, _ in EXAMPLES}) == [
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "application/json",
    ]
    assert len(EXAMPLES) == 4


@pytest.mark.parametrize(("content_type", "body"), EXAMPLES)
def test_request_examples_are_valid(content_type: str, body: bytes) -> None:
    batch = parse(content_type, body)
    assert batch.rejections == []
    assert len(batch.events) == batch.size >= 1


def test_the_cloudevent_example_is_the_native_example() -> None:
    [native] = [body for ct, body in EXAMPLES if ct == "application/json" and body.startswith(b"{")]
    [cloudevent] = [body for ct, body in EXAMPLES if ct == "application/cloudevents+json"]
    assert (
        parse("application/json", native).events
        == parse("application/cloudevents+json", cloudevent).events
    )


def test_minimal_example_gets_the_documented_defaults() -> None:
    [minimal] = re.findall(r'```json\n(\{"event_id": "req_1".*?)\n```', DOC.read_text())
    [(_, event)] = parse("application/json", minimal.encode()).events
    assert (event.unit, event.timestamp, event.properties, event.source) == ("unit", NOW, {}, None)


def test_documented_response_matches_the_parser() -> None:
    text = DOC.read_text(encoding="utf-8")
    [response] = re.findall(r'```json\n(\{\n  "accepted".*?)```', text, re.DOTALL)
    documented = msgspec.json.decode(response)["rejected"]
    body = b"""[
      {"event_id": "req_001", "customer_id": "cus_42", "event_type": "api_call", "feature": "search", "quantity": 1},
      {"event_id": "req_002", "customer_id": "cus_42", "event_type": "api_call", "feature": "search", "quantity": "0.0000000001"},
      {"event_id": "req_003", "customer_id": "cus_42", "event_type": "api_call", "feature": "search", "quantity": 1, "timestamp": "2025-04-01T00:00:00Z"},
      {"event_id": "req_004", "customer_id": "cus_42", "event_type": "api_call", "feature": "search", "quantity": 1, "properties": {"region": {"name": "eu"}}},
      {"event_id": "req_005", "customer_id": "cus_42", "event_type": "api_call", "feature": "search", "qty": 1}
    ]"""  # noqa: E501
    batch = parse("application/json", body)
    assert msgspec.json.decode(msgspec.json.encode(batch.rejections)) == documented

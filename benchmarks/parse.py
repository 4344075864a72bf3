"""Throughput of ``EventParser.parse`` on 100-event batches, beside plain JSON decoding.

    ./dev python benchmarks/parse.py

Prints JSON: events/s of full validation per wire form, of ``msgspec.json.decode`` on the
same bodies with no schema (the baseline: what just reading the JSON costs), and the ratio.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec

from ingest_api.events.parsing import EventParser
from ingest_api.settings import IngestSettings

BATCH_SIZE = 100


def sample_bodies(now: datetime) -> dict[str, tuple[bytes, str]]:
    """A realistic 100-event batch in each wire form (all fields present, all valid)."""
    timestamp = (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    native = [
        {
            "event_id": f"evt_{index:012d}",
            "customer_id": f"cus_{index % 7:06d}",
            "event_type": "ai_tokens",
            "feature": "chat.completions",
            "quantity": "1234.5",
            "unit": "tokens",
            "timestamp": timestamp,
            "properties": {"model": "gpt-4o", "region": "eu-west-1"},
        }
        for index in range(BATCH_SIZE)
    ]
    cloudevents = [
        {
            "specversion": "1.0",
            "id": event["event_id"],
            "source": "chat-service",
            "type": event["event_type"],
            "subject": event["customer_id"],
            "time": timestamp,
            "data": {
                "feature": event["feature"],
                "quantity": event["quantity"],
                "unit": event["unit"],
                "properties": event["properties"],
            },
        }
        for event in native
    ]
    return {
        "native": (msgspec.json.encode(native), "application/json"),
        "cloudevents": (msgspec.json.encode(cloudevents), "application/cloudevents-batch+json"),
    }


def events_per_second(call: Callable[[], object], seconds: float, rounds: int) -> float:
    """Best-of-``rounds`` events/s of ``call`` (one call handles one batch)."""
    best = 0.0
    for _ in range(rounds):
        calls = 0
        started = time.perf_counter()
        deadline = started + seconds / rounds
        while time.perf_counter() < deadline:
            for _ in range(50):
                call()
            calls += 50
        best = max(best, calls * BATCH_SIZE / (time.perf_counter() - started))
    return best


def measure(seconds: float = 2.0, rounds: int = 5) -> dict[str, dict[str, float]]:
    parser = EventParser(IngestSettings())
    now = datetime.now(UTC)
    results: dict[str, dict[str, float]] = {}
    for name, (body, content_type) in sample_bodies(now).items():
        parsed = parser.parse(body, content_type, now)
        assert len(parsed.events) == BATCH_SIZE, parsed.rejections
        validated = events_per_second(
            functools.partial(parser.parse, body, content_type, now), seconds, rounds
        )
        plain = events_per_second(functools.partial(msgspec.json.decode, body), seconds, rounds)
        results[name] = {
            "parse_events_per_s": round(validated),
            "baseline_plain_json_decode_events_per_s": round(plain),
            "ratio": round(validated / plain, 3),
        }
    return results


if __name__ == "__main__":
    print(json.dumps({"batch_size": BATCH_SIZE, "forms": measure()}, indent=2))

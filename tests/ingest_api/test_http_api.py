"""The ingest API over real HTTP: auth, answers, status lookups, operations endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import ServerKeys, TollgateServer


@pytest.fixture
def http(shared_server: TollgateServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=10) as client:
        yield client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _event(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": uuid.uuid4().hex,
        "customer_id": "cus_http",
        "event_type": "ai_tokens",
        "feature": "ai_tokens",
        "quantity": "1500",
        "unit": "token",
        "properties": {"model": "gpt-4o-mini"},
    }
    event.update(overrides)
    return event


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_api_key"),
        ({"Authorization": "Basic abc"}, 401, "malformed_authorization"),
        ({"Authorization": "Bearer tg_nope_nope"}, 401, "invalid_api_key"),
    ],
)
def test_posting_without_a_valid_key_is_401(
    http: httpx.Client, headers: dict[str, str], status: int, code: str
) -> None:
    response = http.post("/v1/events", json=_event(), headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_posting_with_a_read_key_is_403(http: httpx.Client, shared_keys: ServerKeys) -> None:
    response = http.post("/v1/events", json=_event(), headers=_auth(shared_keys.read))
    assert response.status_code == 403
    assert "ingest" in response.json()["error"]["message"]


def test_admin_key_may_ingest(http: httpx.Client, shared_keys: ServerKeys) -> None:
    response = http.post("/v1/events", json=_event(), headers=_auth(shared_keys.admin))
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


def test_repeat_is_acknowledged_as_duplicate(http: httpx.Client, shared_keys: ServerKeys) -> None:
    event = _event()
    first = http.post("/v1/events", json=event, headers=_auth(shared_keys.ingest))
    again = http.post("/v1/events", json=[event, event], headers=_auth(shared_keys.ingest))
    assert first.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}


def test_same_event_id_for_another_customer_is_a_different_event(
    http: httpx.Client, shared_keys: ServerKeys
) -> None:
    event_id = uuid.uuid4().hex
    batch = [_event(event_id=event_id, customer_id=c) for c in ("cus_a", "cus_b")]
    response = http.post("/v1/events", json=batch, headers=_auth(shared_keys.ingest))
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}


def test_partial_batch_stores_valid_events_and_names_the_bad_one(
    http: httpx.Client, shared_keys: ServerKeys
) -> None:
    good, bad = _event(), _event(quantity="-5")
    response = http.post("/v1/events", json=[good, bad], headers=_auth(shared_keys.ingest))
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 1
    [rejection] = body["rejected"]
    assert rejection["index"] == 1
    assert rejection["field"] == "quantity"
    assert rejection["event_id"] == bad["event_id"]

    status = http.get(
        f"/v1/events/{bad['event_id']}",
        params={"customer_id": "cus_http"},
        headers=_auth(shared_keys.read),
    )
    assert status.status_code == 200
    assert status.json()["status"] == "rejected"
    assert "quantity" in status.json()["explanation"]


def test_all_rejected_is_422(http: httpx.Client, shared_keys: ServerKeys) -> None:
    response = http.post(
        "/v1/events", json=[_event(quantity="abc")], headers=_auth(shared_keys.ingest)
    )
    assert response.status_code == 422
    assert response.json()["accepted"] == 0


def test_event_status_tells_accepted_and_duplicates(
    http: httpx.Client, shared_keys: ServerKeys
) -> None:
    event = _event()
    for _ in range(3):
        http.post("/v1/events", json=event, headers=_auth(shared_keys.ingest))
    response = http.get(
        f"/v1/events/{event['event_id']}",
        params={"customer_id": str(event["customer_id"])},
        headers=_auth(shared_keys.ingest),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted"
    assert [a["outcome"] for a in body["attempts"]] == ["duplicate", "duplicate"]
    assert "2 later deliveries were duplicates" in body["explanation"]


def test_unknown_event_is_404_with_explanation(http: httpx.Client, shared_keys: ServerKeys) -> None:
    response = http.get(
        "/v1/events/never-sent", params={"customer_id": "cus_x"}, headers=_auth(shared_keys.read)
    )
    assert response.status_code == 404
    assert "dedup window" in response.json()["explanation"]


def test_status_needs_customer_id_and_a_key(http: httpx.Client, shared_keys: ServerKeys) -> None:
    missing = http.get("/v1/events/e1", headers=_auth(shared_keys.read))
    assert missing.status_code == 400
    assert "customer_id" in missing.json()["error"]["message"]
    assert http.get("/v1/events/e1", params={"customer_id": "c"}).status_code == 401


def test_oversized_body_is_413_before_parsing(http: httpx.Client, shared_keys: ServerKeys) -> None:
    response = http.post(
        "/v1/events",
        content=b"[" + b" " * (1024 * 1024 + 1) + b"]",
        headers={**_auth(shared_keys.ingest), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "1048576-byte limit" in response.json()["error"]["message"]


def test_revoked_key_is_refused_at_once(http: httpx.Client, shared_server: TollgateServer) -> None:
    from tollgate.control.api_keys import Scope

    store = shared_server.key_store()
    created = store.create("short-lived", [Scope.INGEST])
    assert http.post("/v1/events", json=_event(), headers=_auth(created.token)).status_code == 200
    store.revoke(created.key.key_id)
    response = http.post("/v1/events", json=_event(), headers=_auth(created.token))
    assert response.status_code == 401


def test_operations_endpoints(http: httpx.Client, shared_keys: ServerKeys) -> None:
    http.post("/v1/events", json=_event(), headers=_auth(shared_keys.ingest))
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    metrics = http.get("/metrics").text
    for name in (
        "tollgate_events_accepted_total",
        "tollgate_events_duplicate_total",
        "tollgate_events_rejected_total",
        "tollgate_wal_bytes",
        "tollgate_wal_flush_seconds_bucket",
    ):
        assert name in metrics
    spec = http.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"]
    assert http.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"event_id": ', "application/json", 400, "malformed_json"),
        (b'[{"event_id": "\xff\xfe"}]', "application/json", 400, "invalid_utf8"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "nesting_too_deep"),
        (b"[]", "application/json", 400, "empty_batch"),
        (b"42", "application/json", 400, "invalid_top_level"),
        (b"{}", "text/plain", 415, "unsupported_media_type"),
        (b"{}", "application/json; charset=latin-1", 415, "unsupported_charset"),
        (b"", "application/json", 400, "malformed_json"),
    ],
)
def test_unusable_requests_get_a_4xx_that_names_the_problem(
    http: httpx.Client,
    shared_keys: ServerKeys,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = http.post(
        "/v1/events",
        content=body,
        headers={**_auth(shared_keys.ingest), "Content-Type": content_type},
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["hint"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_event(quantity="NaN"), "quantity"),
        (_event(quantity="Infinity"), "quantity"),
        (_event(quantity="1e18"), "quantity"),
        (_event(quantity=True), "quantity"),
        (_event(quantity="0.0000000001"), "quantity"),
        (_event(customer_id=17), "customer_id"),
        (_event(colour="blue"), "colour"),
        (_event(properties={"model": {"nested": "x"}}), "properties.model"),
        (_event(timestamp="2026-01-01T00:00:00"), "timestamp"),
        (_event(timestamp="2001-01-01T00:00:00Z"), "timestamp"),
    ],
)
def test_invalid_events_are_rejected_by_field(
    http: httpx.Client, shared_keys: ServerKeys, event: dict[str, object], field: str
) -> None:
    response = http.post("/v1/events", json=[event, _event()], headers=_auth(shared_keys.ingest))
    assert response.status_code == 207, response.text
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 0
    assert rejection["field"] == field
    assert rejection["reason"]

"""The billing API over real HTTP: a `tollgate serve` process on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import TollgateServer, wait_until
from tollgate.billing.catalogue import default_catalogue
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService

pytestmark = pytest.mark.slow


@dataclass
class Keys:
    alice: str
    bob: str
    admin: str
    ingest: str


@pytest.fixture
def served(tmp_path: Path, control_url: str) -> Iterator[tuple[TollgateServer, Keys]]:
    engine = open_control_database(control_url)
    control = ControlService(engine, default_catalogue(), actor="tests")
    store = KeyStore(engine, actor="tests")
    for customer in ("alice", "bob"):
        control.create_customer(customer, name=customer.title())
    keys = Keys(
        alice=store.create("alice", [Scope.READ], customer_id="alice").token,
        bob=store.create("bob", [Scope.READ], customer_id="bob").token,
        admin=store.create("admin", [Scope.ADMIN]).token,
        ingest=store.create("ingest", [Scope.INGEST]).token,
    )
    server = TollgateServer(data_dir=tmp_path / "data", env={"TOLLGATE_CONTROL_URL": control_url})
    server.data_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server, keys
    finally:
        server.stop()
        engine.dispose()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_customer_manages_its_own_billing_and_nothing_else(
    served: tuple[TollgateServer, Keys],
) -> None:
    server, keys = served
    with httpx.Client(base_url=f"{server.url}/api/billing", timeout=10) as http:
        created = http.post("/subscription", json={"plan": "starter"}, headers=_auth(keys.alice))
        assert created.status_code == 201, created.text
        subscription_id = created.json()["subscription"]["id"]
        summary = http.get("/summary", headers=_auth(keys.alice)).json()
        assert summary["plan"]["name"] == "starter"
        assert summary["cost"]["so_far"]["amount"] == 2900

        # Usage through the ingest API is counted against the limits at once.
        event = {
            "event_id": "e1",
            "customer_id": "alice",
            "event_type": "api_call",
            "feature": "notes.list",
            "quantity": "12500",
            "unit": "call",
        }
        ingested = httpx.post(f"{server.url}/v1/events", json=event, headers=_auth(keys.ingest))
        assert ingested.status_code == 200, ingested.text
        limits = http.get("/limits", headers=_auth(keys.alice)).json()["limits"]
        calls = next(limit for limit in limits if limit["feature"] == "api_calls")
        assert (calls["used"], calls["status"]) == ("12500", "exceeded")

        # bob can neither read nor change alice's billing.
        bob = _auth(keys.bob)
        assert http.get("/summary", params={"customer_id": "alice"}, headers=bob).status_code == 403
        changed = http.put(f"/subscription/{subscription_id}", json={"plan": "free"}, headers=bob)
        assert changed.status_code == 404
        assert http.delete(f"/subscription/{subscription_id}", headers=bob).status_code == 404
        assert http.get("/summary").status_code == 401

        # An operator raises alice's limit; the server applies it to the next question.
        raised = http.put(
            "/admin/limits",
            params={"customer_id": "alice"},
            json={"limits": {"api_calls": {"value": "20000"}}},
            headers=_auth(keys.admin),
        )
        assert raised.status_code == 200
        assert (
            http.put("/admin/limits", json={"limits": {}}, headers=_auth(keys.alice)).status_code
            == 403
        )

        def raised_limit() -> bool:
            limits = http.get("/limits", headers=_auth(keys.alice)).json()["limits"]
            calls = next(limit for limit in limits if limit["feature"] == "api_calls")
            return bool(calls["limit"] == "20000" and calls["status"] == "ok")

        wait_until(raised_limit, timeout=10, what="the new limit")
        # alice's usage shows up by day once the server has written it to Parquet.
        wait_until(
            lambda: http.get("/usage", headers=_auth(keys.alice)).json()["days"],
            timeout=30,
            what="usage on disk",
        )


def test_the_openapi_document_describes_the_billing_api(
    served: tuple[TollgateServer, Keys],
) -> None:
    server, _ = served
    document = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    assert "/api/billing/summary" in document["paths"]
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"

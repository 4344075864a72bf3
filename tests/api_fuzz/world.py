"""A real `tollgate serve` over a billed history, for fuzzing the whole HTTP API.

Customers on several plans (one past its first cycle, so the pipeline finalizes an invoice),
events published with the ingest API's own Parquet writer, one real pipeline run (cycle close)
so the billing API has marts to read, then the real server on 127.0.0.1 and a few events posted
through it, so live usage, event statuses and limits all have something to say.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from ingest_api.settings import IngestSettings
from ingest_api.storage.compactor import publish_events
from ingest_api.storage.rows import EVENTS_SCHEMA
from pipelines.runner import run_pipeline
from tests.support.server import TollgateServer
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService

# customer -> plan (None: a customer with no subscription)
CUSTOMERS: dict[str, str | None] = {
    "cus_acme": "professional",
    "cus_free": "free",
    "cus_pp": "pay_per_use",
    "cus_big": "enterprise",
    "cus_starter": "starter",
    "cus_none": None,
}
OWN_KEY_CUSTOMER = "cus_acme"
_UNITS = {"api_call": "call", "ai_tokens": "token", "storage": "GB"}


@dataclass(frozen=True)
class FuzzWorld:
    server: TollgateServer
    admin_key: str
    ingest_key: str
    customer_key: str  # OWN_KEY_CUSTOMER's own key (read scope)
    subscription_ids: dict[str, str]  # by customer
    invoice_ids: list[str]
    notification_ids: list[str]
    event_ids: list[str]

    @property
    def openapi_url(self) -> str:
        return f"{self.server.url}/openapi.json"


def _published_history(settings: IngestSettings, start: datetime, now: datetime) -> None:
    """Events of the closed first cycle and of the current one, as the compactor writes them."""
    events = [
        ("cus_acme", "ai_tokens", 600_000, start + timedelta(days=1), {"model": "gpt-4o-mini"}),
        ("cus_acme", "api_call", 51_000, start + timedelta(days=2), {}),
        ("cus_starter", "storage", "12.5", start + timedelta(days=3), {}),
        ("cus_pp", "ai_tokens", 2_000, start + timedelta(days=5), {"model": "llama-3-70b"}),
        ("cus_acme", "api_call", 40_000, now - timedelta(days=3), {}),
        ("cus_free", "api_call", 700, now - timedelta(days=2), {}),
        ("cus_pp", "ai_tokens", 1_500, now - timedelta(days=2), {"model": "gpt-4o-mini"}),
        ("cus_big", "ai_tokens", 9_000_000, now - timedelta(days=1), {}),
    ]
    rows: dict[str, list[Any]] = {name: [] for name in EVENTS_SCHEMA.names}
    for index, (customer, event_type, quantity, at, properties) in enumerate(events):
        rows["event_id"].append(f"hist-{index}")
        rows["customer_id"].append(customer)
        rows["event_type"].append(event_type)
        rows["feature"].append("fuzz")
        rows["quantity"].append(Decimal(str(quantity)))
        rows["unit"].append(_UNITS[event_type])
        rows["timestamp"].append(at)
        rows["received_at"].append(min(at + timedelta(minutes=5), now - timedelta(hours=2)))
        rows["properties"].append(list(properties.items()))
        rows["source"].append("fuzz")
    publish_events(pa.Table.from_pydict(rows, schema=EVENTS_SCHEMA), settings.events_dir, 1)


def _post_live_events(url: str, key: str, now: datetime) -> list[str]:
    events = [
        {
            "event_id": f"live-{uuid.uuid4().hex[:12]}",
            "customer_id": customer,
            "event_type": event_type,
            "feature": "fuzz",
            "quantity": quantity,
            "unit": _UNITS[event_type],
            "timestamp": (now - timedelta(minutes=10)).isoformat(),
            "properties": {"model": "gpt-4o-mini"} if event_type == "ai_tokens" else {},
        }
        for customer, event_type, quantity in (
            ("cus_acme", "api_call", "250"),
            ("cus_acme", "ai_tokens", "1200"),
            ("cus_free", "api_call", "100"),
            ("cus_starter", "storage", "0.75"),
            ("cus_pp", "ai_tokens", "42"),
        )
    ]
    response = httpx.post(
        f"{url}/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [str(event["event_id"]) for event in events]


def _listed_ids(url: str, key: str, path: str, field: str) -> list[str]:
    """The ids a billing API list operation returns for each customer (none if it fails:
    the fuzz test itself reports a failing operation)."""
    found: list[str] = []
    for customer in CUSTOMERS:
        response = httpx.get(
            f"{url}/api/billing/{path}",
            params={"customer_id": customer},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if response.status_code == 200:
            found.extend(str(item["id"]) for item in response.json().get(field, []))
    return found


@contextmanager
def running_world(data_dir: Path) -> Iterator[FuzzWorld]:
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=40)).replace(hour=0, minute=0, second=0)
    settings = IngestSettings(data_dir=data_dir)
    engine = open_control_database(settings.control_database_url)
    try:
        control = ControlService(engine, settings.catalogue(), actor="tests", clock=lambda: start)
        subscription_ids = {}
        for customer, plan in CUSTOMERS.items():
            control.create_customer(customer, name=customer.removeprefix("cus_").title())
            if plan is not None:
                subscription_ids[customer] = control.subscribe(customer, plan, at=start).id
        _published_history(settings, start, now)
        run_pipeline(settings, now - timedelta(hours=1), close=True)
        keys = KeyStore(engine, actor="tests")
        admin = keys.create("fuzz-admin", [Scope.ADMIN]).token
        ingest = keys.create("fuzz-ingest", [Scope.INGEST]).token
        own = keys.create("fuzz-own", [Scope.READ], customer_id=OWN_KEY_CUSTOMER).token
    finally:
        engine.dispose()
    # A webhook secret, so that POST /webhooks/stripe is fuzzed past its 503 (not configured).
    server = TollgateServer(data_dir=data_dir, env={"STRIPE_WEBHOOK_SECRET": "whsec_fuzz"})
    server.start()
    try:
        event_ids = _post_live_events(server.url, ingest, now)
        yield FuzzWorld(
            server=server,
            admin_key=admin,
            ingest_key=ingest,
            customer_key=own,
            subscription_ids=subscription_ids,
            invoice_ids=_listed_ids(server.url, admin, "invoices", "invoices"),
            notification_ids=_listed_ids(server.url, admin, "notifications", "notifications"),
            event_ids=event_ids,
        )
    finally:
        server.stop()

"""A running billing API over a billed history, for the billing API's tests.

One ``World`` per control-plane backend: a control database with customers, events published
by the ingest API's own Parquet writer, one real pipeline run (Dagster + dbt) that finalizes
the previous cycle's invoices and drafts the current one, and then the app itself (its
lifespan running, so the limit engine starts from that publication). Times are relative to
the real clock, because the limit engine runs on it.

Tests that change anything use customers of their own (``World.tenant``); the billed
customers below are only read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import pyarrow as pa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ingest_api.app import create_app
from ingest_api.billing.auth import Clock, get_clock
from ingest_api.settings import IngestSettings
from ingest_api.storage.compactor import publish_events
from ingest_api.storage.rows import EVENTS_SCHEMA
from pipelines.runner import run_pipeline
from tests.support.server import wait_until
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.settings import TollgateSettings

_UNITS = {"api_call": "call", "ai_tokens": "token", "storage": "GB"}


@dataclass(frozen=True)
class Event:
    customer_id: str
    event_type: str
    quantity: int | str
    at: datetime
    properties: dict[str, str] = field(default_factory=dict)
    event_id: str | None = None  # default: unique to its part


@dataclass(frozen=True)
class Tenant:
    id: str
    key: str  # the customer's own key (token)
    subscription_id: str | None


@dataclass
class World:
    backend: str
    data_dir: Path
    settings: IngestSettings
    engine: Engine
    client: TestClient
    admin_key: str
    ingest_key: str
    read_key: str
    now: datetime  # the session's start: billed history is relative to it
    first_cycle_start: datetime
    tenants: dict[str, Tenant]  # the billed customers, by id

    def control(self, clock: Clock | None = None) -> ControlService:
        catalogue = self.settings.catalogue()
        if clock is None:
            return ControlService(self.engine, catalogue, actor="tests")
        return ControlService(self.engine, catalogue, actor="tests", clock=clock)

    def tenant(
        self, plan: str | None = "starter", *, at: datetime | None = None, currency: str = "usd"
    ) -> Tenant:
        """A new customer of its own, with its own key and (unless plan is None) a plan."""
        customer_id = f"cus_{uuid.uuid4().hex[:10]}"
        control = self.control()
        control.create_customer(customer_id, name="Test customer", currency=currency)
        subscription = None
        if plan is not None:
            subscription = control.subscribe(
                customer_id, plan, at=at or self.now - timedelta(days=3)
            )
        key = KeyStore(self.engine, actor="tests").create(
            f"key-{customer_id}", [Scope.READ], customer_id=customer_id
        )
        # A server on PostgreSQL learns of new keys within a second (KeyStore.version).
        wait_until(
            lambda: self.request("GET", "/plans", key.token).status_code == 200,
            timeout=5,
            what="the new key to be known",
        )
        return Tenant(customer_id, key.token, subscription.id if subscription else None)

    def request(
        self,
        method: str,
        path: str,
        key: str | None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        response: httpx.Response = self.client.request(
            method, f"/api/billing{path}", json=json, params=params, headers=sent
        )
        return response

    def as_admin(
        self, method: str, path: str, customer_id: str, *, json: Any = None, **params: Any
    ) -> httpx.Response:
        return self.request(
            method, path, self.admin_key, json=json, params={"customer_id": customer_id, **params}
        )

    def ingest(self, events: list[dict[str, Any]]) -> httpx.Response:
        response: httpx.Response = self.client.post(
            "/v1/events", json=events, headers={"Authorization": f"Bearer {self.ingest_key}"}
        )
        return response

    @contextmanager
    def clock(self, moment: datetime) -> Iterator[None]:
        """Control-plane changes made through the API happen at ``moment`` meanwhile."""
        app = self.client.app
        assert hasattr(app, "dependency_overrides")
        app.dependency_overrides[get_clock] = lambda: lambda: moment
        try:
            yield
        finally:
            app.dependency_overrides.pop(get_clock, None)


def publish(
    settings: TollgateSettings, seq: int, events: list[Event], received_at: datetime
) -> None:
    """One compactor flush, with the ingest API's own writer."""
    rows: dict[str, list[Any]] = {name: [] for name in EVENTS_SCHEMA.names}
    for index, event in enumerate(events):
        rows["event_id"].append(event.event_id or f"evt-{seq}-{index}")
        rows["customer_id"].append(event.customer_id)
        rows["event_type"].append(event.event_type)
        rows["feature"].append("tests")
        rows["quantity"].append(Decimal(str(event.quantity)))
        rows["unit"].append(_UNITS[event.event_type])
        rows["timestamp"].append(event.at)
        rows["received_at"].append(received_at)
        rows["properties"].append(list(event.properties.items()))
        rows["source"].append("tests")
    publish_events(pa.Table.from_pydict(rows, schema=EVENTS_SCHEMA), settings.events_dir, seq)


BILLED = {"acme": "professional", "pp": "pay_per_use", "dana": "professional", "nell": "free"}


def _billed_history(world_settings: IngestSettings, engine: Engine, now: datetime) -> datetime:
    """The customers of ``BILLED``, subscribed 40 days ago: their first cycle has ended and is
    finalized by the pipeline run, the second is the current one, drafted. Returns the first
    cycle's start."""
    start = (now - timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    control = ControlService(engine, world_settings.catalogue(), actor="tests", clock=lambda: start)
    for customer, plan in BILLED.items():
        control.create_customer(customer, name=customer.title())
        control.subscribe(customer, plan, at=start)
    first = [
        # acme, first cycle: 600,000 tokens (100,000 above the 500,000 included) and 51,000
        # calls (1,000 above 50,000): 10,000 + 6 cents of usage on 7,900.
        Event("acme", "ai_tokens", 300_000, start + timedelta(days=1)),
        Event("acme", "ai_tokens", 300_000, start + timedelta(days=2)),
        Event("acme", "api_call", 51_000, start + timedelta(days=2, hours=1)),
    ]
    publish(world_settings, 1, first, start + timedelta(days=2, hours=2))
    current = [
        # second cycle, three days ago
        Event("acme", "api_call", 40_000, now - timedelta(days=3)),
        Event("pp", "ai_tokens", 1_000, now - timedelta(days=3), {"model": "llama-3-70b"}),
        Event("pp", "ai_tokens", 2_000, now - timedelta(days=3), {"model": "gpt-4o-mini"}),
        Event("pp", "ai_tokens", 500, now - timedelta(days=2), {"model": "gpt-4o-mini"}),
        Event("dana", "ai_tokens", 450_000, now - timedelta(days=3)),
        Event("dana", "api_call", 10_000, now - timedelta(days=3)),
        # 80 % of the free plan's 1,000 calls: a limit_warning notice
        Event("nell", "api_call", 800, now - timedelta(days=2)),
    ]
    publish(world_settings, 2, current, now - timedelta(hours=2))
    return start


@contextmanager
def running_world(
    backend: str, control_url: str, data_dir: Path, *, billed: bool = True
) -> Iterator[World]:
    """The app over ``BILLED``'s history (``billed``), or over nothing at all: no customers,
    no events, nothing published."""
    now = datetime.now(UTC).replace(microsecond=0)
    settings = IngestSettings(
        data_dir=data_dir,
        control_url=control_url,
        plans_file=None,
        warehouse=data_dir / "warehouse.duckdb",
        wal_segment_max_age=timedelta(seconds=1),
    )
    engine = open_control_database(control_url)
    first_cycle_start = now
    if billed:
        first_cycle_start = _billed_history(settings, engine, now)
        run_pipeline(settings, now - timedelta(hours=1), close=True)
    keys = KeyStore(engine, actor="tests")
    admin = keys.create("tests-admin", [Scope.ADMIN]).token
    ingest = keys.create("tests-ingest", [Scope.INGEST]).token
    read = keys.create("tests-read", [Scope.READ]).token
    tenants = {
        customer: Tenant(
            customer,
            keys.create(f"key-{customer}", [Scope.READ], customer_id=customer).token,
            ControlService(engine, settings.catalogue(), actor="tests")
            .list_subscriptions(customer)[0]
            .id,
        )
        for customer in (BILLED if billed else {})
    }
    # Delivery has tests of its own (tests/delivery/); here it would only race them for rows.
    with patch.dict(os.environ, {"TOLLGATE_DELIVERY_ENABLED": "false"}):
        app = create_app(settings)
    with TestClient(app) as client:
        yield World(
            backend,
            data_dir,
            settings,
            engine,
            client,
            admin,
            ingest,
            read,
            now,
            first_cycle_start,
            tenants,
        )
    engine.dispose()

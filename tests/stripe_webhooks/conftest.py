"""A running app with a webhook secret, on SQLite and PostgreSQL, and Stripe events to send it.

Events are built in the shape Stripe's API 2026-10-28 sends (``invoice.parent.
subscription_details``, billing periods on subscription items) and signed as Stripe signs them
(``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``, the SDK's own ``generate_signature_header``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ingest_api.app import create_asgi
from ingest_api.settings import IngestSettings
from tests.control.conftest import _postgres_url
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.models import Subscription
from tollgate.control.service import ControlService

SECRET = "whsec_test_3f9a0c1d2e4b5a6978"
Json = dict[str, Any]


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _tollgate_metadata(tollgate_subscription: str | None) -> dict[str, str]:
    """What Tollgate puts on the Stripe subscriptions it creates."""
    if tollgate_subscription is None:
        return {}
    return {"tollgate_subscription_id": tollgate_subscription}


def event(kind: str, obj: Json, created: datetime, event_id: str | None = None) -> Json:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": unix(created),
        "data": {"object": obj, "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{uuid.uuid4().hex[:14]}", "idempotency_key": None},
        "type": kind,
    }


def invoice(
    invoice_id: str,
    stripe_customer: str,
    *,
    period: tuple[datetime, datetime],
    amount_due: int = 7900,
    paid: bool,
    stripe_subscription: str = "sub_1StripeAbc",
    tollgate_subscription: str | None = None,
) -> Json:
    metadata = _tollgate_metadata(tollgate_subscription)
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount_due,
        "amount_paid": amount_due if paid else 0,
        "amount_remaining": 0 if paid else amount_due,
        "attempt_count": 1,
        "attempted": True,
        "auto_advance": not paid,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": unix(period[1]),
        "currency": "usd",
        "customer": stripe_customer,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": f"il_{uuid.uuid4().hex[:24]}",
                    "object": "line_item",
                    "amount": amount_due,
                    "currency": "usd",
                    "period": {"start": unix(period[0]), "end": unix(period[1])},
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {"subscription": stripe_subscription},
                    },
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "next_payment_attempt": None if paid else unix(period[1] + timedelta(days=3)),
        "number": "TG1A2B3C-0007",
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": metadata,
                "subscription": stripe_subscription,
            },
        },
        "period_end": unix(period[1]),
        "period_start": unix(period[0]),
        "status": "paid" if paid else "open",
        "total": amount_due,
    }


def subscription(
    stripe_subscription: str,
    stripe_customer: str,
    *,
    plan: str,
    status: str = "active",
    period: tuple[datetime, datetime],
    tollgate_subscription: str | None = None,
    cancel_at_period_end: bool = False,
    ended_at: datetime | None = None,
) -> Json:
    def item(price: Json) -> Json:
        return {
            "id": f"si_{uuid.uuid4().hex[:14]}",
            "object": "subscription_item",
            "current_period_start": unix(period[0]),
            "current_period_end": unix(period[1]),
            "price": price,
            "quantity": 1 if price["recurring"]["usage_type"] == "licensed" else None,
            "subscription": stripe_subscription,
        }

    base = {
        "id": f"price_{uuid.uuid4().hex[:14]}",
        "object": "price",
        "currency": "usd",
        "lookup_key": f"tollgate:{plan}:base",
        "metadata": {"tollgate_plan": plan},
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "unit_amount": 7900,
    }
    metered = {
        "id": f"price_{uuid.uuid4().hex[:14]}",
        "object": "price",
        "currency": "usd",
        "lookup_key": f"tollgate:{plan}:api_calls",
        "metadata": {"tollgate_plan": plan, "tollgate_feature": "api_calls"},
        "recurring": {
            "interval": "month",
            "interval_count": 1,
            "meter": "mtr_api_calls",
            "usage_type": "metered",
        },
        "unit_amount": None,
    }
    metadata = _tollgate_metadata(tollgate_subscription)
    return {
        "id": stripe_subscription,
        "object": "subscription",
        "billing_cycle_anchor": unix(period[0]),
        "cancel_at": unix(period[1]) if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": unix(ended_at) if ended_at else None,
        "collection_method": "charge_automatically",
        "created": unix(period[0]),
        "currency": "usd",
        "customer": stripe_customer,
        "ended_at": unix(ended_at) if ended_at else None,
        "items": {
            "object": "list",
            "data": [item(metered), item(base)],
            "has_more": False,
            "total_count": 2,
            "url": f"/v1/subscription_items?subscription={stripe_subscription}",
        },
        "livemode": False,
        "metadata": metadata,
        "start_date": unix(period[0]),
        "status": status,
    }


@dataclass
class StripeApp:
    settings: IngestSettings
    engine: Engine
    control: ControlService
    http: TestClient

    def send(
        self,
        payload: Json,
        *,
        secret: str = SECRET,
        signed_at: datetime | None = None,
        body: str | None = None,
    ) -> httpx.Response:
        """POSTs the event signed with ``secret`` at ``signed_at`` (default now); ``body``
        replaces what is sent after signing (an altered body)."""
        text = json.dumps(payload)
        timestamp = unix(signed_at or datetime.now(UTC))
        header = stripe.WebhookSignature.generate_signature_header(text, secret, timestamp)
        return self.post(body if body is not None else text, header)

    def post(self, body: str | bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        response: httpx.Response = self.http.post("/webhooks/stripe", content=body, headers=headers)
        return response

    def customer(self, customer_id: str, stripe_id: str, plan: str | None) -> Subscription | None:
        self.control.create_customer(customer_id, name=customer_id.title())
        self.control.update_customer(customer_id, stripe_customer_id=stripe_id)
        if plan is None:
            return None
        started = datetime.now(UTC) - timedelta(days=10)
        return self.control.subscribe(customer_id, plan, at=started)

    def notifications(self, customer_id: str) -> list[Json]:
        token = (
            KeyStore(self.engine)
            .create(f"web-{uuid.uuid4().hex[:6]}", [Scope.READ], customer_id=customer_id)
            .token
        )
        response = self.http.get(
            "/api/billing/notifications",
            params={"include_read": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        notices: list[Json] = response.json()["notifications"]
        return notices


def _running(settings: IngestSettings) -> Iterator[StripeApp]:
    engine = open_control_database(settings.control_database_url)
    control = ControlService(engine, settings.catalogue(), actor="tests")
    with TestClient(create_asgi(settings)) as client:
        yield StripeApp(settings, engine, control, client)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A control database on each backend (tests/control/conftest.py says where PostgreSQL
    comes from)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'control.sqlite'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def app(tmp_path: Path, backend_url: str) -> Iterator[StripeApp]:
    settings = IngestSettings(
        data_dir=tmp_path / "data", control_url=backend_url, stripe_webhook_secret=SECRET
    )
    yield from _running(settings)


@pytest.fixture
def unconfigured_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeApp]:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    yield from _running(IngestSettings(data_dir=tmp_path / "data"))

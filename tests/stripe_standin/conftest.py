"""A fresh stand-in per test, an SDK client aimed at it, and a local webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from tollgate.stripe_standin import StripeStandin

# 2026-01-01T00:00:00Z: the pinned clock makes periods and proration exact.
T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
FEB_1 = int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())
MAR_1 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(now=T0) as running:
        yield running


@pytest.fixture
def client(standin: StripeStandin) -> stripe.StripeClient:
    return standin.client()


@dataclass
class Received:
    body: str
    signature: str


@dataclass
class Receiver:
    """Collects webhook deliveries; answers 500 to the first ``fail_first`` of them."""

    url: str = ""
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with state.lock:
                state.received.append(Received(body, self.headers["Stripe-Signature"]))
                failing = len(state.received) <= state.fail_first
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def make_customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create(params={"name": "Ada"}).id


def make_meter(client: stripe.StripeClient, event_name: str, formula: str = "sum") -> str:
    meter = client.v1.billing.meters.create(
        params={
            "display_name": event_name,
            "event_name": event_name,
            "default_aggregation": {"formula": formula},
            "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
            "value_settings": {"event_payload_key": "value"},
        }
    )
    return meter.id


def send_usage(
    client: stripe.StripeClient,
    event_name: str,
    customer: str,
    value: int | str,
    *,
    timestamp: int | None = None,
    identifier: str | None = None,
) -> stripe.billing.MeterEvent:
    params: dict[str, object] = {
        "event_name": event_name,
        "payload": {"stripe_customer_id": customer, "value": str(value)},
    }
    if timestamp is not None:
        params["timestamp"] = timestamp
    if identifier is not None:
        params["identifier"] = identifier
    return client.v1.billing.meter_events.create(params=params)  # type: ignore[arg-type]


def licensed_price(client: stripe.StripeClient, amount: int) -> str:
    """A monthly licensed price of ``amount`` cents on a product of its own."""
    product = client.v1.products.create(params={"name": f"Plan {amount}"}).id
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product,
            "unit_amount": amount,
            "recurring": {"interval": "month"},
        }
    ).id


def subscribe(client: stripe.StripeClient, amount: int, quantity: int = 1) -> stripe.Subscription:
    """A new customer subscribed to ``quantity`` of a new ``amount``-cent monthly price."""
    return client.v1.subscriptions.create(
        params={
            "customer": make_customer(client),
            "items": [{"price": licensed_price(client, amount), "quantity": quantity}],
        }
    )

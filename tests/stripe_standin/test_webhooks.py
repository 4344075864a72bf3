"""Webhook endpoints, Stripe's signature scheme, retries and redelivery."""

from __future__ import annotations

import json

import pytest
import stripe

from tests.stripe_standin.conftest import Receiver, subscribe
from tests.support.server import wait_until
from tollgate.stripe_standin import StripeStandin


def _subscribe(client: stripe.StripeClient) -> str:
    return subscribe(client, 900).id


def test_deliveries_verify_with_the_endpoint_secret_only(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["customer.subscription.updated"]}
    )
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    sub = _subscribe(client)
    client.v1.subscriptions.update(sub, params={"metadata": {"plan": "pro"}})
    wait_until(lambda: receiver.received, timeout=10, what="a webhook delivery")
    delivery = receiver.received[0]

    event = stripe.Webhook.construct_event(delivery.body, delivery.signature, endpoint.secret)
    assert event.type == "customer.subscription.updated"
    assert event.data.object["id"] == sub
    assert event.data.object["metadata"]["plan"] == "pro"
    assert event.id.startswith("evt_")
    assert event.api_version == "2026-10-28.endive"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.signature, "whsec_wrong")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body + " ", delivery.signature, endpoint.secret)
    # Only the enabled event type was sent (not customer.subscription.created).
    assert len(receiver.received) == 1


def test_failed_deliveries_are_retried(
    client: stripe.StripeClient, standin: StripeStandin, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    standin.add_webhook_endpoint(receiver.url, ["customer.subscription.created"])
    _subscribe(client)
    # The stand-in records a delivery once the receiver's answer is back: wait for that, not
    # for the receiver to have read the request.
    wait_until(lambda: len(standin.deliveries()) == 3, timeout=10, what="two retries")
    statuses = [d["status"] for d in standin.deliveries()]
    assert statuses == [500, 500, 200]
    ids = {json.loads(r.body)["id"] for r in receiver.received}
    assert len(ids) == 1  # the same event each time


def test_an_event_can_be_redelivered(
    client: stripe.StripeClient, standin: StripeStandin, receiver: Receiver
) -> None:
    endpoint = standin.add_webhook_endpoint(receiver.url, ["customer.subscription.created"])
    _subscribe(client)
    wait_until(lambda: len(receiver.received) == 1, timeout=10, what="the first delivery")
    event_id = json.loads(receiver.received[0].body)["id"]
    standin.redeliver(event_id)
    wait_until(lambda: len(receiver.received) == 2, timeout=10, what="the redelivery")
    second = receiver.received[1]
    again = stripe.Webhook.construct_event(second.body, second.signature, endpoint["secret"])
    assert again.id == event_id


def test_invoice_outcomes_are_delivered(
    client: stripe.StripeClient, standin: StripeStandin, receiver: Receiver
) -> None:
    standin.add_webhook_endpoint(
        receiver.url, ["invoice.payment_succeeded", "invoice.payment_failed"]
    )
    sub = _subscribe(client)
    standin.close_period(sub, "paid")
    standin.close_period(sub, "failed")
    wait_until(lambda: len(receiver.received) == 2, timeout=10, what="two invoice events")
    types = sorted(json.loads(r.body)["type"] for r in receiver.received)
    assert types == ["invoice.payment_failed", "invoice.payment_succeeded"]

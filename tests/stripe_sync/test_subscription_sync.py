"""Stripe's customers and subscriptions follow Tollgate's, and re-running changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.stripe_sync.conftest import World
from tollgate.control.models import When
from tollgate.control.service import ControlService
from tollgate.stripe_sync.price_specs import price_specs
from tollgate.stripe_sync.subscription_sync import SubscriptionSync

STARTED = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def control(world: World) -> ControlService:
    return ControlService(world.engine, world.catalogue, actor="tests", clock=world.now)


def syncer(world: World, control: ControlService) -> SubscriptionSync:
    specs = price_specs(world.catalogue)
    return SubscriptionSync(world.client, control, specs, world.synced.prices, clock=world.now)


def stripe_items(world: World, stripe_customer: str) -> tuple[str, list[str]]:
    (subscription,) = world.client.v1.subscriptions.list({"customer": stripe_customer}).data
    keys = [
        str(world.client.v1.prices.retrieve(item.price.id).lookup_key)
        for item in subscription["items"].data
    ]
    return subscription.id, sorted(keys)


def test_a_subscription_creates_the_customer_once_and_its_stripe_subscription(
    world: World, control: ControlService
) -> None:
    control.create_customer("cus_acme", name="Acme", email="billing@acme.test")
    control.subscribe("cus_acme", "starter", at=STARTED)

    first = syncer(world, control).sync()
    again = syncer(world, control).sync()

    stripe_customer = control.get_customer("cus_acme").stripe_customer_id
    assert stripe_customer is not None
    assert first.customers_created == ["cus_acme"]
    assert again.customers_created == []
    assert len(first.created) == 1
    assert again.created == []
    assert again.unchanged == 1
    customer = world.client.v1.customers.retrieve(stripe_customer)
    assert customer.email == "billing@acme.test"
    _, keys = stripe_items(world, stripe_customer)
    assert keys == [
        "tollgate:starter:ai_tokens",
        "tollgate:starter:api_calls",
        "tollgate:starter:base",
        "tollgate:starter:storage",
    ]
    (subscription,) = world.client.v1.subscriptions.list({"customer": stripe_customer}).data
    # Stripe's period is Tollgate's cycle, so usage is billed in the same period.
    assert subscription["items"].data[0].current_period_end == int(
        datetime(2026, 4, 1, tzinfo=UTC).timestamp()
    )


def test_a_plan_change_moves_the_stripe_subscription_with_prorations(
    world: World, control: ControlService
) -> None:
    control.create_customer("cus_acme", name="Acme")
    subscription = control.subscribe("cus_acme", "starter", at=STARTED)
    syncer(world, control).sync()

    control.change_plan(subscription.id, "professional", when=When.NOW)
    result = syncer(world, control).sync()

    stripe_customer = control.get_customer("cus_acme").stripe_customer_id
    assert stripe_customer is not None
    assert result.plan_changed == [subscription.id]
    stripe_id, keys = stripe_items(world, stripe_customer)
    assert keys == [
        "tollgate:professional:ai_tokens",
        "tollgate:professional:api_calls",
        "tollgate:professional:base",
        "tollgate:professional:storage",
    ]
    preview = world.client.v1.invoices.create_preview({"subscription": stripe_id})
    prorations = [line.amount for line in preview.lines.data if line.amount and line.amount < 0]
    assert prorations, "the unused time on the old base price is credited"
    assert syncer(world, control).sync().unchanged == 1


def test_cancellations_reach_stripe(world: World, control: ControlService) -> None:
    control.create_customer("cus_later", name="Later")
    later = control.subscribe("cus_later", "starter", at=STARTED)
    control.create_customer("cus_now", name="Now")
    now = control.subscribe("cus_now", "professional", at=STARTED)
    syncer(world, control).sync()

    control.cancel(later.id, at_period_end=True)
    control.cancel(now.id, at_period_end=False, at=world.now() + timedelta(seconds=1))
    world.standin.advance(2)
    result = syncer(world, control).sync()

    assert result.cancel_scheduled == [later.id]
    assert result.canceled == [now.id]
    by_customer = {}
    for customer_id in ("cus_later", "cus_now"):
        stripe_customer = control.get_customer(customer_id).stripe_customer_id
        assert stripe_customer is not None
        (found,) = world.client.v1.subscriptions.list(
            {"customer": stripe_customer, "status": "all"}
        ).data
        by_customer[customer_id] = (found.status, found.cancel_at_period_end)
    assert by_customer == {"cus_later": ("active", True), "cus_now": ("canceled", False)}

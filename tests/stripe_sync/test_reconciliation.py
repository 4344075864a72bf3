"""Tollgate's charges for a cycle beside Stripe's preview: equal, or each difference named."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.stripe_sync.conftest import World
from tollgate.billing.pricing import usage_charge
from tollgate.control.service import ControlService
from tollgate.stripe_sync.meter_targets import CycleUsage, meter_amounts, meter_targets
from tollgate.stripe_sync.price_specs import price_specs
from tollgate.stripe_sync.reconciliation import Reconciler
from tollgate.stripe_sync.report_ledger import ReportLedger
from tollgate.stripe_sync.subscription_sync import SubscriptionSync
from tollgate.stripe_sync.usage_push import UsagePusher

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def usage(world: World, plan: str, **quantities: str) -> list[CycleUsage]:
    rows = []
    for feature, quantity in quantities.items():
        amount = usage_charge(world.catalogue.plans[plan], feature, Decimal(quantity)).amount
        rows.append(
            CycleUsage(
                "cus_acme",
                "cus_acme/2026-03-01T00:00:00Z",
                START,
                END,
                plan,
                feature,
                None,
                Decimal(quantity),
                amount,
            )
        )
    return rows


def test_stripe_bills_the_cycles_usage_as_tollgate_does_and_a_gap_is_reported(
    world: World,
) -> None:
    control = ControlService(world.engine, world.catalogue, actor="tests", clock=world.now)
    control.create_customer("cus_acme", name="Acme")
    control.subscribe("cus_acme", "professional", at=START)
    sync = SubscriptionSync(
        world.client, control, price_specs(world.catalogue), world.synced.prices, clock=world.now
    )
    sync.sync()
    stripe_customer = control.get_customer("cus_acme").stripe_customer_id
    assert stripe_customer is not None
    stripe_subscription = sync.find(stripe_customer, control.list_subscriptions()[0].id)
    assert stripe_subscription is not None
    # Graduated tokens, per-unit calls at a sub-cent price, storage per byte.
    rows = usage(world, "professional", ai_tokens="5123457", api_calls="61234", storage="57.25")
    UsagePusher(world.client, ReportLedger(world.engine), clock=world.now).push(
        meter_targets(rows, world.catalogue), {"cus_acme": stripe_customer}
    )
    reconciler = Reconciler(world.client)

    matching = reconciler.compare(
        "cus_acme", stripe_subscription.id, meter_amounts(rows, world.catalogue)
    )
    more = usage(world, "professional", ai_tokens="5200000", api_calls="61234", storage="57.25")
    behind = reconciler.compare(
        "cus_acme", stripe_subscription.id, meter_amounts(more, world.catalogue)
    )

    assert matching == []
    (gap,) = behind
    assert gap.item == "tollgate_ai_tokens"
    assert gap.tollgate_amount > gap.stripe_amount
    assert "Tollgate" in gap.describe()

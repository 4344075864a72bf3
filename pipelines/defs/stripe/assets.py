"""Stripe sync after each usage refresh: catalogue, customers and subscriptions, meter events.

Without ``STRIPE_SECRET_KEY`` each asset materializes as "disabled" and does nothing, so the
pipeline runs the same with or without Stripe.
"""

from datetime import timedelta
from typing import Any

import dagster as dg

from pipelines.defs.billing.settings_resource import TollgateResource
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.stripe_sync.catalogue_sync import CatalogueSync
from tollgate.stripe_sync.client import make_client
from tollgate.stripe_sync.meter_targets import meter_targets
from tollgate.stripe_sync.price_specs import price_specs
from tollgate.stripe_sync.published_usage import cycle_usage
from tollgate.stripe_sync.report_ledger import ReportLedger
from tollgate.stripe_sync.settings import StripeSettings
from tollgate.stripe_sync.subscription_sync import SubscriptionSync
from tollgate.stripe_sync.usage_push import PushResult, Status, UsagePusher

CATALOGUE_KEY = dg.AssetKey(["stripe", "catalogue"])
SUBSCRIPTIONS_KEY = dg.AssetKey(["stripe", "subscriptions"])
METER_EVENTS_KEY = dg.AssetKey(["stripe", "meter_events"])
DISABLED = {"stripe": dg.MetadataValue.text("disabled: STRIPE_SECRET_KEY is not set")}


@dg.asset(
    key=CATALOGUE_KEY,
    group_name="stripe",
    kinds={"stripe"},
    pool="stripe",  # one Stripe sync at a time: the meter ledger assumes a single pusher
    description="A Stripe product per plan, a meter per billable feature, prices mirroring "
    "the catalogue (found again by id, event name and lookup key: re-runs create nothing).",
)
def stripe_catalogue(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    stripe_settings = StripeSettings()
    client = make_client(stripe_settings)
    if client is None:
        return dg.MaterializeResult(metadata=DISABLED)
    result = CatalogueSync(client, attempts=stripe_settings.max_attempts).sync(
        tollgate.settings().catalogue()
    )
    context.log.info("catalogue sync: created %s, updated %s", result.created, result.updated)
    return dg.MaterializeResult(
        metadata={
            "created": dg.MetadataValue.json(result.created),
            "updated": dg.MetadataValue.json(result.updated),
            "archived_prices": dg.MetadataValue.json(result.archived),
            "unchanged": result.unchanged,
        }
    )


@dg.asset(
    key=SUBSCRIPTIONS_KEY,
    deps=[CATALOGUE_KEY, dg.AssetKey(["control", "subscriptions"])],
    group_name="stripe",
    kinds={"stripe"},
    pool="stripe",  # one Stripe sync at a time: the meter ledger assumes a single pusher
    description="Stripe customers (created once) and subscriptions that follow Tollgate's: "
    "created, moved to a new plan with create_prorations, canceled now or at period end.",
)
def stripe_subscriptions(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    stripe_settings = StripeSettings()
    client = make_client(stripe_settings)
    if client is None:
        return dg.MaterializeResult(metadata=DISABLED)
    settings = tollgate.settings()
    catalogue = settings.catalogue()
    engine = open_control_database(settings.control_database_url)
    try:
        control = ControlService(engine, catalogue, actor="stripe-sync")
        prices = CatalogueSync(client, attempts=stripe_settings.max_attempts).sync(catalogue)
        result = SubscriptionSync(
            client,
            control,
            price_specs(catalogue),
            prices.prices,
            attempts=stripe_settings.max_attempts,
        ).sync()
    finally:
        engine.dispose()
    context.log.info("subscription sync: %s", result)
    return dg.MaterializeResult(
        metadata={
            "customers_created": len(result.customers_created),
            "created": dg.MetadataValue.json(result.created),
            "plan_changed": dg.MetadataValue.json(result.plan_changed),
            "cancel_scheduled": dg.MetadataValue.json(result.cancel_scheduled),
            "canceled": dg.MetadataValue.json(result.canceled),
            "failed": dg.MetadataValue.json(result.failed),
            "unchanged": result.unchanged,
        }
    )


@dg.asset(
    key=METER_EVENTS_KEY,
    deps=[SUBSCRIPTIONS_KEY, dg.AssetKey(["billing", "published_marts"])],
    check_specs=[
        dg.AssetCheckSpec(
            "all_usage_delivered",
            asset=METER_EVENTS_KEY,
            description="Every meter Stripe should hold was sent and accepted (none failed, "
            "none for a customer not yet in Stripe, none over-reported).",
        ),
        dg.AssetCheckSpec(
            "no_late_usage",
            asset=METER_EVENTS_KEY,
            description="No usage is too old for Stripe (cycle ended over 35 days ago); "
            "late usage is listed here, and billed by Tollgate's own invoice.",
        ),
    ],
    group_name="stripe",
    kinds={"stripe"},
    pool="stripe",  # one Stripe sync at a time: the meter ledger assumes a single pusher
    description="Each customer's billable usage per cycle and meter, sent to Stripe as meter "
    "events exactly once (deterministic identifiers and a ledger of what Stripe accepted); "
    "usage Stripe would refuse as too old is listed, never dropped silently.",
)
def stripe_meter_events(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    stripe_settings = StripeSettings()
    client = make_client(stripe_settings)
    if client is None:
        return dg.MaterializeResult(
            metadata=DISABLED,
            check_results=[
                dg.AssetCheckResult(check_name=name, passed=True, metadata=DISABLED)
                for name in ("all_usage_delivered", "no_late_usage")
            ],
        )
    settings = tollgate.settings()
    catalogue = settings.catalogue()
    engine = open_control_database(settings.control_database_url)
    try:
        control = ControlService(engine, catalogue, actor="stripe-sync")
        stripe_customers = {
            c.id: c.stripe_customer_id for c in control.list_customers() if c.stripe_customer_id
        }
        targets = meter_targets(cycle_usage(settings.marts_dir), catalogue)
        result = UsagePusher(
            client,
            ReportLedger(engine),
            attempts=stripe_settings.max_attempts,
            finalization_grace=timedelta(seconds=settings.finalization_grace_seconds),
        ).push(targets, stripe_customers)
    finally:
        engine.dispose()
    for outcome in result.of("late"):
        context.log.warning("late usage not sent to Stripe: %s", outcome)
    metadata = push_metadata(result)
    undelivered = [
        *result.of("failed"),
        *result.of("no_stripe_customer"),
        *result.of("over_reported"),
        *result.of("stale_pending"),
    ]
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="all_usage_delivered",
                passed=not undelivered,
                metadata={
                    key: metadata[key]
                    for key in ("failed", "no_stripe_customer", "over_reported", "stale_pending")
                },
            ),
            dg.AssetCheckResult(
                check_name="no_late_usage",
                passed=not result.of("late"),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"late": metadata["late"]},
            ),
        ],
    )


def push_metadata(result: PushResult) -> dict[str, Any]:
    def rows(status: Status) -> Any:
        return dg.MetadataValue.json(
            [
                {
                    "customer_id": o.customer_id,
                    "cycle_id": o.cycle_id,
                    "meter": o.event_name,
                    "quantity": str(o.quantity),
                    "detail": o.detail,
                }
                for o in result.of(status)
            ]
        )

    return {
        "summary": dg.MetadataValue.json(result.summary()),
        "late": rows("late"),
        "failed": rows("failed"),
        "over_reported": rows("over_reported"),
        "no_stripe_customer": rows("no_stripe_customer"),
        "stale_pending": rows("stale_pending"),
        "sent_events": len(result.of("sent")) + len(result.of("resent")),
    }

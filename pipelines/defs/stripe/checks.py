"""Reconciliation: Tollgate's invoice for the current cycle against Stripe's preview of it."""

from datetime import UTC, datetime

import dagster as dg

from pipelines.defs.billing.settings_resource import TollgateResource
from pipelines.defs.stripe.assets import METER_EVENTS_KEY
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.stripe_sync.client import make_client
from tollgate.stripe_sync.published_usage import cycle_usage
from tollgate.stripe_sync.reconciliation import reconcile_current_cycles
from tollgate.stripe_sync.settings import StripeSettings


@dg.asset_check(
    asset=METER_EVENTS_KEY,
    name="stripe_invoices_match_tollgate",
    description="Per customer, the current cycle's usage charges on Tollgate's draft invoice "
    "equal those on Stripe's invoice preview (invoices.create_preview); every difference is "
    "listed with both amounts.",
)
def stripe_invoices_match_tollgate(tollgate: TollgateResource) -> dg.AssetCheckResult:
    stripe_settings = StripeSettings()
    client = make_client(stripe_settings)
    if client is None:
        return dg.AssetCheckResult(passed=True, metadata={"stripe": "disabled"})
    settings = tollgate.settings()
    catalogue = settings.catalogue()
    engine = open_control_database(settings.control_database_url)
    try:
        control = ControlService(engine, catalogue, actor="stripe-sync")
        compared, differences = reconcile_current_cycles(
            client,
            control,
            catalogue,
            cycle_usage(settings.marts_dir),
            datetime.now(UTC),
            attempts=stripe_settings.max_attempts,
        )
    finally:
        engine.dispose()
    return dg.AssetCheckResult(
        passed=not differences,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "customers_compared": compared,
            "differences": dg.MetadataValue.json([d.describe() for d in differences]),
        },
    )

"""The three kinds of run: load new events, refresh usage, close cycles."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.billing.dbt_assets import (
    FINALIZE_KEY,
    after_finalize_dbt_assets,
    billing_dbt_assets,
    event_dates,
    events_dbt_assets,
)
from pipelines.defs.billing.documents import DOCUMENTS_KEY
from pipelines.defs.billing.run_context import WAREHOUSE_RUN_TAGS

_REFRESH = (
    dg.AssetSelection.groups("control")
    | dg.AssetSelection.assets(billing_dbt_assets)
    | dg.AssetSelection.assets(after_finalize_dbt_assets)
    | dg.AssetSelection.keys(["billing", "published_marts"])
    # Stripe after the marts it reads; each asset does nothing without STRIPE_SECRET_KEY.
    | dg.AssetSelection.groups("stripe")
)

load_events_job = dg.define_asset_job(
    "load_events",
    selection=dg.AssetSelection.assets(events_dbt_assets),
    partitions_def=event_dates,
    tags=WAREHOUSE_RUN_TAGS,
    description="Stages the events of one event date (new Parquet files for that day).",
)

refresh_usage_job = dg.define_asset_job(
    "refresh_usage",
    selection=_REFRESH,
    tags=WAREHOUSE_RUN_TAGS,
    description="Recomputes cycles, usage, draft invoices, limits, notifications and analytics.",
)

close_cycles_job = dg.define_asset_job(
    "close_cycles",
    # Documents only here: a refresh finalizes nothing, and the API renders any document a
    # failed close left missing on its first request.
    selection=_REFRESH | dg.AssetSelection.keys(FINALIZE_KEY, DOCUMENTS_KEY),
    tags=WAREHOUSE_RUN_TAGS,
    description=(
        "The refresh, plus finalization of every invoice whose cycle ended more than the "
        "grace period ago (blocked by failing reconciliation checks), and the PDF and JSON "
        "document of every newly finalized invoice."
    ),
)

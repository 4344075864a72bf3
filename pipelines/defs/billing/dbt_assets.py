"""The dbt models as Dagster assets, in three steps around invoice finalization.

1. ``events``: the events staging, partitioned by event date (one day's folder per run).
2. ``billing``: everything that prepares invoices, limits and analytics from the staged
   events, the control snapshot and the ledger; its dbt tests are the reconciliation checks.
3. ``after_finalize``: the invoice marts that read the ledger after ``finalize_invoices``.

dbt tests run with each step (``dbt build``) and appear as asset checks; a failing test fails
its step, so nothing downstream of it (finalization included) runs.
"""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from pipelines.defs.billing.dbt_in_process import dbt_build
from pipelines.defs.billing.project import MANIFEST, dbt_project
from pipelines.defs.billing.run_context import run_as_of
from pipelines.defs.billing.settings_resource import TollgateResource
from tollgate.billing.dbt_run import run_environment
from tollgate.billing.ledger import ensure_ledger

EVENTS_START_DATE = "2025-01-01"
# Today's partition is open: events for today land in it while the day goes on.
event_dates = dg.DailyPartitionsDefinition(start_date=EVENTS_START_DATE, end_offset=1)

FINALIZE_KEY = dg.AssetKey(["billing", "finalize_invoices"])
EVENTS_SELECTION = "tag:events_partitioned"
AFTER_FINALIZE_SELECTION = "tag:after_finalize"


class TollgateTranslator(DagsterDbtTranslator):
    def get_asset_spec(
        self,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: Any,
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        tags = props.get("tags", [])
        group = {"events_partitioned": "events"}.get(tags[0]) if tags else None
        fqn = props.get("fqn", [])
        if group is None and len(fqn) > 2:
            group = fqn[1] if fqn[1] != "marts" else f"{fqn[2]}"
        if group:
            spec = spec.replace_attributes(group_name=group)
        if "after_finalize" in tags:
            spec = spec.merge_attributes(deps=[FINALIZE_KEY])
        return spec


translator = TollgateTranslator()


def _build(
    context: dg.AssetExecutionContext, tollgate: TollgateResource, *, partitioned: bool = False
) -> Iterator[Any]:
    settings = tollgate.settings()
    ensure_ledger(settings.invoice_ledger_dir)
    event_range = None
    if partitioned:
        window = context.partition_time_window
        event_range = (window.start.date(), (window.end - timedelta(days=1)).date())
    environment = run_environment(settings, run_as_of(context), event_range)
    yield from dbt_build(context, dbt_project, translator, environment)


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    select=EVENTS_SELECTION,
    partitions_def=event_dates,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="events_dbt_assets",
    pool="warehouse",
)
def events_dbt_assets(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> Iterator[Any]:
    yield from _build(context, tollgate, partitioned=True)


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    exclude=f"{EVENTS_SELECTION} {AFTER_FINALIZE_SELECTION}",
    dagster_dbt_translator=translator,
    name="billing_dbt_assets",
    pool="warehouse",
)
def billing_dbt_assets(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> Iterator[Any]:
    yield from _build(context, tollgate)


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    select=AFTER_FINALIZE_SELECTION,
    dagster_dbt_translator=translator,
    name="after_finalize_dbt_assets",
    pool="warehouse",
)
def after_finalize_dbt_assets(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> Iterator[Any]:
    yield from _build(context, tollgate)

"""The Python steps of the billing graph: finalizing invoices and publishing the marts."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from ingest_api.storage.compactor import part_seq
from pipelines.defs.billing.dbt_assets import FINALIZE_KEY
from pipelines.defs.billing.run_context import run_as_of
from pipelines.defs.billing.settings_resource import TollgateResource
from tollgate.billing.ledger import LINES_SCHEMA, append_batch
from tollgate.warehouse.publication import publish_marts

# What readers (the billing API, the dashboards) may query: the marts and the catalogue.
PUBLISHED_TABLES = (
    "fct_billing_cycles",
    "fct_cycle_usage",
    "fct_invoices",
    "fct_invoice_lines",
    "fct_limit_status",
    "fct_notifications",
    "mart_daily_usage",
    "mart_revenue_by_month",
    "mart_mrr",
    "mart_customer_usage",
    "mart_limit_utilization",
    "dim_plans",
    "dim_features",
    "dim_plan_features",
    # Which events files the run counted: the ingest API adds only the rest to live usage.
    "stg_ingest__event_files",
)

_CLOSABLE = """
    select invoice_id, customer_id, invoice_kind, subscription_id, cycle_id, period_start,
        period_end, currency, subtotal, total
    from int_invoice_drafts
    where is_closable
    order by finalizes_at, customer_id, invoice_id
"""


@dg.asset(
    key=FINALIZE_KEY,
    deps=["int_invoice_drafts", "int_invoice_draft_lines", "stg_ingest__event_files"],
    group_name="billing",
    kinds={"parquet"},
    pool="warehouse",
    description=(
        "Appends every draft invoice whose cycle ended more than the grace period ago to the "
        "immutable invoice ledger (tollgate/billing/ledger.py), numbered in order. Runs only "
        "after the reconciliation checks on the drafts passed, and only when every events "
        "file the drafts could include has been loaded."
    ),
)
def finalize_invoices(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = tollgate.settings()
    as_of = run_as_of(context)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        _require_loaded_events(con, settings.events_dir)
        invoices = con.sql(_CLOSABLE).to_arrow_table()
        columns = ", ".join(f"l.{name}" for name in LINES_SCHEMA.names)
        lines = con.sql(
            f"select {columns} from int_invoice_draft_lines as l "  # noqa: S608 (our own names)
            f"semi join ({_CLOSABLE}) as c on c.invoice_id = l.invoice_id"
        ).to_arrow_table()
    batch = append_batch(settings.invoice_ledger_dir, invoices, lines, finalized_at=as_of)
    finalized = 0 if batch is None else invoices.num_rows
    context.log.info("finalized %d invoices as of %s", finalized, as_of.isoformat())
    return dg.MaterializeResult(
        metadata={
            "finalized_invoices": finalized,
            "batch": dg.MetadataValue.path(str(batch.path)) if batch else "none",
            "as_of": as_of.isoformat(),
        }
    )


def _require_loaded_events(con: duckdb.DuckDBPyConnection, events_dir: Path) -> None:
    # Drafts bill the events of every file up to the newest one loaded. A file older than that
    # which is not loaded yet (its date's partition run is still to come) would be missing
    # from the invoice without being "late": refuse to finalize until it is loaded.
    loaded = {row[0] for row in con.sql("select file_name from stg_ingest__event_files").fetchall()}
    newest = con.sql("select coalesce(max(part_seq), 0) from stg_ingest__event_files").fetchall()
    watermark = int(newest[0][0])
    missing = sorted(
        name
        for path in events_dir.glob("date=*/part-*.parquet")
        if (name := f"{path.parent.name}/{path.name}") not in loaded and part_seq(path) <= watermark
    )
    if missing:
        raise dg.Failure(
            f"{len(missing)} events file(s) published before the newest loaded one are not "
            f"loaded yet (first: {missing[0]}); run their event-date partitions "
            "(the new_event_files sensor does) and finalize again",
        )


@dg.asset(
    key=["billing", "published_marts"],
    deps=list(PUBLISHED_TABLES),
    group_name="billing",
    kinds={"parquet"},
    pool="warehouse",
    description=(
        "The marts as an immutable Parquet publication that the billing API and dashboards "
        "read (tollgate/warehouse/): readers never open the warehouse, so a run can always "
        "write it and readers always see one complete run's results."
    ),
)
def published_marts(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = tollgate.settings()
    as_of = run_as_of(context)
    path = publish_marts(
        settings.warehouse_path,
        PUBLISHED_TABLES,
        settings.marts_dir,
        extra={
            "as_of": as_of.isoformat(),
            "run_id": context.run.run_id,
            "materialized_at": _materialized_at(context),
        },
    )
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})


def _materialized_at(context: dg.AssetExecutionContext) -> dict[str, str | None]:
    """When each published table's asset was last materialized (any run, any partition), as
    the Dagster instance recorded it; None if never or unknown. For the dashboards' freshness
    page: reading it must never fail a publication, so an error only leaves the time unknown."""
    times: dict[str, str | None] = {}
    for table in PUBLISHED_TABLES:
        try:
            event = context.instance.get_latest_materialization_event(dg.AssetKey(table))
        except Exception:  # bookkeeping only: publish regardless
            context.log.warning("could not read when %s was last materialized", table)
            event = None
        times[table] = (
            None if event is None else datetime.fromtimestamp(event.timestamp, UTC).isoformat()
        )
    return times

"""The control plane's state, handed to the pipeline as a consistent Parquet snapshot."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.billing.settings_resource import TollgateResource
from tollgate.atomic_dirs import prune_directories
from tollgate.control.database import open_control_database
from tollgate.control.snapshot import snapshot_if_changed

# The tables the pipeline reads; the snapshot holds every table, read in one transaction.
SNAPSHOT_TABLES = (
    "customers",
    "subscriptions",
    "subscription_plans",
    "plan_changes",
    "limit_overrides",
    "notification_reads",
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["control", table],
            group_name="control",
            kinds={"parquet"},
            description=f"The control database's {table}, from the run's consistent snapshot.",
        )
        for table in SNAPSHOT_TABLES
    ],
    name="control_snapshot",
    description=(
        "Customers, subscriptions, plan history, plan changes, limit overrides and notification "
        "reads, read in one transaction from the control database and published as an "
        "immutable Parquet directory (see tollgate/control/snapshot.py)."
    ),
)
def control_snapshot(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    settings = tollgate.settings()
    engine = open_control_database(settings.control_database_url)
    try:
        path, exported = snapshot_if_changed(engine, settings.control_snapshots_dir)
    finally:
        engine.dispose()
    # Each run reads the snapshot it just took; a few older ones stay for runs still reading.
    prune_directories(settings.control_snapshots_dir, "snapshot-", keep=5)
    context.log.info("control snapshot at %s (%s)", path, "new" if exported else "unchanged")
    for table in SNAPSHOT_TABLES:
        yield dg.MaterializeResult(
            asset_key=["control", table],
            metadata={"path": dg.MetadataValue.path(str(path / f"{table}.parquet"))},
        )

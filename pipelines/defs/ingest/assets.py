"""The events Parquet dataset, as an external asset the billing assets depend on."""

import dagster as dg

usage_events = dg.AssetSpec(
    key=["ingest", "usage_events"],
    description=(
        "Usage events made durable by the ingest API and published as immutable Parquet files "
        "under <data_dir>/events/date=YYYY-MM-DD/ (Hive partitions by event date, UTC). "
        "Written only by the ingest API's compactor; see docs/architecture.md."
    ),
    group_name="ingest",
    kinds={"parquet"},
)

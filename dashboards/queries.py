"""Read-only queries the dashboard pages use; no page talks to storage directly."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def events_per_day(events_dir: Path) -> pl.DataFrame:
    """Events and quantity per event date and feature, from the published Parquet files."""
    files = sorted(str(p) for p in events_dir.glob("date=*/*.parquet"))
    if not files:
        return pl.DataFrame(schema={"date": pl.Date, "feature": pl.String, "events": pl.Int64})
    return (
        pl.scan_parquet(files)
        .group_by(pl.col("timestamp").dt.date().alias("date"), "feature")
        .agg(pl.len().cast(pl.Int64).alias("events"))
        .sort("date", "feature")
        .collect()
    )

"""Read-only queries the dashboard pages use; no page talks to storage directly."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st

# A published part never changes, so the cache is keyed on the list of parts: a new part is
# counted at once, and the time-to-live only bounds how long old entries stay.
TTL_SECONDS = 600


def events_per_day(events_dir: Path) -> pl.DataFrame:
    """Events per event date and feature, from the published Parquet files."""
    return _events_per_day(tuple(sorted(str(p) for p in events_dir.glob("date=*/*.parquet"))))


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Counting events…", max_entries=4)
def _events_per_day(files: tuple[str, ...]) -> pl.DataFrame:
    if not files:
        return pl.DataFrame(schema={"date": pl.Date, "feature": pl.String, "events": pl.Int64})
    return (
        pl.scan_parquet(list(files))
        .group_by(pl.col("timestamp").dt.date().alias("date"), "feature")
        .agg(pl.len().cast(pl.Int64).alias("events"))
        .sort("date", "feature")
        .collect()
    )

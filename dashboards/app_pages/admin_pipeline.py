"""Pipeline freshness (operators only): the current publication, and when each published
mart was last materialized (the publishing run's manifest), flagged stale past STALE_AFTER."""

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from dashboards.admin_queries import STALE_AFTER, admin_data_or_stop, freshness
from dashboards.auth import require_admin
from dashboards.formatting import format_age, format_count
from dashboards.resources import sources


def _when(moment: datetime | None) -> str:
    return "unknown" if moment is None else f"{moment.astimezone(UTC):%d %b %Y %H:%M:%S} UTC"


require_admin()
st.title("Pipeline freshness")
data = admin_data_or_stop(sources())
now = datetime.now(UTC)
state = freshness(data.manifest(), now)
marts = state.marts
stale = int(marts["stale"].sum())
unknown = int(marts["stale"].is_null().sum())

published_col, as_of_col, stale_col, unknown_col = st.columns(4)
published_col.metric(
    "Published",
    f"{format_age(now - state.published_at)} ago",
    help=_when(state.published_at),
)
as_of_col.metric("Billing data as of", _when(state.as_of))
stale_col.metric(f"Stale marts (over {format_age(STALE_AFTER)})", format_count(stale))
unknown_col.metric("Marts of unknown age", format_count(unknown))
st.caption(
    f"Publication {data.publication}"
    + (f" · run {state.run_id}" if state.run_id else "")
    + f" · a mart last materialized more than {format_age(STALE_AFTER)} ago is stale: the "
    "usage refresh runs hourly, so at least one refresh has not run."
)
if stale:
    st.warning(f"{stale} of {len(marts)} marts are stale: check the pipeline's runs in Dagster.")

st.dataframe(
    marts.select(
        pl.col("mart").alias("Mart"),
        pl.col("rows").map_elements(format_count, return_dtype=pl.String).alias("Rows"),
        pl.col("materialized_at")
        .map_elements(_when, return_dtype=pl.String)
        .fill_null("unknown")
        .alias("Last materialized"),
        pl.col("age")
        .map_elements(lambda age: f"{format_age(age)} ago", return_dtype=pl.String)
        .fill_null("unknown")
        .alias("Age"),
        pl.when(pl.col("stale").is_null())
        .then(pl.lit("Unknown"))
        .when(pl.col("stale"))
        .then(pl.lit("Stale"))
        .otherwise(pl.lit("Fresh"))
        .alias("Status"),
    ),
    hide_index=True,
)

"""Limit utilization (operators only): how many customers are ok, near or over each limit
(mart_limit_utilization), and who is near (warning, critical) or over (fct_limit_status)."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards.admin_queries import (
    NEAR_OR_OVER,
    admin_data_or_stop,
    customers_near_or_over,
    limit_counts,
    limit_status_by_feature,
    limit_utilization_by_plan,
)
from dashboards.auth import require_admin
from dashboards.formatting import format_count, number_column, publication_caption
from dashboards.resources import sources

LISTED = 100
# The alert thresholds (tollgate.billing.alerts): warning from 75 %, critical from 90 %,
# exceeded at 100 %. Colours as on the customer's Overview; the words are shown too.
STATUS_COLOURS = {
    "ok": "#2e7d32",
    "warning": "#f9a825",
    "critical": "#e65100",
    "exceeded": "#c62828",
}
STATUS_WORDS = {"ok": "OK", "warning": "Warning", "critical": "Critical", "exceeded": "Over"}

require_admin()
st.title("Limit utilization")
data = admin_data_or_stop(sources())
st.caption(publication_caption(data.manifest()))

counts = data.query(limit_counts)
if counts.limits == 0:
    st.info("No customer has a plan with limits in the published marts.")
    st.stop()
limits_col, near_col, over_col, hard_col = st.columns(4)
limits_col.metric(
    "Customers with limits",
    format_count(counts.customers_limited),
    help=f"{format_count(counts.limits)} limits (customer and feature)",
)
near_col.metric(
    "Near a limit",
    format_count(counts.customers_near),
    help="At 75 % or more of a limit (warning or critical), none reached yet.",
)
over_col.metric("Over a limit", format_count(counts.customers_over), help="At 100 % or more.")
hard_col.metric(
    "Hard limits reached",
    format_count(counts.hard_limits_reached),
    help="Limits (customer and feature) whose usage is blocked until the window resets.",
)

st.subheader("Customers by limit status")
by_feature = data.query(limit_status_by_feature).with_columns(
    pl.col("status").replace_strict(STATUS_WORDS).alias("shown")
)
bars = (
    alt.Chart(by_feature)
    .mark_bar()
    .encode(
        y=alt.Y("display_name:N", title="Feature"),
        x=alt.X("customers:Q", title="Customers", stack="normalize", axis=alt.Axis(format="%")),
        color=alt.Color(
            "shown:N",
            title="Status",
            scale=alt.Scale(
                domain=[STATUS_WORDS[s] for s in STATUS_COLOURS],
                range=list(STATUS_COLOURS.values()),
            ),
        ),
        order=alt.Order("status_order:Q"),
        tooltip=[
            alt.Tooltip("display_name:N", title="Feature"),
            alt.Tooltip("shown:N", title="Status"),
            alt.Tooltip("customers:Q", title="Customers", format=","),
            alt.Tooltip("hard_limited:Q", title="Of them hard-limited", format=","),
        ],
    )
)
st.altair_chart(bars, width="stretch")

st.subheader("Who is near or over")
picked = st.multiselect(
    "Status",
    list(NEAR_OR_OVER),
    default=list(NEAR_OR_OVER),
    format_func=STATUS_WORDS.__getitem__,
)
listed = data.query(customers_near_or_over, tuple(picked), LISTED)
if listed.total == 0:
    st.caption("Nobody.")
else:
    st.caption(
        f"{format_count(listed.total)} limits at these statuses"
        + (f"; the {LISTED} fullest shown" if listed.total > LISTED else "")
    )
    st.dataframe(
        listed.rows.select(
            pl.col("customer_id").alias("Customer"),
            pl.col("plan").alias("Plan"),
            pl.col("feature").alias("Feature"),
            number_column("used", "Used"),
            number_column("limit_value", "Limit"),
            pl.col("percent_used").alias("% used"),
            pl.col("status").replace_strict(STATUS_WORDS).alias("Status"),
            pl.col("enforcement").alias("Enforcement"),
            pl.col("resets_at").alias("Resets at (UTC)"),
        ),
        hide_index=True,
        column_config={
            "% used": st.column_config.NumberColumn(format="%.2f %%"),
            "Resets at (UTC)": st.column_config.DatetimeColumn(
                format="D MMM YYYY HH:mm", timezone="UTC"
            ),
        },
    )

with st.expander("By plan"):
    by_plan = data.query(limit_utilization_by_plan)
    st.dataframe(
        by_plan.select(
            pl.col("feature").alias("Feature"),
            pl.col("plan").alias("Plan"),
            pl.col("status").replace_strict(STATUS_WORDS).alias("Status"),
            number_column("customers", "Customers"),
            number_column("hard_limited", "Hard-limited"),
            pl.col("average_percent_used").alias("Average % used"),
            pl.col("max_percent_used").alias("Highest % used"),
        ),
        hide_index=True,
    )

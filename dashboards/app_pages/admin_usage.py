"""Usage trends (operators only): system-wide usage per day and feature (mart_daily_usage)."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards.admin_queries import (
    DEFAULT_PERIOD,
    PERIODS,
    admin_data_or_stop,
    daily_usage,
    usage_totals,
)
from dashboards.auth import require_admin
from dashboards.charts import per_day_chart
from dashboards.formatting import format_count, format_number, publication_caption
from dashboards.resources import sources

require_admin()
st.title("Usage trends")
data = admin_data_or_stop(sources())
st.caption(publication_caption(data.manifest()))

period = st.selectbox("Period", list(PERIODS), index=list(PERIODS).index(DEFAULT_PERIOD))
days = PERIODS[period]
daily = data.query(daily_usage, days)
if daily.is_empty():
    st.info("No usage in the published marts yet.")
    st.stop()
totals = data.query(usage_totals, days)

columns = st.columns(len(totals) + 1)
columns[0].metric("Events", format_count(int(totals["events"].sum())))
for column, row in zip(columns[1:], totals.iter_rows(named=True), strict=True):
    label = row["display_name"] + (" (peak day)" if row["is_peak"] else "")
    column.metric(label, f"{format_number(row['quantity'])} {row['unit']}".strip())
dates = daily["usage_date"].to_list()
first, last = min(dates), max(dates)
st.caption(f"{first:%d %b %Y} to {last:%d %b %Y} (UTC days) · {period.lower()} with usage")

chart_frame = daily.with_columns(pl.col("quantity").cast(pl.Float64))
st.subheader("Events per day")
events = per_day_chart(
    chart_frame,
    day="usage_date",
    value="events",
    value_title="Events",
    series="display_name",
    series_title="Feature",
)
st.altair_chart(events, width="stretch")

st.subheader("Usage per day by feature")
feature_columns = st.columns(len(totals))
for column, row in zip(feature_columns, totals.iter_rows(named=True), strict=True):
    one = chart_frame.filter(pl.col("feature") == row["feature"])
    line = (
        alt.Chart(one, title=f"{row['display_name']} ({row['unit']})")
        .mark_line(point=True)
        .encode(
            x=alt.X("usage_date:T", title=None),
            y=alt.Y("quantity:Q", title=row["unit"], axis=alt.Axis(format=",~g")),
            tooltip=[
                alt.Tooltip("usage_date:T", title="Day"),
                alt.Tooltip("quantity:Q", title=row["unit"], format=",.2~f"),
                alt.Tooltip("customers:Q", title="Customers", format=","),
            ],
        )
    )
    column.altair_chart(line, width="stretch")

st.subheader("Customers with usage per day")
customers = per_day_chart(
    chart_frame,
    day="usage_date",
    value="customers",
    value_title="Customers",
    series="display_name",
    series_title="Feature",
    mark="line",
)
st.altair_chart(customers, width="stretch")

"""Notifications (operators only): how many notices were raised per day and type
(fct_notifications), and how many are still unread."""

import polars as pl
import streamlit as st

from dashboards.admin_queries import (
    DEFAULT_PERIOD,
    PERIODS,
    admin_data_or_stop,
    notifications_by_type,
    notifications_per_day,
)
from dashboards.auth import require_admin
from dashboards.charts import per_day_chart
from dashboards.formatting import format_count, number_column, publication_caption
from dashboards.resources import sources

TYPE_NAMES = {
    "limit_warning": "Limit warning",
    "limit_exceeded": "Limit exceeded",
    "billing_cycle_end": "Billing period ended",
    "spend_alert": "Spend alert",
    "budget_reached": "Budget reached",
}


def _type_name(kind: str) -> str:
    return TYPE_NAMES.get(kind, kind.replace("_", " ").capitalize())


require_admin()
st.title("Notifications")
data = admin_data_or_stop(sources())
st.caption(publication_caption(data.manifest()))

period = st.selectbox("Period", list(PERIODS), index=list(PERIODS).index(DEFAULT_PERIOD))
days = PERIODS[period]
per_type = data.query(notifications_by_type, days)
if per_type.is_empty():
    st.info("No notifications in the published marts yet.")
    st.stop()
per_day = data.query(notifications_per_day, days)

columns = st.columns(len(per_type) + 2)
columns[0].metric("Notifications", format_count(int(per_type["notifications"].sum())))
columns[1].metric("Unread", format_count(int(per_type["unread"].sum())))
for column, row in zip(columns[2:], per_type.iter_rows(named=True), strict=True):
    column.metric(_type_name(row["notification_type"]), format_count(row["notifications"]))
dates = per_day["day"].to_list()
first, last = min(dates), max(dates)
st.caption(f"Raised {first:%d %b %Y} to {last:%d %b %Y} (UTC days) · {period.lower()}")

st.subheader("Notifications per day")
chart_frame = per_day.with_columns(
    pl.col("notification_type").map_elements(_type_name, return_dtype=pl.String).alias("type")
)
bars = per_day_chart(
    chart_frame,
    day="day",
    value="notifications",
    value_title="Notifications",
    series="type",
    series_title="Type",
)
st.altair_chart(bars, width="stretch")

st.subheader("By type")
st.dataframe(
    per_type.select(
        pl.col("notification_type").map_elements(_type_name, return_dtype=pl.String).alias("Type"),
        number_column("notifications", "Notifications"),
        number_column("unread", "Unread"),
        number_column("customers", "Customers notified"),
    ),
    hide_index=True,
)

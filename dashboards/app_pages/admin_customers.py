"""Customers (operators only): how current-cycle usage is spread across customers
(mart_customer_usage): a histogram computed in DuckDB and the top customers."""

from decimal import Decimal

import altair as alt
import polars as pl
import streamlit as st

from dashboards.admin_queries import (
    HISTOGRAM_BINS,
    admin_data_or_stop,
    features,
    top_customers,
    usage_distribution,
    usage_histogram,
)
from dashboards.auth import require_admin
from dashboards.formatting import (
    format_amount,
    format_count,
    format_number,
    number_column,
    publication_caption,
)
from dashboards.resources import sources

TOP_SIZES = (10, 20, 50, 100)

require_admin()
st.title("Customers")
data = admin_data_or_stop(sources())
st.caption(publication_caption(data.manifest()))

catalogue = data.query(features)
if catalogue.is_empty():
    st.info("No features in the published marts yet.")
    st.stop()
names = dict(zip(catalogue["feature"], catalogue["display_name"], strict=True))
units = dict(zip(catalogue["feature"], catalogue["unit"], strict=True))
left, right = st.columns(2)
feature = str(left.selectbox("Feature", list(names), format_func=names.__getitem__))
top_n = int(right.selectbox("Top customers", TOP_SIZES, index=1))
unit = units[feature]

spread = data.query(usage_distribution, feature)
if spread.customers == 0:
    st.info(f"Nobody has used {names[feature]} in their current cycle.")
    st.stop()


def _quantity(value: Decimal | None) -> str:
    return f"{format_number(value)} {unit}"


count_col, total_col, median_col, p90_col, p99_col, max_col = st.columns(6)
count_col.metric("Customers", format_count(spread.customers))
total_col.metric("Total", _quantity(spread.total))
median_col.metric("Median", _quantity(spread.median))
p90_col.metric("90th percentile", _quantity(spread.p90))
p99_col.metric("99th percentile", _quantity(spread.p99))
max_col.metric("Largest", _quantity(spread.maximum))
st.caption("Each customer's usage in their current billing cycle.")

st.subheader(f"Usage distribution ({HISTOGRAM_BINS} equal bins)")
bins = data.query(usage_histogram, feature, HISTOGRAM_BINS).with_columns(
    pl.format(
        "{} to {}",
        pl.col("bin_start").map_elements(format_number, return_dtype=pl.String),
        pl.col("bin_end").map_elements(format_number, return_dtype=pl.String),
    ).alias("range")
)
histogram = (
    alt.Chart(bins)
    .mark_bar()
    .encode(
        x=alt.X("bin_start:Q", title=f"{names[feature]} this cycle ({unit})"),
        x2="bin_end:Q",
        y=alt.Y("customers:Q", title="Customers", axis=alt.Axis(format=",d")),
        tooltip=[
            alt.Tooltip("range:N", title=unit),
            alt.Tooltip("customers:Q", title="Customers", format=","),
        ],
    )
)
st.altair_chart(histogram, width="stretch")

st.subheader(f"Top {top_n} customers by {names[feature]}")
top = data.query(top_customers, feature, top_n)
st.dataframe(
    top.select(
        pl.col("customer_id").alias("Customer"),
        pl.col("plan_name").alias("Plan"),
        number_column("quantity", "Usage", unit),
        number_column("events", "Events"),
        pl.struct("usage_amount", "currency")
        .map_elements(
            lambda row: format_amount(row["usage_amount"], row["currency"]),
            return_dtype=pl.String,
        )
        .alias("Usage charges"),
        pl.col("percentile").alias("Percentile"),
    ),
    hide_index=True,
    column_config={"Percentile": st.column_config.NumberColumn(format="%.1f")},
)

"""Revenue (operators only): invoiced by month, plan and feature, and MRR, per currency."""

from datetime import date

import altair as alt
import polars as pl
import streamlit as st

from dashboards.admin_queries import (
    InvoiceStatus,
    admin_data_or_stop,
    currencies,
    mrr,
    revenue_by_month_and_feature,
    revenue_by_month_and_plan,
    revenue_summary,
)
from dashboards.auth import require_admin
from dashboards.formatting import (
    format_amount,
    format_count,
    major_units,
    money_column,
    number_column,
    publication_caption,
)
from dashboards.resources import sources

STATUSES: dict[str, InvoiceStatus] = {
    "All invoices (finalized and draft)": "all",
    "Finalized invoices only": "finalized",
}


def _month(value: date) -> str:
    return f"{value:%b %Y}"


def _stacked(frame: pl.DataFrame, colour: str, title: str, currency: str) -> alt.Chart:
    chart_frame = major_units(frame, "amount", currency, "value").with_columns(
        money_column("amount", currency, "shown")
    )
    chart: alt.Chart = (
        alt.Chart(chart_frame)
        .mark_bar()
        .encode(
            x=alt.X("revenue_month:T", title="Month of the billing period", timeUnit="yearmonth"),
            y=alt.Y("value:Q", title=currency.upper(), axis=alt.Axis(format=",.0f")),
            color=alt.Color(f"{colour}:N", title=title),
            tooltip=[
                alt.Tooltip("revenue_month:T", title="Month", timeUnit="yearmonth"),
                alt.Tooltip(f"{colour}:N", title=title),
                alt.Tooltip("shown:N", title="Invoiced"),
            ],
        )
    )
    return chart


def _pivot(frame: pl.DataFrame, column: str, currency: str) -> pl.DataFrame:
    """Months as rows, ``column``'s values as columns, amounts formatted."""
    if frame.is_empty():
        return frame
    order = list(dict.fromkeys(frame[column].to_list()))
    wide = frame.pivot(on=column, index="revenue_month", values="amount", aggregate_function="sum")
    wide = wide.with_columns(pl.col(order).fill_null(0))
    wide = wide.with_columns(pl.sum_horizontal(order).alias("Total")).sort("revenue_month")
    return wide.select(
        pl.col("revenue_month").map_elements(_month, return_dtype=pl.String).alias("Month"),
        *[money_column(name, currency, name) for name in [*order, "Total"]],
    )


require_admin()
st.title("Revenue")
data = admin_data_or_stop(sources())
st.caption(publication_caption(data.manifest()))

available = data.query(currencies)
if not available:
    st.info("No invoices or subscriptions in the published marts yet.")
    st.stop()
left, right = st.columns(2)
currency = str(left.selectbox("Currency", available, format_func=str.upper))
status = STATUSES[str(right.radio("Invoices", list(STATUSES), horizontal=True))]

summary = data.query(revenue_summary, currency, status)
total_col, month_col, mrr_col, paying_col = st.columns(4)
total_col.metric("Invoiced, all months", format_amount(summary.total, currency))
month_col.metric(
    "Invoiced, latest month"
    + (f" ({_month(summary.latest_month)})" if summary.latest_month else ""),
    format_amount(summary.latest_month_amount, currency),
)
mrr_col.metric(
    "MRR",
    "n/a" if summary.mrr is None else format_amount(summary.mrr, currency),
    delta=None if summary.mrr_change is None else format_amount(summary.mrr_change, currency),
    help="Base prices of the subscriptions active at the month's end (yearly as a twelfth); "
    "usage charges are not recurring and are not in it.",
)
paying_col.metric(
    "Paying subscriptions",
    format_count(summary.paying_subscriptions),
    help=f"of {format_count(summary.active_subscriptions)} active",
)
st.caption(
    "Revenue is counted in the month its billing period starts; draft invoices are the "
    "current cycles' charges so far."
)

by_plan = data.query(revenue_by_month_and_plan, currency, status)
by_feature = data.query(revenue_by_month_and_feature, currency, status)
if by_plan.is_empty():
    st.info("No invoices in this currency yet.")
else:
    st.subheader("Revenue by month and plan")
    st.altair_chart(_stacked(by_plan, "plan_name", "Plan", currency), width="stretch")
    st.dataframe(_pivot(by_plan, "plan_name", currency), hide_index=True)

    st.subheader("Revenue by month and feature")
    st.altair_chart(_stacked(by_feature, "feature_name", "Feature", currency), width="stretch")
    st.dataframe(_pivot(by_feature, "feature_name", currency), hide_index=True)

st.subheader("Monthly recurring revenue")
recurring = data.query(mrr, currency)
if recurring.is_empty():
    st.info("No subscriptions in this currency.")
else:
    scale = major_units(recurring, "mrr", currency, "value")
    line = (
        alt.Chart(scale)
        .mark_line(point=True)
        .encode(
            x=alt.X("mrr_month:T", title="Month", timeUnit="yearmonth"),
            y=alt.Y("value:Q", title=currency.upper(), axis=alt.Axis(format=",.0f")),
            tooltip=[
                alt.Tooltip("mrr_month:T", title="Month", timeUnit="yearmonth"),
                alt.Tooltip("value:Q", title=f"MRR ({currency.upper()})", format=",.2f"),
                alt.Tooltip("paying_subscriptions:Q", title="Paying", format=","),
            ],
        )
    )
    st.altair_chart(line, width="stretch")
    st.dataframe(
        recurring.select(
            pl.col("mrr_month").map_elements(_month, return_dtype=pl.String).alias("Month"),
            money_column("mrr", currency, "MRR"),
            number_column("active_subscriptions", "Active subscriptions"),
            number_column("paying_subscriptions", "Paying subscriptions"),
        ),
        hide_index=True,
    )

"""Usage: the customer's daily usage by feature and dimension over a range of days.

The figures are what ``GET /usage`` answers for the same days (``dashboards/customer_usage``).
Each feature has its own unit, so each gets its own chart: tokens are never added to calls.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import altair as alt
import streamlit as st

from dashboards.auth import require_customer, viewer
from dashboards.customer_data import KeyGoneError, format_quantity
from dashboards.customer_usage import Usage, total_label, totals, usage, usage_csv
from dashboards.resources import catalogue, sources
from ingest_api.billing.models_usage import DailyUsageOut
from ingest_api.events.errors import RequestError
from tollgate.billing.catalogue import Catalogue
from tollgate.billing.catalogue.model import Aggregation

NO_DIMENSION = "(not set)"


def _read(customer_id: str, key_id: str, start: date | None, end: date | None) -> Usage:
    try:
        return usage(sources(), customer_id, key_id, start, end)
    except RequestError as refused:
        st.error(f"{refused.message} {refused.hint}")
    except KeyGoneError:
        st.error("Your key has just been revoked: sign in again.")
    st.stop()


def _picked_days(customer_id: str, default_start: date, default_end: date) -> tuple[date, date]:
    picked = st.date_input(
        "Days (UTC, both included)",
        value=(default_start, default_end),
        max_value=max(default_end, date.today()),
        format="YYYY-MM-DD",
        key=f"usage_days_{customer_id}",  # an admin switching customers starts afresh
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        st.stop()
    start, end = picked
    return start, end


def _feature_chart(
    rows: list[DailyUsageOut], name: str, plans: Catalogue, split_by: str | None
) -> alt.Chart:
    feature = plans.features[name]
    values = [
        {
            "day": row.date.isoformat(),
            "value": float(Decimal(row.quantity)),  # the chart's scale only; tables are exact
            "quantity": f"{format_quantity(row.quantity)} {feature.unit}",
            "dimension": row.dimension or NO_DIMENSION,
            "events": row.events,
        }
        for row in rows
    ]
    summed = feature.aggregation in (Aggregation.SUM, Aggregation.COUNT)
    base = alt.Chart(alt.InlineData(values=values))
    mark = base.mark_bar() if summed else base.mark_line(point=True)
    tooltip: list[Any] = [
        alt.Tooltip("utcyearmonthdate(day):T", title="Day (UTC)"),
        alt.Tooltip("quantity:N", title=feature.display_name),
        alt.Tooltip("events:Q", title="Events", format=","),
    ]
    encoding: dict[str, Any] = {
        "x": alt.X("utcyearmonthdate(day):T", title="Day (UTC)"),
        "y": alt.Y("value:Q", title=f"{feature.display_name} ({feature.unit})", stack=summed).axis(
            format=",~g"
        ),
        "tooltip": tooltip,
    }
    if split_by is not None:
        encoding["color"] = alt.Color("dimension:N", title=split_by)
        tooltip.insert(1, alt.Tooltip("dimension:N", title=split_by))
    chart: alt.Chart = mark.encode(**encoding).properties(height=260)
    return chart


def _breakdown(rows: list[DailyUsageOut], name: str, plans: Catalogue, split_by: str) -> None:
    feature = plans.features[name]
    found = sorted(
        totals(rows, plans, by_dimension=True), key=lambda t: (-t.quantity, t.dimension or "")
    )
    overall = sum((t.quantity for t in found), Decimal(0))
    label = total_label(feature.aggregation)
    st.markdown(f"**{feature.display_name} by {split_by}**")
    chart_col, table_col = st.columns([3, 2])
    values = [
        {
            "dimension": t.dimension or NO_DIMENSION,
            "value": float(t.quantity),
            "label": f"{format_quantity(str(t.quantity))} {feature.unit}",
        }
        for t in found
    ]
    bars = alt.Chart(alt.InlineData(values=values)).encode(
        y=alt.Y("dimension:N", title=split_by, sort="-x"),
        x=alt.X("value:Q", title=f"{label} ({feature.unit})").axis(format=",~s"),
        tooltip=[alt.Tooltip("dimension:N", title=split_by), alt.Tooltip("label:N", title=label)],
    )
    chart = bars.mark_bar() + bars.mark_text(align="left", dx=4).encode(text="label:N")
    chart_col.altair_chart(chart.properties(height=40 + 30 * len(values)), width="stretch")
    table_col.dataframe(
        [
            {
                split_by: t.dimension or NO_DIMENSION,
                f"{label} ({feature.unit})": format_quantity(str(t.quantity)),
                "Share": f"{t.quantity / overall:.1%}" if overall else "",
                "Events": f"{t.events:,}",
            }
            for t in found
        ],
        hide_index=True,
    )


customer_id = require_customer()
current = viewer()
assert current is not None  # require_customer stops the page otherwise
plans = catalogue(sources().plans_file)

st.title(f"Usage · {customer_id}")
default = _read(customer_id, current.key_id, None, None)
start, end = _picked_days(customer_id, default.report.start, default.report.end)
if start == default.report.start and end == default.report.end:
    found = default
else:
    found = _read(customer_id, current.key_id, start, end)
report = found.report

choice = st.selectbox(
    "Feature",
    [None, *plans.features],
    format_func=lambda name: "All features" if name is None else plans.features[name].display_name,
    key=f"usage_feature_{customer_id}",
)
names = list(plans.features) if choice is None else [choice]
rows = [row for row in report.days if row.feature in names]
st.caption(
    f"{report.start:%d %b %Y} to {report.end:%d %b %Y}, UTC days · counted as invoices count "
    "them, including events the billing pipeline has not run over yet"
)

by_feature = {t.feature: t for t in totals(rows, plans, by_dimension=False)}
for column, name in zip(st.columns(len(names)), names, strict=True):
    feature = plans.features[name]
    shown = by_feature.get(name)
    quantity = format_quantity(str(shown.quantity)) if shown else "0"
    column.metric(
        f"{feature.display_name} · {total_label(feature.aggregation).lower()}",
        f"{quantity} {feature.unit}",
        help=f"{shown.events if shown else 0:,} events",
    )

if not rows:
    st.info("No usage in these days.")
for name in names:
    feature_rows = [row for row in rows if row.feature == name]
    if not feature_rows:
        continue
    split_by = found.dimensions.get(name)
    st.subheader(plans.features[name].display_name)
    st.altair_chart(_feature_chart(feature_rows, name, plans, split_by), width="stretch")
    if split_by is not None:
        _breakdown(feature_rows, name, plans, split_by)

st.subheader("Daily usage")
st.dataframe(
    [
        {
            "Day": row.date.isoformat(),
            "Feature": plans.features[row.feature].display_name,
            "Dimension": row.dimension or "",
            "Quantity": format_quantity(row.quantity),
            "Unit": plans.features[row.feature].unit,
            "Events": f"{row.events:,}",
        }
        for row in rows
    ],
    hide_index=True,
)
shown_report = report.model_copy(update={"days": rows})
st.download_button(
    "Download CSV",
    usage_csv(shown_report, plans),
    file_name=f"usage_{customer_id}_{report.start}_{report.end}.csv",
    mime="text/csv",
    key="usage_csv",
)

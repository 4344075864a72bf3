"""The Usage page's queries: ``GET /usage``'s own function, called in-process.

The rows are ``usage_report``'s (``ingest_api/billing/routes_usage.py``): the customer's events
of the days asked for, read from the event files the ingest API writes, filtered by customer
and aggregated inside DuckDB (``daily_usage``), so only the customer's few rows per day reach
Python. Nothing is counted twice here: the helpers below only total what those rows say for
display, in each feature's own unit (tokens are never added to calls).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

import streamlit as st

from dashboards.customer_data import customer_caller
from dashboards.resources import Sources
from ingest_api.billing.errors import control_errors
from ingest_api.billing.models_usage import DailyUsageOut, UsageOut
from ingest_api.billing.routes_usage import usage_report
from tollgate.billing.catalogue import Catalogue
from tollgate.billing.catalogue.model import Aggregation
from tollgate.billing.money import PRECISION

# Events reach the files within seconds of being accepted; a minute keeps reruns (every widget
# click) and several viewers of one customer on one query.
TTL_SECONDS = 60

CSV_COLUMNS = ("date", "feature", "unit", "dimension", "quantity", "events")


@dataclass(frozen=True, slots=True)
class Usage:
    report: UsageOut  # what GET /usage answers
    # feature -> the event property the customer's plan splits it by (ai_tokens: "model")
    dimensions: dict[str, str]


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Reading usage…")
def usage(
    srcs: Sources, customer_id: str, key_id: str, start: date | None, end: date | None
) -> Usage:
    """``GET /usage?from=start&to=end`` for ``customer_id`` (None: the API's default day).

    The caller has checked (``require_customer``) that the key may see this customer."""
    caller = customer_caller(srcs, customer_id, key_id)
    report = usage_report(srcs.events_dir, caller, start, end, None)
    with control_errors():
        active = caller.control.active_plan(customer_id, caller.clock())
    dimensions = {}
    if active is not None:
        dimensions = {
            name: spec.dimension
            for name, spec in active.plan.features.items()
            if spec.dimension is not None
        }
    return Usage(report, dimensions)


@dataclass(frozen=True, slots=True)
class Total:
    """One feature's (and dimension value's) usage over the range, as the feature adds up."""

    feature: str
    dimension: str | None
    quantity: Decimal
    events: int


def combine(quantities: list[Decimal], aggregation: Aggregation) -> Decimal:
    """Days' quantities (oldest first) over the range: summed for sum and count features,
    the highest for max, the latest day's for last."""
    if not quantities:
        return Decimal(0)
    if aggregation is Aggregation.MAX:
        return max(quantities)
    if aggregation is Aggregation.LAST:
        return quantities[-1]
    return sum(quantities, Decimal(0))


def total_label(aggregation: Aggregation) -> str:
    return {Aggregation.MAX: "Peak", Aggregation.LAST: "Latest"}.get(aggregation, "Total")


def totals(
    days: Iterable[DailyUsageOut], catalogue: Catalogue, *, by_dimension: bool
) -> list[Total]:
    """Per feature (and per dimension value if ``by_dimension``), in the rows' order."""
    with localcontext(prec=PRECISION):  # exact: quantities have up to 38 digits
        return _totals(days, catalogue, by_dimension=by_dimension)


def _totals(
    days: Iterable[DailyUsageOut], catalogue: Catalogue, *, by_dimension: bool
) -> list[Total]:
    grouped: dict[tuple[str, str | None], list[DailyUsageOut]] = {}
    for row in days:  # by day already: "last" takes the latest
        key = (row.feature, row.dimension if by_dimension else None)
        grouped.setdefault(key, []).append(row)
    found = []
    for (feature, dimension), rows in grouped.items():
        aggregation = catalogue.features[feature].aggregation
        if by_dimension or aggregation in (Aggregation.SUM, Aggregation.COUNT):
            quantity = combine([Decimal(r.quantity) for r in rows], aggregation)
        else:
            # A max or last feature split by dimension: a day's figure is per value, so the
            # feature's is taken over the days' sums of its values.
            per_day: dict[date, Decimal] = {}
            for r in rows:
                per_day[r.date] = per_day.get(r.date, Decimal(0)) + Decimal(r.quantity)
            quantity = combine([per_day[d] for d in sorted(per_day)], aggregation)
        found.append(Total(feature, dimension, quantity, sum(r.events for r in rows)))
    return found


def usage_csv(report: UsageOut, catalogue: Catalogue) -> bytes:
    """The rows as CSV: quantities exactly as the API writes them (decimal strings)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.days:
        writer.writerow(
            [
                row.date.isoformat(),
                row.feature,
                catalogue.features[row.feature].unit,
                row.dimension or "",
                row.quantity,
                row.events,
            ]
        )
    return buffer.getvalue().encode("utf-8")

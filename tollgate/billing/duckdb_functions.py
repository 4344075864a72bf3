"""The pricing engine as DuckDB functions, so SQL prices usage with the same Python code.

dbt registers these through ``tollgate.billing.dbt_plugin`` on every connection it opens; any
other DuckDB consumer calls :func:`register_pricing_functions`. The SQL side never restates a
price, tier, allowance, cycle, rounding or identifier rule: it only passes values in and reads
results out.

Quantities are ``DECIMAL(38, 18)`` (event quantities have 9 decimals, unit conversions 9 more;
narrower decimals widen implicitly). Timestamps are ``TIMESTAMPTZ`` instants and come back in
UTC; the session's TimeZone setting changes nothing. Exact amounts are plain decimal text.

The functions are vectorised: DuckDB hands each a batch of rows as Arrow arrays, which costs
a third of converting every value one by one (the pipeline prices hundreds of thousands of
lines a run); the rules still run row by row, in Python.

=================================  ==========================================================
``tollgate_usage_charge``          (plan, feature, dimension, quantity) -> BIGINT minor units
``tollgate_usage_charge_exact``    same arguments -> VARCHAR, the exact amount before rounding
``tollgate_usage_lines``           same arguments -> STRUCT(kind, tier, description, quantity,
                                   unit_amount, flat_amount, exact_amount, amount)[]: the
                                   charge's invoice lines (included, then usage by tier),
                                   amounts adding up to ``tollgate_usage_charge``
``tollgate_billable_quantity``     (plan, feature, quantity) -> quantity above the allowance
``tollgate_pricing_dimension``     (plan, feature) -> the event property prices split by, or NULL
``tollgate_base_charge``           (plan, period_start, period_end, start, end) -> BIGINT: the
                                   plan's base price for [start, end) of that period, prorated
``tollgate_billing_cycles``        (anchor, interval, anchoring, timezone, since, until) ->
                                   STRUCT(cycle_start, cycle_end, period_start, period_end)[]:
                                   every cycle overlapping [since, until)
``tollgate_limit_windows``         (anchor, interval, anchoring, timezone, reset, since,
                                   until) -> STRUCT(window_start, window_end)[]: every limit
                                   window (the cycle, or the calendar month) overlapping
                                   [since, until)
``tollgate_notification_id``       (customer_id, kind, feature, window_start, threshold) ->
                                   VARCHAR, ``identifiers.notification_id``
``tollgate_notification_type``     (level) -> VARCHAR, ``alerts.notification_type``
``tollgate_notification_title``    (level, display_name, percent) -> VARCHAR
``tollgate_notification_message``  (level, display_name, percent, enforcement, limit, unit,
                                   window_start) -> VARCHAR, ``alerts.notification_message``
``tollgate_invoice_id``            (customer_id, cycle_start) -> VARCHAR
``tollgate_line_id``               (invoice_id, kind, key) -> VARCHAR
=================================  ==========================================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from duckdb import sqltypes
from duckdb.func import FunctionNullHandling, PythonUDFType

from tollgate.billing.alerts import notification_message, notification_title, notification_type
from tollgate.billing.catalogue.model import Catalogue, CycleAnchor, Interval, LimitReset
from tollgate.billing.cycles import Cycle, CycleRule, limit_window
from tollgate.billing.identifiers import invoice_id, line_id, notification_id
from tollgate.billing.pricing import UsageLine, decimal_text, usage_charge, usage_lines
from tollgate.billing.proration import stretch_amount

QUANTITY = duckdb.decimal_type(38, 18)
_TEXT, _TIMESTAMP = sqltypes.VARCHAR, sqltypes.TIMESTAMP_TZ
USAGE_LINES = duckdb.list_type(
    duckdb.struct_type(
        {
            "kind": _TEXT,
            "tier": sqltypes.INTEGER,
            "description": _TEXT,
            "quantity": QUANTITY,
            "unit_amount": _TEXT,
            "flat_amount": _TEXT,
            "exact_amount": _TEXT,
            "amount": sqltypes.BIGINT,
        }
    )
)
CYCLES = duckdb.list_type(
    duckdb.struct_type(
        {
            "cycle_start": _TIMESTAMP,
            "cycle_end": _TIMESTAMP,
            "period_start": _TIMESTAMP,
            "period_end": _TIMESTAMP,
        }
    )
)
WINDOWS = duckdb.list_type(
    duckdb.struct_type({"window_start": _TIMESTAMP, "window_end": _TIMESTAMP})
)

# The same types in Arrow, for the vectorised functions' results.
_ARROW_TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW_QUANTITY = pa.decimal128(38, 18)
_ARROW = {
    sqltypes.VARCHAR: pa.string(),
    sqltypes.BIGINT: pa.int64(),
    QUANTITY: _ARROW_QUANTITY,
    USAGE_LINES: pa.list_(
        pa.struct(
            [
                ("kind", pa.string()),
                ("tier", pa.int32()),
                ("description", pa.string()),
                ("quantity", _ARROW_QUANTITY),
                ("unit_amount", pa.string()),
                ("flat_amount", pa.string()),
                ("exact_amount", pa.string()),
                ("amount", pa.int64()),
            ]
        )
    ),
    CYCLES: pa.list_(
        pa.struct(
            [
                (name, _ARROW_TIMESTAMP)
                for name in ("cycle_start", "cycle_end", "period_start", "period_end")
            ]
        )
    ),
    WINDOWS: pa.list_(
        pa.struct([("window_start", _ARROW_TIMESTAMP), ("window_end", _ARROW_TIMESTAMP)])
    ),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def register_pricing_functions(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    def charge(plan: str, feature: str, dimension: str | None, quantity: Decimal) -> int:
        return usage_charge(catalogue.plan(plan), feature, quantity, dimension).amount

    def charge_exact(plan: str, feature: str, dimension: str | None, quantity: Decimal) -> str:
        exact = usage_charge(catalogue.plan(plan), feature, quantity, dimension).exact_amount
        return decimal_text(exact)

    def lines(
        plan: str, feature: str, dimension: str | None, quantity: Decimal
    ) -> list[dict[str, Any]]:
        found = usage_lines(catalogue.plan(plan), feature, quantity, dimension)
        return [_line_row(line) for line in found]

    def billable(plan: str, feature: str, quantity: Decimal) -> Decimal:
        return usage_charge(catalogue.plan(plan), feature, quantity).billable

    def dimension(plan: str, feature: str) -> str | None:
        plan_feature = catalogue.plan(plan).features.get(feature)
        return plan_feature.dimension if plan_feature else None

    def base_charge(
        plan: str, period_start: datetime, period_end: datetime, start: datetime, end: datetime
    ) -> int:
        cycle = Cycle(start, end, period_start, period_end)
        return stretch_amount(catalogue.plan(plan).base_price, cycle, start, end)

    text, timestamp, quantity = _TEXT, _TIMESTAMP, QUANTITY
    rule = [timestamp, text, text, text]  # anchor, interval, anchoring, timezone
    functions: list[tuple[str, Callable[..., Any], list[Any], sqltypes.DuckDBPyType]]
    functions = [
        ("tollgate_usage_charge", charge, [text, text, text, quantity], sqltypes.BIGINT),
        ("tollgate_usage_charge_exact", charge_exact, [text, text, text, quantity], text),
        ("tollgate_usage_lines", lines, [text, text, text, quantity], USAGE_LINES),
        ("tollgate_billable_quantity", billable, [text, text, quantity], quantity),
        ("tollgate_pricing_dimension", dimension, [text, text], text),
        ("tollgate_base_charge", base_charge, [text, *[timestamp] * 4], sqltypes.BIGINT),
        ("tollgate_billing_cycles", _cycles, [*rule, timestamp, timestamp], CYCLES),
        ("tollgate_limit_windows", _windows, [*rule, text, timestamp, timestamp], WINDOWS),
        (
            "tollgate_notification_id",
            notification_id,
            [text, text, text, timestamp, sqltypes.INTEGER],
            text,
        ),
        ("tollgate_notification_type", notification_type, [text], text),
        (
            "tollgate_notification_title",
            notification_title,
            [text, text, sqltypes.INTEGER],
            text,
        ),
        (
            "tollgate_notification_message",
            notification_message,
            [text, text, sqltypes.INTEGER, text, quantity, text, timestamp],
            text,
        ),
        ("tollgate_invoice_id", invoice_id, [text, timestamp], text),
        ("tollgate_line_id", line_id, [text, text, text], text),
    ]
    for name, function, parameters, returns in functions:
        # "special": NULLs reach Python, where a NULL dimension (no such property) or a NULL
        # notification feature or threshold has a meaning; a NULL plan, quantity, timestamp
        # or id field is an error, never a silent NULL result.
        con.create_function(
            name,
            _vectorised(function, _ARROW[returns]),
            parameters,
            returns,
            type=PythonUDFType.ARROW,
            null_handling=FunctionNullHandling.SPECIAL,
            side_effects=False,
        )


def _vectorised(function: Callable[..., Any], returns: pa.DataType) -> Callable[..., pa.Array]:
    """``function`` applied to each row of a batch of Arrow columns."""

    # wraps: DuckDB counts the parameters of the signature it sees (inspect follows wraps).
    @functools.wraps(function)
    def batch(*columns: pa.Array) -> pa.Array:
        rows = zip(*(_python_values(column) for column in columns), strict=True)
        return pa.array([function(*row) for row in rows], type=returns)

    return batch


def _python_values(column: pa.Array) -> list[Any]:
    if pa.types.is_timestamp(column.type):
        # Through integers: exact, and much faster than Arrow's zone-aware conversion.
        micros = column.cast(pa.int64()).to_pylist()
        return [None if m is None else _EPOCH + timedelta(microseconds=m) for m in micros]
    return column.to_pylist()  # type: ignore[no-any-return]


def _line_row(line: UsageLine) -> dict[str, Any]:
    unit_amount = None if line.unit_amount is None else decimal_text(line.unit_amount)
    return {
        "kind": line.kind,
        "tier": line.tier,
        "description": line.description,
        "quantity": line.quantity,
        "unit_amount": unit_amount,
        "flat_amount": decimal_text(line.flat_amount),
        "exact_amount": decimal_text(line.exact_amount),
        "amount": line.amount,
    }


def cycle_rule(anchor: datetime, interval: str, anchoring: str, timezone: str) -> CycleRule:
    """A subscription's cycle layout from its SQL columns (enum values as the catalogue's)."""
    if not isinstance(timezone, str):  # a SQL NULL; ZoneInfo's own error would not say so
        raise ValueError(f"a cycle rule needs a time zone name, got {timezone!r}")
    return CycleRule(_utc(anchor), Interval(interval), CycleAnchor(anchoring), timezone)


def limit_windows(
    rule: CycleRule, reset: LimitReset, since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """Every limit window (``cycles.limit_window``) overlapping ``[since, until)``, in order."""
    found: list[tuple[datetime, datetime]] = []
    moment = max(_utc(since), rule.anchor)
    while moment < _utc(until):
        window = limit_window(rule, reset, moment)
        found.append(window)
        moment = window[1]
    return found


def _cycles(
    anchor: datetime,
    interval: str,
    anchoring: str,
    timezone: str,
    since: datetime,
    until: datetime,
) -> list[dict[str, datetime]]:
    rule = cycle_rule(anchor, interval, anchoring, timezone)
    return [
        {
            "cycle_start": _utc(cycle.start),
            "cycle_end": _utc(cycle.end),
            "period_start": _utc(cycle.period_start),
            "period_end": _utc(cycle.period_end),
        }
        for cycle in rule.cycles(_utc(since), _utc(until))
    ]


def _windows(
    anchor: datetime,
    interval: str,
    anchoring: str,
    timezone: str,
    reset: str,
    since: datetime,
    until: datetime,
) -> list[dict[str, datetime]]:
    rule = cycle_rule(anchor, interval, anchoring, timezone)
    return [
        {"window_start": _utc(start), "window_end": _utc(end)}
        for start, end in limit_windows(rule, LimitReset(reset), since, until)
    ]


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (DuckDB hands over aware datetimes in its own tzinfo classes)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware timestamp, got {moment!r}")
    return moment.astimezone(UTC)

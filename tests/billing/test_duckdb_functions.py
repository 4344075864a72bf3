"""The engine's SQL functions in a real DuckDB: invoice lines, cycles, limit windows and ids.

Every function is called through SQL on an in-memory connection and compared with concrete
values worked out by hand and with the Python functions it wraps. The connections run in a
session time zone far from UTC (Asia/Kolkata, +05:30) to show it changes nothing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.billing.test_one_engine import DIMENSION_VALUES, ENGINE_SETTINGS, FEATURES, catalogues
from tests.billing.test_usage_lines import feature_quantities
from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.billing.catalogue.model import CycleAnchor, Interval, LimitReset
from tollgate.billing.cycles import CycleRule, limit_window
from tollgate.billing.duckdb_functions import (
    cycle_rule,
    limit_windows,
    register_pricing_functions,
)
from tollgate.billing.identifiers import invoice_id, line_id, notification_id
from tollgate.billing.pricing import UsageLine, usage_charge, usage_lines

D = Decimal
SESSION_ZONE = "Asia/Kolkata"


def connect(catalogue: Catalogue) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"set TimeZone = '{SESSION_ZONE}'")
    register_pricing_functions(con, catalogue)
    return con


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(default_catalogue())
    yield connection
    connection.close()


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# --- tollgate_usage_lines --------------------------------------------------------------------

LINES_QUERY = """
    select l.line
    from unnest(tollgate_usage_lines(?, ?, ?, ?)) with ordinality as l(line, position)
    order by l.position
"""


def sql_lines(
    con: duckdb.DuckDBPyConnection,
    plan: str,
    feature: str,
    dimension: str | None,
    quantity: Decimal | str,
) -> list[tuple[Any, ...]]:
    rows = con.execute(LINES_QUERY, [plan, feature, dimension, quantity]).fetchall()
    return [tuple(line.values()) for (line,) in rows]


def test_usage_lines_of_the_shipped_plans(con: duckdb.DuckDBPyConnection) -> None:
    # Professional, 6,000,000 tokens: 500,000 included; 4,500,000 x 0.1 = 450,000;
    # 1,000,000 x 0.08 = 80,000.
    assert sql_lines(con, "professional", "ai_tokens", None, D(6_000_000)) == [
        ("included", None, "included", D(500_000), "0", "0", "0", 0),
        ("usage", 1, "tier 1 (up to 4500000)", D(4_500_000), "0.1", "0", "450000", 450_000),
        ("usage", 2, "tier 2 (above 4500000)", D(1_000_000), "0.08", "0", "80000", 80_000),
    ]
    # Pay per use, 1,234,567 llama tokens: volume tier 2, x 0.075 = 92,592.525 -> 92,593.
    assert sql_lines(con, "pay_per_use", "ai_tokens", "llama-3-70b", D(1_234_567)) == [
        (
            "usage",
            2,
            "volume tier 2 (above 1000000 up to 10000000)",
            D(1_234_567),
            "0.075",
            "0",
            "92592.525",
            92_593,
        )
    ]
    # Starter, 25,500 calls: 10,000 included, 16 started packages of 1,000 x 8 = 128; a
    # package price has no unit amount (NULL).
    assert sql_lines(con, "starter", "api_calls", None, D(25_500)) == [
        ("included", None, "included", D(10_000), "0", "0", "0", 0),
        ("usage", None, "package of 1000", D(15_500), None, "0", "128", 128),
    ]
    # Free has no storage: one free line.
    assert sql_lines(con, "free", "storage", None, D(3)) == [
        ("usage", None, "no price", D(3), "0", "0", "0", 0)
    ]


def test_quantities_keep_18_decimal_places(con: duckdb.DuckDBPyConnection) -> None:
    # The pipeline's feature quantity: 12,500.000000001 MB x 0.001 GB per MB, both
    # decimal(38, 9), is the decimal(38, 18) 12.500000000001 GB. On Starter 10 GB are
    # included: 2.500000000001 x 25 = 62.500000000025, billed 63. A decimal(38, 9) parameter
    # would have cut the quantity to 12.5 and the exact amount to 62.5.
    quantity = "12500.000000001::decimal(38, 9) * 0.001::decimal(38, 9)"
    row = con.execute(
        f"""
        select
            typeof({quantity}),
            tollgate_usage_charge('starter', 'storage', null, {quantity}),
            tollgate_usage_charge_exact('starter', 'storage', null, {quantity}),
            tollgate_billable_quantity('starter', 'storage', {quantity}),
            typeof(tollgate_billable_quantity('starter', 'storage', {quantity})),
            tollgate_usage_lines('starter', 'storage', null, {quantity})[2].quantity
        """
    ).fetchone()
    assert row == (
        "DECIMAL(38,18)",
        63,
        "62.500000000025",
        D("2.500000000001"),
        "DECIMAL(38,18)",
        D("2.500000000001"),
    )


CUSTOM = Catalogue.model_validate(
    {
        "features": {
            "calls": {"display_name": "Calls", "event_type": "call", "unit": "call"},
            "tokens": {"display_name": "Tokens", "event_type": "token", "unit": "token"},
        },
        "plans": {
            "metered": {
                "display_name": "Metered",
                "billing_type": "pay_per_use",
                "base_price": 0,
                "features": {
                    # 0-1,000 free, 1,000-10,000 at 0.2, above at 0.1.
                    "calls": {
                        "price": {
                            "model": "graduated",
                            "tiers": [
                                {"up_to": 1000, "unit_amount": "0"},
                                {"up_to": 10000, "unit_amount": "0.2"},
                                {"up_to": "inf", "unit_amount": "0.1"},
                            ],
                        }
                    },
                    "tokens": {"price": {"model": "per_unit", "unit_amount": "0.123456789012"}},
                },
            }
        },
    }
)


def test_usage_lines_with_a_custom_catalogue() -> None:
    con = connect(CUSTOM)
    # 1,000 x 0 = 0; 9,000 x 0.2 = 1,800; 2,345.5 x 0.1 = 234.55: running 2,034.55 -> 2,035.
    assert sql_lines(con, "metered", "calls", None, D("12345.5")) == [
        ("usage", 1, "tier 1 (up to 1000)", D(1000), "0", "0", "0", 0),
        ("usage", 2, "tier 2 (above 1000 up to 10000)", D(9000), "0.2", "0", "1800", 1800),
        ("usage", 3, "tier 3 (above 10000)", D("2345.5"), "0.1", "0", "234.55", 235),
    ]
    # 37 significant digits survive to the text (the default decimal context keeps 28):
    # 12345678123456789123456789 x 123456789012 = 1524157779297668902913581219672002468,
    # with 30 decimal places.
    quantity = D("12345678.123456789123456789")
    expected = "1524157.779297668902913581219672002468"
    ((exact,),) = con.execute(
        "select tollgate_usage_charge_exact('metered', 'tokens', null, ?::decimal(38, 18))",
        [quantity],
    ).fetchall()
    assert exact == expected
    (line,) = sql_lines(con, "metered", "tokens", None, quantity)
    assert line == ("usage", None, "per unit", quantity, "0.123456789012", "0", expected, 1524158)


Row = tuple[str, str, str | None, Decimal]


@st.composite
def usage_rows(draw: st.DrawFn, plans: list[str]) -> list[Row]:
    row = st.tuples(
        st.sampled_from(plans),
        st.sampled_from([*FEATURES, "unknown_feature"]),
        st.sampled_from(DIMENSION_VALUES),
        feature_quantities,
    )
    return draw(st.lists(row, min_size=1, max_size=20))


def _text_is(text: str | None, value: Decimal | None) -> bool:
    """SQL's exact text is the value, written plainly (no exponent, no trailing zeros)."""
    if text is None or value is None:
        return text is None and value is None
    return D(text) == value and "E" not in text and not (text.endswith("0") and "." in text)


def _matches(sql: dict[str, Any], line: UsageLine) -> bool:
    return (
        (sql["kind"], sql["tier"], sql["description"], sql["amount"])
        == (line.kind, line.tier, line.description, line.amount)
        and sql["quantity"] == line.quantity
        and _text_is(sql["unit_amount"], line.unit_amount)
        and _text_is(sql["flat_amount"], line.flat_amount)
        and _text_is(sql["exact_amount"], line.exact_amount)
    )


@ENGINE_SETTINGS
@given(data=st.data(), document=catalogues())
def test_usage_lines_in_sql_are_the_python_lines(
    data: st.DataObject, document: dict[str, Any]
) -> None:
    catalogue = Catalogue.model_validate(document)
    rows = data.draw(usage_rows(list(catalogue.plans)))
    con = connect(catalogue)
    con.execute(
        "create table usage (id integer, plan varchar, feature varchar, dimension varchar, "
        "quantity decimal(38, 18))"
    )
    con.executemany(
        "insert into usage values (?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)]
    )
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for id_, line in con.execute(
        """
        select u.id, l.line
        from usage as u,
            unnest(tollgate_usage_lines(u.plan, u.feature, u.dimension, u.quantity))
                with ordinality as l(line, position)
        order by u.id, l.position
        """
    ).fetchall():
        found[id_].append(line)
    charges = dict(
        con.execute(
            "select id, tollgate_usage_charge(plan, feature, dimension, quantity) from usage"
        ).fetchall()
    )
    con.close()
    for index, (plan, feature, dimension, quantity) in enumerate(rows):
        expected = usage_lines(catalogue.plan(plan), feature, quantity, dimension)
        assert len(found[index]) == len(expected)
        for sql, line in zip(found[index], expected, strict=True):
            assert _matches(sql, line), (sql, line)
        charge = usage_charge(catalogue.plan(plan), feature, quantity, dimension)
        assert sum(sql["amount"] for sql in found[index]) == charges[index] == charge.amount


# --- tollgate_billing_cycles -----------------------------------------------------------------

CYCLES_QUERY = """
    select c.cycle_start, c.cycle_end, c.period_start, c.period_end
    from (select unnest(tollgate_billing_cycles(?, ?, ?, ?, ?, ?)) as c)
"""


def sql_cycles(
    con: duckdb.DuckDBPyConnection, rule: CycleRule, since: datetime, until: datetime
) -> list[tuple[datetime, ...]]:
    parameters = [rule.anchor, rule.interval.value, rule.anchoring.value, rule.timezone]
    return [tuple(row) for row in con.execute(CYCLES_QUERY, [*parameters, since, until]).fetchall()]


def python_cycles(rule: CycleRule, since: datetime, until: datetime) -> list[tuple[datetime, ...]]:
    return [(c.start, c.end, c.period_start, c.period_end) for c in rule.cycles(since, until)]


@pytest.mark.parametrize(
    ("year", "february_end"),
    [
        (2024, utc(2024, 2, 29, 8)),  # leap year: Feb 29
        (2026, utc(2026, 2, 28, 8)),
    ],
)
def test_anniversary_cycles_from_jan_31_in_berlin(
    con: duckdb.DuckDBPyConnection, year: int, february_end: datetime
) -> None:
    # Jan 31 09:00 Berlin (CET, UTC+1) is 08:00 UTC. Cycles renew on the 31st, clamped to
    # February's last day, at 09:00 local: from the last Sunday of March that is 07:00 UTC.
    rule = CycleRule(utc(year, 1, 31, 8), Interval.MONTH, CycleAnchor.ANNIVERSARY, "Europe/Berlin")
    since, until = utc(year, 1, 1), utc(year, 5, 1)
    boundaries = [
        utc(year, 1, 31, 8),
        february_end,
        utc(year, 3, 31, 7),
        utc(year, 4, 30, 7),
        utc(year, 5, 31, 7),
    ]
    expected = [(a, b, a, b) for a, b in itertools.pairwise(boundaries)]
    assert sql_cycles(con, rule, since, until) == expected
    assert python_cycles(rule, since, until) == expected


def test_calendar_cycles_start_short(con: duckdb.DuckDBPyConnection) -> None:
    # Subscribed Mar 17 2026 15:00 UTC, Berlin: the first cycle runs to local midnight on
    # Apr 1 (CEST: Mar 31 22:00 UTC) and is part of March's period, from Mar 1 00:00 CET
    # (Feb 28 23:00 UTC).
    rule = CycleRule(utc(2026, 3, 17, 15), Interval.MONTH, CycleAnchor.CALENDAR, "Europe/Berlin")
    march = (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    april = (utc(2026, 3, 31, 22), utc(2026, 4, 30, 22))
    may = (utc(2026, 4, 30, 22), utc(2026, 5, 31, 22))
    expected = [(utc(2026, 3, 17, 15), march[1], *march), (*april, *april), (*may, *may)]
    assert sql_cycles(con, rule, utc(2026, 1, 1), utc(2026, 5, 1)) == expected
    # Asked from mid-April: only the cycles overlapping [Apr 10, May 1).
    assert sql_cycles(con, rule, utc(2026, 4, 10), utc(2026, 5, 1)) == expected[1:]


def test_yearly_cycles_anchored_on_feb_29(con: duckdb.DuckDBPyConnection) -> None:
    rule = CycleRule(utc(2024, 2, 29, 12), Interval.YEAR, CycleAnchor.ANNIVERSARY, "UTC")
    starts = [utc(2024, 2, 29, 12), utc(2025, 2, 28, 12), utc(2026, 2, 28, 12)]
    ends = [*starts[1:], utc(2027, 2, 28, 12)]
    expected = [(a, b, a, b) for a, b in zip(starts, ends, strict=True)]
    assert sql_cycles(con, rule, utc(2024, 1, 1), utc(2026, 3, 1)) == expected


def test_no_cycles_for_an_empty_or_earlier_range(con: duckdb.DuckDBPyConnection) -> None:
    rule = CycleRule(utc(2026, 3, 17, 15))
    assert sql_cycles(con, rule, utc(2026, 5, 1), utc(2026, 5, 1)) == []
    assert sql_cycles(con, rule, utc(2026, 6, 1), utc(2026, 5, 1)) == []
    # Entirely before the subscription started.
    assert sql_cycles(con, rule, utc(2026, 1, 1), utc(2026, 3, 17, 15)) == []


def test_invalid_cycle_arguments_are_errors(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error, match="'week' is not a valid Interval"):
        con.execute(
            "select tollgate_billing_cycles(?, 'week', 'anniversary', 'UTC', ?, ?)",
            [utc(2026, 1, 1), utc(2026, 1, 1), utc(2026, 3, 1)],
        ).fetchall()
    with pytest.raises(duckdb.Error, match="needs a time zone name, got None"):
        con.execute(
            "select tollgate_limit_windows(?, 'month', 'calendar', null, 'cycle', ?, ?)",
            [utc(2026, 1, 1), utc(2026, 1, 1), utc(2026, 3, 1)],
        ).fetchall()
    with pytest.raises(duckdb.Error, match="Mars/Olympus"):
        con.execute(
            "select tollgate_billing_cycles(?, 'month', 'calendar', 'Mars/Olympus', ?, ?)",
            [utc(2026, 1, 1), utc(2026, 1, 1), utc(2026, 3, 1)],
        ).fetchall()


# --- tollgate_limit_windows ------------------------------------------------------------------

WINDOWS_QUERY = """
    select w.window_start, w.window_end
    from (select unnest(tollgate_limit_windows(?, ?, ?, ?, ?, ?, ?)) as w)
"""


def sql_windows(
    con: duckdb.DuckDBPyConnection,
    rule: CycleRule,
    reset: LimitReset,
    since: datetime,
    until: datetime,
) -> list[tuple[datetime, datetime]]:
    parameters = [rule.anchor, rule.interval.value, rule.anchoring.value, rule.timezone]
    rows = con.execute(WINDOWS_QUERY, [*parameters, reset.value, since, until]).fetchall()
    return [(start, end) for start, end in rows]


JAN_31_BERLIN = CycleRule(utc(2024, 1, 31, 8), timezone="Europe/Berlin")


def test_cycle_limit_windows_are_the_cycles(con: duckdb.DuckDBPyConnection) -> None:
    windows = sql_windows(con, JAN_31_BERLIN, LimitReset.CYCLE, utc(2024, 2, 10), utc(2024, 4, 1))
    assert windows == [
        (utc(2024, 1, 31, 8), utc(2024, 2, 29, 8)),
        (utc(2024, 2, 29, 8), utc(2024, 3, 31, 7)),
        (utc(2024, 3, 31, 7), utc(2024, 4, 30, 7)),  # overlaps [.., Apr 1 00:00 UTC)
    ]
    # Up to the last cycle boundary only (half-open): no window starting there.
    assert (
        sql_windows(con, JAN_31_BERLIN, LimitReset.CYCLE, utc(2024, 2, 10), utc(2024, 3, 31, 7))
        == windows[:2]
    )


def test_calendar_month_windows_follow_the_customers_months(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Anniversary cycles, but limits reset at local midnight on the 1st (Berlin: 23:00 UTC in
    # winter, 22:00 in summer); the first window starts at the subscription.
    windows = sql_windows(
        con, JAN_31_BERLIN, LimitReset.CALENDAR_MONTH, utc(2024, 1, 1), utc(2024, 4, 1)
    )
    assert windows == [
        (utc(2024, 1, 31, 8), utc(2024, 1, 31, 23)),
        (utc(2024, 1, 31, 23), utc(2024, 2, 29, 23)),
        (utc(2024, 2, 29, 23), utc(2024, 3, 31, 22)),
        (utc(2024, 3, 31, 22), utc(2024, 4, 30, 22)),
    ]
    assert (
        sql_windows(con, JAN_31_BERLIN, LimitReset.CALENDAR_MONTH, utc(2024, 4, 1), utc(2024, 4, 1))
        == []
    )


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])


@ENGINE_SETTINGS
@given(
    anchor=instants,
    interval=st.sampled_from(list(Interval)),
    anchoring=st.sampled_from(list(CycleAnchor)),
    zone=zones,
    reset=st.sampled_from(list(LimitReset)),
    since=instants,
    length=st.integers(-10, 800).map(lambda days: timedelta(days=days)),
)
def test_cycles_and_windows_in_sql_are_the_python_ones(
    anchor: datetime,
    interval: Interval,
    anchoring: CycleAnchor,
    zone: str,
    reset: LimitReset,
    since: datetime,
    length: timedelta,
) -> None:
    rule = cycle_rule(anchor, interval.value, anchoring.value, zone)
    until = since + length
    with connect(default_catalogue()) as con:
        cycles = sql_cycles(con, rule, since, until)
        windows = sql_windows(con, rule, reset, since, until)
    assert cycles == python_cycles(rule, since, until)
    assert windows == limit_windows(rule, reset, since, until)
    # The windows tile [max(since, anchor), until) without gaps, each the window of its start.
    if windows:
        assert windows[0][0] <= max(since, anchor) < windows[0][1]
        assert windows[-1][0] < until <= windows[-1][1]
    else:
        assert until <= max(since, anchor)
    for (start, end), following in itertools.pairwise(windows):
        assert end == following[0]
        assert limit_window(rule, reset, start) == (start, end)


# --- identifiers -----------------------------------------------------------------------------

MARCH = utc(2026, 3, 1)


def test_identifiers_in_sql_are_the_python_ones(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(
        """
        select
            tollgate_invoice_id('cus_1', ?),
            tollgate_invoice_id('cus_1', timestamptz '2026-03-01 01:00:00+01'),
            tollgate_line_id('inv_x', 'usage', 'ai_tokens'),
            tollgate_notification_id('cus_1', 'usage_alert', 'ai_tokens', ?, 90),
            tollgate_notification_id('cus_1', 'usage_alert', null, ?, null),
            tollgate_notification_id('cus_1', 'usage_alert', null,
                timestamptz '2026-03-01 00:00:00.000001+00', null)
        """,
        [MARCH, MARCH, MARCH],
    ).fetchone()
    assert row == (
        invoice_id("cus_1", MARCH),
        invoice_id("cus_1", MARCH),  # the same instant written in another offset
        line_id("inv_x", "usage", "ai_tokens"),
        notification_id("cus_1", "usage_alert", "ai_tokens", MARCH, 90),
        notification_id("cus_1", "usage_alert", None, MARCH, None),
        notification_id("cus_1", "usage_alert", None, MARCH + timedelta(microseconds=1), None),
    )
    # Pinned (see test_identifiers.py): SQL mints exactly these.
    assert row[0] == "inv_73236db842609e52169e3716"
    assert row[2] == "il_ea83b6fab146427b27e13f6f"
    assert row[4] == "ntf_49b35569b3590f673d68d0f9"
    assert len(set(row)) == 5


def test_an_invoice_id_per_cycle_in_sql(con: duckdb.DuckDBPyConnection) -> None:
    # The pipeline's way: one invoice per customer and cycle, its id from the cycle start.
    rule = CycleRule(utc(2026, 1, 31, 8), timezone="Europe/Berlin")
    ids = con.execute(
        """
        select tollgate_invoice_id('cus_7', c.cycle_start)
        from (select unnest(tollgate_billing_cycles(?, 'month', 'anniversary', 'Europe/Berlin',
            ?, ?)) as c)
        """,
        [rule.anchor, utc(2026, 1, 1), utc(2026, 4, 1)],
    ).fetchall()
    assert [id_ for (id_,) in ids] == [
        invoice_id("cus_7", start)
        for start in [utc(2026, 1, 31, 8), utc(2026, 2, 28, 8), utc(2026, 3, 31, 7)]
    ]


def test_a_missing_customer_is_an_error_in_sql(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error, match="must be text, got NoneType"):
        con.execute("select tollgate_invoice_id(null, ?)", [MARCH]).fetchall()

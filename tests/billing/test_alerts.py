"""The alert rule and texts: one answer in Python (the API) and in SQL (the pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import duckdb

from tollgate.billing.alerts import notification_message, threshold_reached
from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.duckdb_functions import register_pricing_functions
from tollgate.billing.sql_rules import render_macro


def _sql_rule() -> str:
    return render_macro(
        "usage_aggregation.sql", "threshold_reached", "used", "limit_value", "percent"
    )


def test_the_dbt_macro_and_python_agree_on_when_a_threshold_is_reached() -> None:
    cases = [
        (Decimal(used), Decimal(limit), percent)
        for used in ("0", "0.5", "749", "749.999999999", "750", "751", "1000", "1001")
        for limit in ("0", "1", "1000", "999.5")
        for percent in (75, 90, 100, 150)
    ]
    db = duckdb.connect()
    db.execute(
        "create table cases (used decimal(38, 18), limit_value decimal(38, 9), percent integer)"
    )
    db.executemany("insert into cases values (?, ?, ?)", cases)
    sql = db.sql(f"select used, limit_value, percent, {_sql_rule()} from cases").fetchall()  # noqa: S608

    assert len(sql) == len(cases)
    for used, limit, percent, reached in sql:
        assert reached == threshold_reached(used, limit, percent), (used, limit, percent)


def test_the_pipeline_words_a_notice_exactly_as_the_api_does() -> None:
    db = duckdb.connect()
    register_pricing_functions(db, default_catalogue())
    start = datetime(2026, 11, 1, tzinfo=UTC)

    (row,) = db.execute(
        "select tollgate_notification_message('exceeded', 'API calls', 100, 'hard', "
        "1000::decimal(38, 9), 'call', $start)",
        {"start": start},
    ).fetchall()

    assert row[0] == notification_message(
        "exceeded", "API calls", 100, "hard", Decimal(1000), "call", start
    )
    assert row[0] == (
        "API calls usage reached 100% of the hard limit of 1000.00 call for the period from "
        "2026-11-01. Further use is refused until the limit resets."
    )

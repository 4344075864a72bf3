"""The admin analytics pages: they render, show what the published marts hold (queried here
directly), refuse anyone but an admin, and say so when nothing is published yet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.admin_queries import (
    HISTOGRAM_BINS,
    NOTHING_PUBLISHED,
    STALE_AFTER,
    freshness,
    usage_histogram,
)
from dashboards.auth import SESSION_KEY, Viewer
from dashboards.formatting import format_age, format_amount, format_number
from tests.billing_api.world import World
from tests.dashboards.conftest import PAGES, TIMEOUT, key_id, signed_in
from tollgate.billing.money import format_money
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.settings import TollgateSettings
from tollgate.warehouse.reader import PublishedMarts

ADMIN_PAGES = {
    "admin_usage.py": "Usage trends",
    "admin_revenue.py": "Revenue",
    "admin_customers.py": "Customers",
    "admin_limits.py": "Limit utilization",
    "admin_notifications.py": "Notifications",
    "admin_deliveries.py": "Deliveries",
    "admin_pipeline.py": "Pipeline freshness",
}
# Pages that read the control plane live, not the marts (tests/dashboards/test_deliveries_page.py).
LIVE_PAGES = {"admin_deliveries.py"}
REFUSED = "This page is for operators: sign in with an admin key."


@pytest.fixture
def marts(world: World) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published marts the pages read, queried directly."""
    with PublishedMarts(TollgateSettings(data_dir=world.data_dir).marts_dir).connect() as con:
        yield con


def _one(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> tuple[Any, ...]:
    (row,) = con.execute(sql, list(params)).fetchall()
    return tuple(row)


def _admin_on(world: World, page: str) -> AppTest:
    app = signed_in(world.admin_key)
    app.switch_page(str(PAGES / page)).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == [ADMIN_PAGES[page]]
    return app


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


@pytest.mark.parametrize("page", list(ADMIN_PAGES))
def test_every_admin_page_renders_for_an_admin(world: World, page: str) -> None:
    app = _admin_on(world, page)

    assert not app.error
    assert app.metric  # figures, not an empty page


@pytest.mark.parametrize("page", list(ADMIN_PAGES))
def test_a_customer_key_cannot_reach_an_admin_page(world: World, page: str) -> None:
    app = signed_in(world.tenants["acme"].key)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(str(PAGES / page))

    # Run directly, the page refuses on its own and shows nothing else.
    direct = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
    direct.session_state[SESSION_KEY] = Viewer(
        key_id(world.tenants["acme"].key), "acme", is_admin=False
    )
    direct.run()
    assert not direct.exception
    assert [e.value for e in direct.error] == [REFUSED]
    assert not direct.title
    assert not direct.metric


def test_usage_trends_add_up_the_daily_usage_mart(
    world: World, marts: duckdb.DuckDBPyConnection
) -> None:
    app = _admin_on(world, "admin_usage.py")

    # The default period: the last 30 days with usage, up to the newest day in the mart.
    period = "usage_date > (select max(usage_date) from mart_daily_usage) - 30"
    (events,) = _one(marts, f"select sum(events) from mart_daily_usage where {period}")  # noqa: S608
    metrics = _metrics(app)
    assert metrics["Events"] == f"{events:,}"
    rows = marts.execute(
        "select f.display_name, f.unit, sum(u.quantity) from mart_daily_usage as u "  # noqa: S608
        f"join dim_features as f using (feature) where {period} group by all"
    ).fetchall()
    assert rows
    for name, unit, quantity in rows:
        assert metrics[name] == f"{format_number(quantity)} {unit}"
    # acme's 40,000 calls and dana's 10,000 and nell's 800 are in the current cycle's days.
    assert Decimal(metrics["API calls"].split(" ")[0].replace(",", "")) >= 50_800

    app.selectbox[0].select("All").run()
    assert not app.exception
    (all_events,) = _one(marts, "select sum(events) from mart_daily_usage")
    assert _metrics(app)["Events"] == f"{all_events:,}"


def test_revenue_shows_the_invoiced_amounts_and_mrr(
    world: World, marts: duckdb.DuckDBPyConnection
) -> None:
    app = _admin_on(world, "admin_revenue.py")

    total, latest = _one(
        marts,
        "select sum(amount), max(revenue_month) from mart_revenue_by_month where currency = 'usd'",
    )
    (latest_amount,) = _one(
        marts,
        "select sum(amount) from mart_revenue_by_month "
        "where currency = 'usd' and revenue_month = ?",
        latest,
    )
    mrr, paying = _one(
        marts,
        "select mrr::decimal(38, 6), paying_subscriptions from mart_mrr "
        "where currency = 'usd' order by mrr_month desc limit 1",
    )
    metrics = _metrics(app)
    assert metrics["Invoiced, all months"] == format_money(int(total), "usd")
    assert metrics[f"Invoiced, latest month ({latest:%b %Y})"] == format_money(
        int(latest_amount), "usd"
    )
    assert metrics["MRR"] == format_amount(mrr, "usd")
    # acme and dana on Professional (79.00), pp on pay-per-use, nell free: 158.00 a month.
    assert metrics["MRR"] == "USD 158.00"
    assert metrics["Paying subscriptions"] == f"{paying:,}" == "2"

    # The by-plan table's totals are the mart's, month by month.
    by_plan = app.dataframe[0].value
    expected = dict(
        marts.execute(
            "select strftime(revenue_month, '%b %Y'), sum(amount) from mart_revenue_by_month "
            "where currency = 'usd' group by all"
        ).fetchall()
    )
    shown = dict(zip(by_plan["Month"], by_plan["Total"], strict=True))
    assert shown == {month: format_money(int(amount), "usd") for month, amount in expected.items()}
    # acme's first cycle: 7,900 base + 10,000 tokens + 6 cents of calls on Professional.
    assert "Professional" in by_plan.columns

    app.radio[0].set_value("Finalized invoices only").run()
    assert not app.exception
    (finalized,) = _one(
        marts,
        "select coalesce(sum(amount), 0) from mart_revenue_by_month "
        "where currency = 'usd' and invoice_status = 'finalized'",
    )
    assert finalized > 0  # the first cycle was finalized by the world's pipeline run
    assert _metrics(app)["Invoiced, all months"] == format_money(int(finalized), "usd")


def test_customers_show_the_distribution_and_top_customers(
    world: World, marts: duckdb.DuckDBPyConnection
) -> None:
    app = _admin_on(world, "admin_customers.py")
    feature = app.selectbox[0].value
    assert feature == "ai_tokens"  # the first feature by name

    customers, largest = _one(
        marts,
        "select count(*), max(quantity) from mart_customer_usage where feature = 'ai_tokens'",
    )
    metrics = _metrics(app)
    assert metrics["Customers"] == f"{customers:,}"
    assert metrics["Largest"] == f"{format_number(largest)} token"
    # dana's 450,000 tokens this cycle lead; pp's 3,500 follow.
    top = app.dataframe[0].value
    expected = [
        row[0]
        for row in marts.execute(
            "select customer_id from mart_customer_usage where feature = 'ai_tokens' "
            "order by quantity desc, customer_id"
        ).fetchall()
    ]
    assert list(top["Customer"]) == expected[:20]
    assert list(top["Customer"])[:2] == ["dana", "pp"]
    assert top["Usage"].iloc[0] == "450,000 token"
    # The histogram (binned in DuckDB) counts every customer once, in bins spanning the range.
    bins = usage_histogram(marts, "ai_tokens", HISTOGRAM_BINS)
    assert bins.height == HISTOGRAM_BINS
    assert bins["customers"].sum() == customers
    assert bins["bin_end"].max() == float(largest)

    app.selectbox[0].select("api_calls").run()
    assert not app.exception
    (calls_customers,) = _one(
        marts, "select count(*) from mart_customer_usage where feature = 'api_calls'"
    )
    assert _metrics(app)["Customers"] == f"{calls_customers:,}"


def test_limit_utilization_shows_who_is_near_or_over(
    world: World, marts: duckdb.DuckDBPyConnection
) -> None:
    app = _admin_on(world, "admin_limits.py")

    near, over = _one(
        marts,
        """
        with c as (
            select customer_id, bool_or(status = 'exceeded') as over,
                bool_or(status in ('warning', 'critical')) as near
            from fct_limit_status where limit_value is not null group by customer_id
        )
        select count(*) filter (where near and not over), count(*) filter (where over) from c
        """,
    )
    metrics = _metrics(app)
    assert metrics["Near a limit"] == f"{near:,}"
    assert metrics["Over a limit"] == f"{over:,}"
    # nell: 800 of the free plan's 1,000 calls, a warning.
    listed = app.dataframe[0].value
    nell = listed[listed["Customer"] == "nell"]
    assert list(nell["Status"]) == ["Warning"]
    assert list(nell["Used"]) == ["800"]
    assert list(nell["Limit"]) == ["1,000"]
    expected = marts.execute(
        "select customer_id, feature from fct_limit_status "
        "where status in ('warning', 'critical', 'exceeded') order by percent_used desc"
    ).fetchall()
    assert list(zip(listed["Customer"], listed["Feature"], strict=True)) == expected

    app.multiselect[0].set_value(["exceeded"]).run()
    assert not app.exception
    exceeded = app.dataframe[0].value if over else None
    if exceeded is not None:
        assert set(exceeded["Status"]) == {"Over"}


def test_notifications_are_counted_per_type(world: World, marts: duckdb.DuckDBPyConnection) -> None:
    app = _admin_on(world, "admin_notifications.py")

    recent = "created_at >= (select max(created_at) from fct_notifications) - interval 30 days"
    rows = dict(
        marts.execute(
            f"select notification_type, count(*) from fct_notifications where {recent} "  # noqa: S608
            "group by all"
        ).fetchall()
    )
    (unread,) = _one(
        marts,
        f"select count(*) from fct_notifications where {recent} and not is_read",  # noqa: S608
    )
    metrics = _metrics(app)
    assert metrics["Notifications"] == f"{sum(rows.values()):,}"
    assert metrics["Unread"] == f"{unread:,}"
    assert metrics["Limit warning"] == f"{rows['limit_warning']:,}"  # nell's 80 %
    assert metrics["Billing period ended"] == f"{rows['billing_cycle_end']:,}" == "4"


def test_pipeline_freshness_shows_when_each_mart_was_materialized(world: World) -> None:
    manifest = PublishedMarts(TollgateSettings(data_dir=world.data_dir).marts_dir).manifest()
    materialized = manifest["extra"]["materialized_at"]
    # The publishing asset recorded every published table's latest materialization.
    assert set(materialized) == set(manifest["tables"])
    published = datetime.fromisoformat(manifest["published_at"])
    for table, at in materialized.items():
        assert at is not None, table
        assert datetime.fromisoformat(at) <= published

    app = _admin_on(world, "admin_pipeline.py")

    table = app.dataframe[0].value
    assert list(table["Mart"]) == list(manifest["tables"])
    assert list(table["Rows"]) == [f"{rows:,}" for rows in manifest["tables"].values()]
    for mart, shown in zip(table["Mart"], table["Last materialized"], strict=True):
        at = datetime.fromisoformat(materialized[mart]).astimezone(UTC)
        assert shown == f"{at:%d %b %Y %H:%M:%S} UTC"
    # Materialized while the session started: well within the two hours.
    assert set(table["Status"]) == {"Fresh"}
    assert _metrics(app)["Stale marts (over 2 h)"] == "0"
    assert _metrics(app)["Marts of unknown age"] == "0"


def test_freshness_flags_stale_and_unknown_marts() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    manifest = {
        "published_at": (now - timedelta(minutes=5)).isoformat(),
        "tables": {"fresh": 10, "stale": 2_000, "unknown": 3, "older_manifest": 1},
        "extra": {
            "as_of": (now - timedelta(minutes=6)).isoformat(),
            "run_id": "r1",
            "materialized_at": {
                "fresh": (now - timedelta(minutes=30)).isoformat(),
                "stale": (now - STALE_AFTER - timedelta(seconds=1)).isoformat(),
                "unknown": None,
            },
        },
    }

    state = freshness(manifest, now)

    assert state.run_id == "r1"
    assert state.published_at == now - timedelta(minutes=5)
    assert state.marts["stale"].to_list() == [False, True, None, None]
    assert state.marts["rows"].to_list() == [10, 2_000, 3, 1]
    # A manifest from before materialized_at existed: every time unknown, nothing fails.
    old = freshness({"published_at": now.isoformat(), "tables": {"a": 1}, "extra": {}}, now)
    assert old.as_of is None
    assert old.marts["materialized_at"].to_list() == [None]
    assert format_age(timedelta(hours=3, minutes=5)) == "3 h 5 min"


@pytest.mark.parametrize("page", [page for page in ADMIN_PAGES if page not in LIVE_PAGES])
def test_nothing_published_yet_is_said_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path))
    engine = open_control_database(f"sqlite:///{tmp_path / 'control.sqlite'}")
    admin = KeyStore(engine, actor="tests").create("admin", [Scope.ADMIN]).key
    engine.dispose()

    app = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = Viewer(admin.key_id, None, is_admin=True)
    app.run()

    assert not app.exception
    assert [t.value for t in app.title] == [ADMIN_PAGES[page]]
    assert [i.value for i in app.info] == [NOTHING_PUBLISHED]
    assert not app.metric

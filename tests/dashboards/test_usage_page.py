"""The Usage page shows what ``GET /usage`` answers, for the signed-in customer only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from dashboards.auth import CUSTOMER_PICK_KEY
from tests.billing_api.world import Event, World, publish
from tests.dashboards.conftest import signed_in

PAGE = "app_pages/usage.py"
DISPLAY = {"api_calls": "API calls", "ai_tokens": "AI tokens", "storage": "Storage"}
UNIT = {"api_calls": "call", "ai_tokens": "token", "storage": "GB"}


def _usage(world: World, token: str, **params: str) -> dict[str, Any]:
    response = world.request("GET", "/usage", token, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _usage_page(token: str) -> AppTest:
    app = signed_in(token)
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def _table(app: AppTest, column: str) -> list[dict[str, Any]]:
    """The one table with ``column``."""
    found = [frame for frame in app.dataframe if column in frame.value.columns]
    assert len(found) == 1, [list(frame.value.columns) for frame in app.dataframe]
    rows: list[dict[str, Any]] = found[0].value.to_dict("records")
    return rows


def _expected_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "Day": day["date"],
            "Feature": DISPLAY[day["feature"]],
            "Dimension": day["dimension"] or "",
            "Quantity": f"{Decimal(day['quantity']):,}",
            "Unit": UNIT[day["feature"]],
            "Events": f"{day['events']:,}",
        }
        for day in body["days"]
    ]


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """What the page offers for download, by file name (as the media storage receives it)."""
    offered: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(
        self: MemoryMediaFileStorage,
        path_or_data: str | bytes,
        mimetype: str,
        kind: Any,
        filename: str | None = None,
    ) -> str:
        if isinstance(path_or_data, bytes) and filename is not None:
            offered[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return offered


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_the_usage_page_shows_what_get_usage_answers(world: World) -> None:
    token = world.tenants["pp"].key
    body = _usage(world, token)  # the current cycle to today, as the page's default
    app = _usage_page(token)

    assert app.title[0].value == "Usage · pp"
    days = app.date_input(key="usage_days_pp")
    assert days.value == (date.fromisoformat(body["from"]), date.fromisoformat(body["to"]))
    assert _table(app, "Day") == _expected_rows(body)
    assert len(body["days"]) == 3  # the fixture: two models on one day, one on the next

    # Totals over the range, per feature in its own unit.
    metrics = {metric.label: metric.value for metric in app.metric}
    tokens = sum(Decimal(d["quantity"]) for d in body["days"] if d["feature"] == "ai_tokens")
    assert tokens == 3500
    assert metrics["AI tokens · total"] == f"{tokens:,} token"
    assert metrics["API calls · total"] == "0 call"

    # The plan prices tokens by model: the breakdown totals each model over the range.
    by_model: dict[str, Decimal] = {}
    for day in body["days"]:
        by_model[day["dimension"]] = by_model.get(day["dimension"], Decimal(0)) + Decimal(
            day["quantity"]
        )
    breakdown = _table(app, "Share")
    assert [(row["model"], row["Total (token)"]) for row in breakdown] == [
        (model, f"{quantity:,}")
        for model, quantity in sorted(by_model.items(), key=lambda item: -item[1])
    ]
    assert [row["Share"] for row in breakdown] == ["71.4%", "28.6%"]  # 2,500 and 1,000
    assert app.subheader.values[:1] == ["AI tokens"]  # one chart per feature with usage


def test_a_range_and_a_feature_are_what_get_usage_answers_for_them(
    world: World, downloads: dict[str, bytes]
) -> None:
    token = world.tenants["acme"].key
    first = world.first_cycle_start.date()
    start, end = first, first + timedelta(days=5)
    body = _usage(world, token, **{"from": start.isoformat(), "to": end.isoformat()})
    app = _usage_page(token)

    app.date_input(key="usage_days_acme").set_value((start, end)).run()
    assert not app.exception
    assert _table(app, "Day") == _expected_rows(body)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["AI tokens · total"] == "600,000 token"
    assert metrics["API calls · total"] == "51,000 call"
    name = f"usage_acme_{start}_{end}.csv"
    assert _csv(downloads[name])[1:] == [
        [d["date"], d["feature"], UNIT[d["feature"]], d["dimension"] or "", d["quantity"], "1"]
        for d in body["days"]
    ]

    app.selectbox(key="usage_feature_acme").set_value("api_calls").run()
    assert not app.exception
    only = _usage(
        world, token, **{"from": start.isoformat(), "to": end.isoformat(), "feature": "api_calls"}
    )
    assert _table(app, "Day") == _expected_rows(only)
    assert [row[1] for row in _csv(downloads[name])[1:]] == ["api_calls"]


def test_the_csv_has_the_exact_quantities(world: World, downloads: dict[str, bytes]) -> None:
    tenant = world.tenant("starter")
    day = datetime(2026, 3, 9, 12, tzinfo=UTC)
    # More digits than a float holds: the CSV must carry the decimal as the API writes it.
    huge = "12345678901234567890.123456789"
    events = [
        Event(tenant.id, "storage", huge, day, event_id=f"{tenant.id}-disk"),
        Event(tenant.id, "api_call", 7, day + timedelta(hours=1), event_id=f"{tenant.id}-c1"),
    ]
    publish(world.settings, 970_000 + int(tenant.id[-4:], 16), events, day)
    body = _usage(world, tenant.key, **{"from": "2026-03-09", "to": "2026-03-09"})
    assert [d["quantity"] for d in body["days"]] == ["7", huge]

    app = _usage_page(tenant.key)
    app.date_input(key=f"usage_days_{tenant.id}").set_value((date(2026, 3, 9), date(2026, 3, 9)))
    app.run()

    assert not app.exception
    rows = _csv(downloads[f"usage_{tenant.id}_2026-03-09_2026-03-09.csv"])
    assert rows == [
        ["date", "feature", "unit", "dimension", "quantity", "events"],
        ["2026-03-09", "api_calls", "call", "", "7", "1"],
        ["2026-03-09", "storage", "GB", "", huge, "1"],
    ]
    shown = {metric.label: metric.value for metric in app.metric}
    assert shown["Storage · total"] == "12,345,678,901,234,567,890.123456789 GB"
    assert app.download_button(key="usage_csv").label == "Download CSV"


def test_a_customer_key_sees_only_its_own_usage(world: World) -> None:
    app = _usage_page(world.tenants["acme"].key)
    acme_rows = _table(app, "Day")
    assert acme_rows == _expected_rows(_usage(world, world.tenants["acme"].key))

    # A forged pick of another customer is ignored: the key decides.
    app.session_state[CUSTOMER_PICK_KEY] = "pp"
    app.run()
    assert not app.exception
    assert app.title[0].value == "Usage · acme"
    assert _table(app, "Day") == acme_rows
    assert not [row for row in acme_rows if row["Dimension"]]  # pp's models never show


def test_an_admin_picks_the_customer(world: World) -> None:
    app = signed_in(world.admin_key)
    app.switch_page(PAGE).run()
    app.sidebar.selectbox(key=CUSTOMER_PICK_KEY).set_value("pp").run()

    assert not app.exception
    assert app.title[0].value == "Usage · pp"
    body = world.as_admin("GET", "/usage", "pp").json()
    assert _table(app, "Day") == _expected_rows(body)

"""The Overview page shows what the billing API's summary says, for the signed-in customer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboards.customer_data import days_left
from tests.billing_api.world import World
from tests.dashboards.conftest import signed_in


def _summary(world: World, token: str) -> dict[str, Any]:
    response = world.request("GET", "/summary", token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _progress(app: AppTest) -> list[tuple[int, str, str]]:
    """(filled percent, label, status) of each limit bar, in page order."""
    shown = [m.value for m in app.markdown]
    bars = []
    for n, html in enumerate(shown):
        bar = re.search(r'role="progressbar" aria-valuenow="(\d+)".*data-status="(\w+)"', html)
        if bar:
            # The label is the markdown just before the bar.
            bars.append((int(bar.group(1)), shown[n - 1], bar.group(2)))
    return bars


def _usd(text: str) -> Decimal:
    currency, amount = text.split(" ")
    assert currency == "USD"
    return Decimal(amount.replace(",", ""))


def test_overview_shows_the_billing_summary(world: World) -> None:
    token = world.tenants["acme"].key
    before, started = _summary(world, token), datetime.now(UTC)
    app = signed_in(token)
    after, ended = _summary(world, token), datetime.now(UTC)

    assert not app.exception
    assert app.title[0].value == "Overview · acme"
    metrics = _metrics(app)
    assert metrics["Plan"] == before["plan"]["display_name"] == "Professional"
    # Cost so far does not move with the clock; the projection only falls as the cycle
    # elapses, so what the page showed lies between the answers just before and after it.
    assert before["cost"]["so_far"] == after["cost"]["so_far"]
    assert _usd(metrics["Cost so far"]) == Decimal(before["cost"]["so_far"]["decimal"])
    projected = _usd(metrics["Projected at cycle end"])
    low, high = after["cost"]["projected"]["decimal"], before["cost"]["projected"]["decimal"]
    assert Decimal(low) <= projected <= Decimal(high)
    assert projected > _usd(metrics["Cost so far"])  # calls used this cycle, extrapolated
    end = datetime.fromisoformat(before["cycle"]["end"])
    assert int(metrics["Days left in cycle"]) in {days_left(end, started), days_left(end, ended)}

    limits = {limit["display_name"]: limit for limit in before["limits"]}
    bars = _progress(app)
    assert len(bars) == len([limit for limit in limits.values() if limit["limit"] is not None])
    for value, text, _ in bars:
        name = text.split("**")[1]
        limit = limits[name]
        assert f"{int(limit['used']):,} / {int(limit['limit']):,} {limit['unit']}" in text
        assert value == min(int(Decimal(limit["percent_used"])), 100)


def test_limit_bars_are_coloured_by_the_alert_thresholds(world: World) -> None:
    # nell (free plan): 800 of 1,000 API calls (80 %: past the 75 % warning), no AI tokens.
    app = signed_in(world.tenants["nell"].key)

    assert not app.exception
    bars = {text.split("**")[1]: (value, text, status) for value, text, status in _progress(app)}
    calls_value, calls_text, calls_status = bars["API calls"]
    assert calls_value == 80
    assert "800 / 1,000 call (80.00 %)" in calls_text
    assert ":orange[**Warning**]" in calls_text
    assert calls_status == "warning"  # the amber bar
    tokens_value, tokens_text, tokens_status = bars["AI tokens"]
    assert tokens_value == 0
    assert ":green[**OK**]" in tokens_text
    assert tokens_status == "ok"


def test_unread_notifications_are_counted_and_the_latest_listed(world: World) -> None:
    token = world.tenants["nell"].key
    response = world.request("GET", "/notifications", token)
    assert response.status_code == 200
    unread = response.json()["notifications"]
    assert any(n["type"] == "limit_warning" for n in unread)  # the 80 % above

    app = signed_in(token)

    assert not app.exception
    headings = [h.value for h in app.subheader]
    assert f"Unread notifications ({len(unread)})" in headings
    listed = [m.value for m in app.markdown if "UTC" in m.value]
    assert len(listed) == min(len(unread), 5)
    for notice, shown in zip(unread, listed, strict=False):
        assert notice["title"] in shown  # newest first, like the API

"""GET /api/billing/usage: usage by day, feature and dimension, from the stored events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.billing_api.world import Event, Tenant, World, publish
from tests.support.server import wait_until


def _usage(world: World, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = world.request("GET", "/usage", tenant.key, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _rows(body: dict[str, Any]) -> list[tuple[str, str, str | None, str, int]]:
    return [
        (d["date"], d["feature"], d["dimension"], d["quantity"], d["events"]) for d in body["days"]
    ]


def test_the_current_cycle_by_default(world: World) -> None:
    body = _usage(world, world.tenants["acme"])
    three_days_ago = (world.now - timedelta(days=3)).date().isoformat()
    assert _rows(body) == [(three_days_ago, "api_calls", None, "40000", 1)]
    assert body["to"] == datetime.now(UTC).date().isoformat()
    assert body["from"] <= three_days_ago


def test_a_range_of_days(world: World) -> None:
    start = world.first_cycle_start
    body = _usage(world, world.tenants["acme"], **{"from": start.date().isoformat()})

    def day(n: int) -> str:
        return (start + timedelta(days=n)).date().isoformat()

    assert _rows(body)[:3] == [
        (day(1), "ai_tokens", None, "300000", 1),
        (day(2), "ai_tokens", None, "300000", 1),
        (day(2), "api_calls", None, "51000", 1),
    ]
    only = _usage(
        world, world.tenants["acme"], **{"from": day(2), "to": day(2), "feature": "api_calls"}
    )
    assert _rows(only) == [(day(2), "api_calls", None, "51000", 1)]


def test_usage_is_split_by_the_plans_pricing_dimension(world: World) -> None:
    body = _usage(world, world.tenants["pp"])
    three, two = ((world.now - timedelta(days=n)).date().isoformat() for n in (3, 2))
    assert _rows(body) == [
        (three, "ai_tokens", "gpt-4o-mini", "2000", 1),
        (three, "ai_tokens", "llama-3-70b", "1000", 1),
        (two, "ai_tokens", "gpt-4o-mini", "500", 1),
    ]


def test_events_count_once_in_the_features_unit(world: World) -> None:
    tenant = world.tenant("starter")
    day = datetime(2026, 6, 3, 10, tzinfo=UTC)
    events = [
        Event(tenant.id, "storage", "2.5", day, event_id="disk-1"),
        Event(tenant.id, "api_call", "3", day, event_id="calls-1"),
    ]
    # The same event ids published twice (a retry after the dedup window): counted once.
    publish(world.settings, 900_001, events, day)
    publish(world.settings, 900_002, events, day + timedelta(hours=1))
    body = _usage(world, tenant, **{"from": "2026-06-01", "to": "2026-06-30"})
    assert _rows(body) == [
        ("2026-06-03", "api_calls", None, "3", 1),
        ("2026-06-03", "storage", None, "2.5", 1),
    ]


def test_events_just_accepted_appear_within_seconds(world: World) -> None:
    tenant = world.tenant("starter")
    event = {
        "event_id": "mb-1",
        "customer_id": tenant.id,
        "event_type": "storage",
        "feature": "uploads",
        "quantity": "1500",
        "unit": "MB",
    }
    assert world.ingest([event]).status_code == 200
    wait_until(lambda: _usage(world, tenant)["days"], timeout=20, what="the event on disk")
    [row] = _usage(world, tenant)["days"]
    assert (row["feature"], row["quantity"], row["events"]) == ("storage", "1.5", 1)


def test_any_range_of_days_may_be_asked_for(world: World) -> None:
    tenant = world.tenant(plan=None)
    for start, end in (("0001-01-01", "9999-12-31"), ("0001-01-01", "0001-01-01")):
        body = _usage(world, tenant, **{"from": start, "to": end})
        assert (body["from"], body["to"], body["days"]) == (start, end, [])
    early = _usage(world, tenant, to="0001-01-10")
    assert early["from"] == "0001-01-01"


def test_a_customer_without_events_has_no_rows(world: World) -> None:
    tenant = world.tenant(plan=None)
    body = _usage(world, tenant)
    assert body["days"] == []
    assert date.fromisoformat(body["to"]) - date.fromisoformat(body["from"]) == timedelta(days=30)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "2026-06-10", "to": "2026-06-01"}, 400, "invalid_range"),
        ({"to": "0001-01-01", "from": "9999-12-31"}, 400, "invalid_range"),
        ({"from": "June"}, 400, "invalid_request"),
        ({"feature": "bandwidth"}, 404, "unknown_feature"),
    ],
)
def test_bad_ranges_are_refused(
    world: World, params: dict[str, str], status: int, code: str
) -> None:
    tenant = world.tenant("starter")
    response = world.request("GET", "/usage", tenant.key, params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code

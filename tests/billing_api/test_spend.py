"""GET and PUT /api/billing/spend-thresholds, and the budget stopping ingest at once.

Each test uses customers of its own (``World.tenant``, Starter: base 2900 cents, 100,000
tokens included, then 0.15 cents a token; subscribed after the pipeline ran, so its cost so
far is the draft rebuilt from its parts), so the billed customers stay as other tests expect.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.billing_api.world import Tenant, World
from tests.support.server import wait_until

PATH = "/spend-thresholds"


def _put(world: World, tenant: Tenant, body: dict[str, Any]) -> Any:
    return world.request("PUT", PATH, tenant.key, json=body)


def _get(world: World, tenant: Tenant) -> dict[str, Any]:
    response = world.request("GET", PATH, tenant.key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _so_far(world: World, tenant: Tenant) -> int:
    response = world.request("GET", "/summary", tenant.key)
    assert response.status_code == 200, response.text
    amount: int = response.json()["cost"]["so_far"]["amount"]
    return amount


def _tokens(world: World, tenant: Tenant, *quantities: int) -> Any:
    events = [
        {
            "event_id": uuid.uuid4().hex,
            "customer_id": tenant.id,
            "event_type": "ai_tokens",
            "feature": "tests",
            "quantity": str(quantity),
            "unit": "token",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        for quantity in quantities
    ]
    return world.ingest(events)


def _check(world: World, tenant: Tenant, quantity: int) -> dict[str, Any]:
    response = world.client.post(
        "/v1/limits/check",
        json={"customer_id": tenant.id, "feature": "ai_tokens", "quantity": quantity},
        headers={"Authorization": f"Bearer {world.ingest_key}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _notices(world: World, tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    response = world.request("GET", "/notifications", tenant.key)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["notifications"] if n["type"] == kind]


def test_put_then_get_round_trips_with_the_spend_so_far(world: World) -> None:
    tenant = world.tenant()
    assert _get(world, tenant)["alerts"] == []
    assert _get(world, tenant)["budget"] is None

    put = _put(
        world,
        tenant,
        {"alerts": [{"amount": "500.00"}, {"amount": "250.5"}], "budget": {"amount": "1000"}},
    )

    assert put.status_code == 200, put.text
    body = put.json()
    assert body == _get(world, tenant)
    assert body["currency"] == "usd"
    assert [a["amount"] for a in body["alerts"]] == [
        {"amount": 25050, "currency": "usd", "decimal": "250.50"},
        {"amount": 50000, "currency": "usd", "decimal": "500.00"},
    ]
    spent = _so_far(world, tenant)
    assert body["spent"]["amount"] == spent == 2900
    budget = body["budget"]
    assert budget["amount"]["amount"] == 100_000
    assert budget["remaining"]["amount"] == 100_000 - spent
    assert (budget["reached"], budget["notified_at"]) == (False, None)
    summary = world.request("GET", "/summary", tenant.key).json()
    assert body["cycle"] == summary["cycle"]
    assert body["updated_at"] is not None

    cleared = _put(world, tenant, {"alerts": [], "budget": None})
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["alerts"], cleared.json()["budget"]) == ([], None)


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"alerts": [{"amount": "500.001"}]}, "invalid_amount", "3 decimals, but USD"),
        ({"alerts": [{"amount": "-5"}]}, "invalid_amount", "above zero"),
        ({"budget": {"amount": "0.00"}}, "invalid_amount", "above zero"),
        ({"budget": {"amount": "lots"}}, "invalid_amount", "not a decimal amount"),
        ({"budget": {"amount": "1e3"}}, "invalid_amount", "not a decimal amount"),
        ({"alerts": [{"amount": 500}]}, "invalid_amount", "must be decimal strings"),
        ({"alerts": [{"amount": 5.5}]}, "invalid_amount", "must be decimal strings"),
        ({"alerts": [{"amount": "5"}, {"amount": "5.00"}]}, "invalid_value", "must differ"),
        ({"alerts": [{"amount": str(n)} for n in range(1, 22)]}, "invalid_value", "at most 20"),
    ],
)
def test_invalid_amounts_are_422_saying_why(
    world: World, body: dict[str, Any], code: str, says: str
) -> None:
    tenant = world.tenant(plan=None)

    response = _put(world, tenant, body)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert says in error["message"]
    assert _get(world, tenant)["alerts"] == []


def test_amounts_follow_the_customer_s_currency(world: World) -> None:
    tenant = world.tenant(plan=None, currency="jpy")
    refused = _put(world, tenant, {"budget": {"amount": "1000.5"}})
    assert refused.status_code == 422
    assert "JPY amounts have 0" in refused.json()["error"]["message"]

    body = _put(world, tenant, {"budget": {"amount": "1000"}}).json()
    assert body["budget"]["amount"] == {"amount": 1000, "currency": "jpy", "decimal": "1000"}
    assert body["spent"] is None
    assert body["cycle"] is None


def test_a_customer_cannot_set_another_s_but_an_admin_can(world: World) -> None:
    mine, theirs = world.tenant(), world.tenant()

    response = world.request(
        "PUT",
        PATH,
        mine.key,
        json={"budget": {"amount": "1.00"}},
        params={"customer_id": theirs.id},
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_customer"
    assert _get(world, theirs)["budget"] is None
    by_admin = world.as_admin("PUT", PATH, theirs.id, json={"budget": {"amount": "99.00"}})
    assert by_admin.status_code == 200, by_admin.text
    assert _get(world, theirs)["budget"]["amount"]["amount"] == 9900
    assert _get(world, mine)["budget"] is None


def test_the_budget_stops_ingest_right_after_put(world: World) -> None:
    tenant = world.tenant()
    assert _tokens(world, tenant, 100_000, 1_000).status_code == 200  # 150 -> 3050
    assert _so_far(world, tenant) == 3050

    put = _put(world, tenant, {"budget": {"amount": "31.00"}})
    assert put.status_code == 200, put.text
    assert put.json()["budget"]["remaining"]["amount"] == 50

    response = _tokens(world, tenant, 400, 300)  # 60 more would pass it; then 45 fits

    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted"] == 1
    [refused] = body["rejected"]
    assert (refused["index"], refused["code"]) == (0, "budget_exceeded")
    assert "$31.00" in refused["reason"]
    assert "$30.50" in refused["reason"]
    assert _so_far(world, tenant) == 3095
    # Cost-free use still goes through; billable use is refused by the check too.
    assert _check(world, tenant, 1)["allowed"] is True  # 101,301 tokens: 195.15 -> 195
    check = _check(world, tenant, 100)
    assert check["allowed"] is False
    assert check["reason"].startswith("budget reached")
    wait_until(
        lambda: len(_notices(world, tenant, "budget_reached")) == 1,
        timeout=5,
        what="the budget_reached notice",
    )
    [notice] = _notices(world, tenant, "budget_reached")
    assert notice["title"] == "Budget of $31.00 reached"
    assert notice["severity"] == "exceeded"
    assert notice["id"] == _get(world, tenant)["budget"]["notification_id"]


def test_an_alert_already_passed_fires_at_once_and_only_once(world: World) -> None:
    tenant = world.tenant()  # 2900 so far: the base fee

    body = _put(world, tenant, {"alerts": [{"amount": "20.00"}, {"amount": "40.00"}]}).json()

    passed, ahead = body["alerts"]
    assert passed["reached"] is True
    assert passed["notified_at"] is not None
    assert ahead["reached"] is False
    assert ahead["notified_at"] is None
    [notice] = _notices(world, tenant, "spend_alert")
    assert notice["id"] == passed["notification_id"]
    assert notice["title"] == "Spend passed $20.00"
    assert "$29.00" in notice["message"]
    # Set again (and rebuilt by the change feed): still one notice.
    _put(world, tenant, {"alerts": [{"amount": "20.00"}]})
    _put(world, tenant, {"alerts": [{"amount": "20.00"}, {"amount": "40.00"}]})
    assert len(_notices(world, tenant, "spend_alert")) == 1
    muted = world.request(
        "PUT", "/notification-preferences", tenant.key, json={"types": {"spend_alert": False}}
    )
    assert muted.status_code == 200, muted.text
    assert _notices(world, tenant, "spend_alert") == []


def test_a_budget_set_by_another_process_bites_within_a_second(world: World) -> None:
    tenant = world.tenant()
    assert _tokens(world, tenant, 100_000).status_code == 200
    # As the dashboards do: straight into the control plane, not through this server.
    world.control().set_spend_thresholds(tenant.id, alerts=[], budget=2901)

    wait_until(
        lambda: _check(world, tenant, 10)["allowed"] is False,
        timeout=5,
        what="the budget to reach the ingest API",
    )
    response = _tokens(world, tenant, 10)
    assert response.status_code == 422
    assert response.json()["rejected"][0]["code"] == "budget_exceeded"

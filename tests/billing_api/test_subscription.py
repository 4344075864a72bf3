"""POST, PUT and DELETE /api/billing/subscription: start, change and cancel a plan.

Amounts are worked by hand from plans.yaml: Starter is $29.00 (2900), Professional $79.00
(7900), both monthly on the subscription's anniversary. April has 30 days, so on April 16 at
00:00 exactly half of an April cycle remains.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.billing_api.world import World

APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
APR_16 = datetime(2026, 4, 16, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)


def _money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "usd", "decimal": f"{amount / 100:.2f}"}


def test_subscribing_starts_the_plan_now(world: World) -> None:
    tenant = world.tenant(plan=None)
    moment = datetime(2026, 3, 10, 12, tzinfo=UTC)
    with world.clock(moment):
        response = world.request("POST", "/subscription", tenant.key, json={"plan": "starter"})
    assert response.status_code == 201, response.text
    subscription = response.json()["subscription"]
    assert subscription["customer_id"] == tenant.id
    assert subscription["plan"] == "starter"
    assert subscription["status"] == "active"
    assert subscription["started_at"] == "2026-03-10T12:00:00Z"
    assert subscription["plans"] == [
        {"plan": "starter", "effective_from": "2026-03-10T12:00:00Z", "effective_to": None}
    ]
    [stored] = world.control().list_subscriptions(tenant.id)
    assert stored.id == subscription["id"]
    assert stored.started_at == moment
    # The audit log names the key that made the change.
    [entry] = world.control().audit_entries(entity="subscription", entity_id=stored.id)
    assert entry.actor == f"api:{tenant.key.split('_')[1]}"


def test_an_admin_subscribes_the_customer_it_names(world: World) -> None:
    tenant = world.tenant(plan=None)
    response = world.as_admin("POST", "/subscription", tenant.id, json={"plan": "professional"})
    assert response.status_code == 201
    assert world.control().active_plan(tenant.id) is not None
    assert response.json()["subscription"]["plan"] == "professional"


def test_calendar_anchoring_can_be_chosen(world: World) -> None:
    tenant = world.tenant(plan=None)
    body = {"plan": "starter", "anchoring": "calendar"}
    with world.clock(datetime(2026, 3, 10, tzinfo=UTC)):
        response = world.request("POST", "/subscription", tenant.key, json=body)
    assert response.json()["subscription"]["anchoring"] == "calendar"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan": "platinum"}, 404, "unknown_plan"),
        ({}, 400, "invalid_request"),
        ({"plan": 7}, 400, "invalid_request"),
        ({"plan": "starter", "start": "tomorrow"}, 400, "invalid_request"),
        ({"plan": "starter", "anchoring": "weekly"}, 400, "invalid_request"),
    ],
)
def test_bad_subscriptions_are_refused(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    tenant = world.tenant(plan=None)
    response = world.request("POST", "/subscription", tenant.key, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert world.control().list_subscriptions(tenant.id) == []


def test_one_subscription_at_a_time(world: World) -> None:
    tenant = world.tenant("starter")
    response = world.request("POST", "/subscription", tenant.key, json={"plan": "professional"})
    assert response.status_code == 409
    assert tenant.subscription_id in response.json()["error"]["message"]


def test_a_plan_in_another_currency_is_409(world: World) -> None:
    tenant = world.tenant(plan=None, currency="eur")
    response = world.request("POST", "/subscription", tenant.key, json={"plan": "starter"})
    assert response.status_code == 409
    assert "eur" in response.json()["error"]["message"]


def test_an_upgrade_takes_effect_now_with_proration(world: World) -> None:
    tenant = world.tenant("starter", at=APR_1)
    with world.clock(APR_16):
        response = world.request(
            "PUT",
            f"/subscription/{tenant.subscription_id}",
            tenant.key,
            json={"plan": "professional"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    # Half of April left: half of $29 credited, half of $79 charged.
    assert body["change"] == {
        "from_plan": "starter",
        "to_plan": "professional",
        "at": "2026-04-16T00:00:00Z",
        "timing": "now",
        "credit": _money(-1450),
        "charge": _money(3950),
        "net": _money(2500),
    }
    assert body["subscription"]["plan"] == "professional"
    assert body["subscription"]["plans"] == [
        {
            "plan": "starter",
            "effective_from": "2026-04-01T00:00:00Z",
            "effective_to": "2026-04-16T00:00:00Z",
        },
        {"plan": "professional", "effective_from": "2026-04-16T00:00:00Z", "effective_to": None},
    ]
    assert tenant.subscription_id is not None
    [stored] = world.control().plan_changes(tenant.subscription_id)
    assert (stored.credit, stored.charge, stored.at) == (-1450, 3950, APR_16)


def test_a_downgrade_waits_for_the_end_of_the_period(world: World) -> None:
    tenant = world.tenant("professional", at=APR_1)
    with world.clock(datetime(2026, 4, 10, tzinfo=UTC)):
        response = world.request(
            "PUT", f"/subscription/{tenant.subscription_id}", tenant.key, json={"plan": "starter"}
        )
    body = response.json()
    assert body["change"]["timing"] == "period_end"
    assert body["change"]["at"] == "2026-05-01T00:00:00Z"
    assert body["change"]["net"] == _money(0)
    # Still Professional until then; Starter is scheduled.
    assert body["subscription"]["plan"] == "professional"
    assert body["subscription"]["plans"][-1] == {
        "plan": "starter",
        "effective_from": "2026-05-01T00:00:00Z",
        "effective_to": None,
    }


def test_when_now_forces_a_prorated_downgrade(world: World) -> None:
    tenant = world.tenant("professional", at=APR_1)
    with world.clock(APR_16):
        response = world.request(
            "PUT",
            f"/subscription/{tenant.subscription_id}",
            tenant.key,
            json={"plan": "starter", "when": "now"},
        )
    change = response.json()["change"]
    assert (change["credit"]["amount"], change["charge"]["amount"]) == (-3950, 1450)
    assert change["net"] == _money(-2500)


@pytest.mark.parametrize(
    ("body", "status"),
    [({"plan": "starter"}, 409), ({"plan": "gold"}, 404), ({"plan": "pro", "when": "soon"}, 400)],
    ids=["same plan", "unknown plan", "bad timing"],
)
def test_bad_plan_changes_are_refused(world: World, body: dict[str, Any], status: int) -> None:
    tenant = world.tenant("starter")
    path = f"/subscription/{tenant.subscription_id}"
    response = world.request("PUT", path, tenant.key, json=body)
    assert response.status_code == status, response.text
    assert tenant.subscription_id is not None
    assert world.control().plan_changes(tenant.subscription_id) == []


def test_an_unknown_subscription_is_404(world: World) -> None:
    tenant = world.tenant("starter")
    for method, body in (("PUT", {"plan": "professional"}), ("DELETE", None)):
        response = world.request(
            method, "/subscription/sub_0000000000000000", tenant.key, json=body
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_subscription"


def test_canceling_at_period_end_keeps_the_plan_until_then(world: World) -> None:
    tenant = world.tenant("starter", at=APR_1)
    with world.clock(APR_16):
        response = world.request("DELETE", f"/subscription/{tenant.subscription_id}", tenant.key)
        again = world.request("DELETE", f"/subscription/{tenant.subscription_id}", tenant.key)
    body = response.json()
    assert body["subscription"]["status"] == "active"
    assert body["subscription"]["cancel_at"] == "2026-05-01T00:00:00Z"
    assert body["subscription"]["plan"] == "starter"
    assert body["cancellation"]["timing"] == "period_end"
    assert body["cancellation"]["to_plan"] is None
    assert body["cancellation"]["credit"] == _money(0)
    assert again.status_code == 409


def test_canceling_now_credits_the_unused_time(world: World) -> None:
    tenant = world.tenant("starter", at=APR_1)
    with world.clock(APR_16):
        path = f"/subscription/{tenant.subscription_id}"
        response = world.request("DELETE", path, tenant.key, params={"at_period_end": "false"})
        body = response.json()
        assert body["subscription"]["status"] == "canceled"
        assert body["subscription"]["ended_at"] == "2026-04-16T00:00:00Z"
        assert body["subscription"]["plan"] is None
        assert body["cancellation"]["credit"] == _money(-1450)
        # Ended: neither changed nor canceled again, and a new subscription may start.
        changed = world.request("PUT", path, tenant.key, json={"plan": "professional"})
        assert changed.status_code == 409
        assert world.request("DELETE", path, tenant.key).status_code == 409
        again = world.request("POST", "/subscription", tenant.key, json={"plan": "free"})
        assert again.status_code == 201


def test_a_bad_at_period_end_flag_is_400(world: World) -> None:
    tenant = world.tenant("starter")
    path = f"/subscription/{tenant.subscription_id}"
    response = world.request("DELETE", path, tenant.key, params={"at_period_end": "maybe"})
    assert response.status_code == 400
    assert world.control().get_subscription(str(tenant.subscription_id)).cancel_at is None

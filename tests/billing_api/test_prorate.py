"""POST /api/billing/prorate: a plan change previewed, to the cent what the change records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.billing_api.world import World

APR_1 = datetime(2026, 4, 1, tzinfo=UTC)


def test_half_a_cycle_left_credits_and_charges_half(world: World) -> None:
    tenant = world.tenant("starter", at=APR_1)
    body = {"plan": "professional", "at": "2026-04-16T00:00:00Z"}
    response = world.request("POST", "/prorate", tenant.key, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subscription_id": tenant.subscription_id,
        "from_plan": "starter",
        "to_plan": "professional",
        "at": "2026-04-16T00:00:00Z",
        "effective_at": "2026-04-16T00:00:00Z",
        "timing": "now",
        "cycle": {"start": "2026-04-01T00:00:00Z", "end": "2026-05-01T00:00:00Z"},
        "remaining_seconds": 15 * 86400,
        "credit": {"amount": -1450, "currency": "usd", "decimal": "-14.50"},
        "charge": {"amount": 3950, "currency": "usd", "decimal": "39.50"},
        "net": {"amount": 2500, "currency": "usd", "decimal": "25.00"},
    }
    # A preview records nothing.
    assert world.control().plan_changes(str(tenant.subscription_id)) == []


CASES = [
    # (plan at start, anchoring, change to, when, seconds after the start)
    ("starter", None, "professional", None, 1),
    ("starter", None, "professional", None, 9 * 86400 + 3 * 3600 + 17),
    ("free", None, "enterprise", None, 29 * 86400 + 86399),
    ("professional", None, "starter", "now", 12 * 86400 + 1),
    ("professional", None, "starter", None, 5 * 86400),
    ("starter", "calendar", "professional", None, 6 * 86400 + 7),
    ("pay_per_use", None, "starter", None, 20 * 86400 + 59),
]


@pytest.mark.parametrize(("start_plan", "anchoring", "to_plan", "when", "after"), CASES)
def test_the_preview_is_what_the_change_records(
    world: World,
    start_plan: str,
    anchoring: str | None,
    to_plan: str,
    when: str | None,
    after: int,
) -> None:
    tenant = world.tenant(plan=None)
    start = datetime(2026, 4, 10, 8, 30, tzinfo=UTC)
    with world.clock(start):
        body = {"plan": start_plan, "anchoring": anchoring}
        created = world.request("POST", "/subscription", tenant.key, json=body).json()
    subscription_id = created["subscription"]["id"]
    moment = start + timedelta(seconds=after)
    change: dict[str, Any] = {"plan": to_plan} if when is None else {"plan": to_plan, "when": when}
    preview = world.request(
        "POST", "/prorate", tenant.key, json={**change, "at": moment.isoformat()}
    ).json()
    with world.clock(moment):
        made = world.request(
            "PUT", f"/subscription/{subscription_id}", tenant.key, json=change
        ).json()["change"]
    assert (preview["credit"], preview["charge"], preview["net"]) == (
        made["credit"],
        made["charge"],
        made["net"],
    )
    assert (preview["timing"], preview["effective_at"]) == (made["timing"], made["at"])
    [stored] = world.control().plan_changes(subscription_id)
    assert (stored.credit, stored.charge) == (
        preview["credit"]["amount"],
        preview["charge"]["amount"],
    )
    if preview["timing"] == "now":
        assert preview["credit"]["amount"] <= 0 < preview["remaining_seconds"]
    else:
        assert preview["net"]["amount"] == 0
        assert preview["effective_at"] == preview["cycle"]["end"]


def test_a_downgrade_previews_as_a_change_at_period_end(world: World) -> None:
    tenant = world.tenant("professional", at=APR_1)
    body = {"plan": "starter", "at": "2026-04-20T00:00:00Z"}
    preview = world.request("POST", "/prorate", tenant.key, json=body).json()
    assert preview["timing"] == "period_end"
    assert preview["effective_at"] == "2026-05-01T00:00:00Z"
    assert preview["net"]["amount"] == 0


def test_now_is_the_default_moment(world: World) -> None:
    tenant = world.tenant("starter", at=APR_1)
    moment = datetime(2026, 4, 16, tzinfo=UTC)
    with world.clock(moment):
        preview = world.request("POST", "/prorate", tenant.key, json={"plan": "professional"})
    assert preview.json()["at"] == "2026-04-16T00:00:00Z"
    assert preview.json()["net"]["amount"] == 2500


def test_the_subscription_may_be_named(world: World) -> None:
    tenant = world.tenant("starter", at=APR_1)
    body = {
        "plan": "professional",
        "at": "2026-04-16T00:00:00Z",
        "subscription_id": tenant.subscription_id,
    }
    response = world.request("POST", "/prorate", tenant.key, json=body)
    assert response.json()["net"]["amount"] == 2500


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan": "starter", "at": "2026-04-16T00:00:00Z"}, 409, "conflict"),
        ({"plan": "gold", "at": "2026-04-16T00:00:00Z"}, 404, "unknown_plan"),
        ({"plan": "professional", "at": "2026-03-16T00:00:00Z"}, 409, "conflict"),
        ({"plan": "professional", "at": "2026-04-16T00:00:00"}, 400, "invalid_request"),
        ({"plan": "professional", "at": "9999-12-31T23:00:00Z"}, 409, "conflict"),
        ({"plan": "professional", "at": "0001-01-01T00:00:00+01:00"}, 400, "invalid_request"),
        ({"plan": "professional", "at": "yesterday"}, 400, "invalid_request"),
        ({"plan": "professional", "subscription_id": "sub_nope"}, 404, "unknown_subscription"),
    ],
    ids=[
        "same plan",
        "unknown plan",
        "before the start",
        "no time zone",
        "end of the calendar",
        "before the first instant",
        "not a time",
        "unknown subscription",
    ],
)
def test_bad_previews_are_refused(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    tenant = world.tenant("starter", at=APR_1)
    response = world.request("POST", "/prorate", tenant.key, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_without_a_subscription_there_is_nothing_to_prorate(world: World) -> None:
    tenant = world.tenant(plan=None)
    response = world.request("POST", "/prorate", tenant.key, json={"plan": "starter"})
    assert response.status_code == 409
    assert "no subscription" in response.json()["error"]["message"]


def test_a_change_before_one_already_made_is_refused_as_the_change_would_be(
    world: World,
) -> None:
    tenant = world.tenant("starter", at=APR_1)
    path = f"/subscription/{tenant.subscription_id}"
    with world.clock(datetime(2026, 4, 20, tzinfo=UTC)):
        world.request("PUT", path, tenant.key, json={"plan": "professional"})
    body = {"plan": "enterprise", "at": "2026-04-10T00:00:00Z"}
    preview = world.request("POST", "/prorate", tenant.key, json=body)
    with world.clock(datetime(2026, 4, 10, tzinfo=UTC)):
        made = world.request("PUT", path, tenant.key, json={"plan": "enterprise"})
    assert preview.status_code == made.status_code == 409

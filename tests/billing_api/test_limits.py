"""GET /api/billing/limits and the admin endpoints that set limits (setUsageLimits,
setUserLimitsFromPlan)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.billing_api.world import Tenant, World


def _limits(world: World, tenant: Tenant) -> dict[str, dict[str, Any]]:
    response = world.request("GET", "/limits", tenant.key)
    assert response.status_code == 200, response.text
    return {limit["feature"]: limit for limit in response.json()["limits"]}


def _calls(tenant: Tenant, event_id: str, quantity: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": tenant.id,
        "event_type": "api_call",
        "feature": "notes.list",
        "quantity": str(quantity),
        "unit": "call",
    }


def test_limits_count_usage_live(world: World) -> None:
    # Free: 1,000 calls, hard.
    tenant = world.tenant("free")
    assert world.ingest([_calls(tenant, "c1", 800)]).status_code == 200
    calls = _limits(world, tenant)["api_calls"]
    assert calls == {
        **calls,
        "used": "800",
        "limit": "1000",
        "remaining": "200",
        "percent_used": "80.00",
        "enforcement": "hard",
        "status": "warning",
        "is_override": False,
        "unit": "call",
    }
    assert calls["window_start"] < calls["resets_at"]
    # Past the hard limit: refused, and not counted.
    refused = world.ingest([_calls(tenant, "c2", 300)])
    assert refused.status_code == 422
    assert _limits(world, tenant)["api_calls"]["used"] == "800"
    response = world.request("GET", "/limits", tenant.key).json()
    assert (response["customer_id"], response["plan"]) == (tenant.id, "free")


def test_published_usage_is_the_base(world: World) -> None:
    limits = _limits(world, world.tenants["acme"])
    assert (limits["api_calls"]["used"], limits["api_calls"]["status"]) == ("40000", "warning")
    assert limits["storage"]["used"] == "0"


def test_without_a_subscription_there_are_no_limits(world: World) -> None:
    tenant = world.tenant(plan=None)
    response = world.request("GET", "/limits", tenant.key).json()
    assert response == {"customer_id": tenant.id, "plan": None, "limits": []}


def test_an_admin_sets_and_resets_a_customers_own_limits(world: World) -> None:
    tenant = world.tenant("free")
    body = {
        "limits": {
            "api_calls": {"value": "2000", "enforcement": "soft"},
            "storage": {"value": None},
        }
    }
    response = world.as_admin("PUT", "/admin/limits", tenant.id, json=body)
    assert response.status_code == 200, response.text
    effective = {limit["feature"]: limit for limit in response.json()["limits"]}
    assert effective["api_calls"] == {
        "feature": "api_calls",
        "value": "2000",
        "enforcement": "soft",
        "source": "override",
    }
    assert effective["storage"]["value"] is None
    assert effective["storage"]["source"] == "override"
    assert effective["ai_tokens"]["source"] == "plan"
    # The limit engine applies it to the very next question.
    calls = _limits(world, tenant)["api_calls"]
    assert (calls["limit"], calls["enforcement"], calls["is_override"]) == ("2000", "soft", True)
    # Reset: the plan decides again (resetting one without an override is a no-op).
    reset = {"reset": ["api_calls", "ai_tokens"]}
    response = world.as_admin("PUT", "/admin/limits", tenant.id, json=reset)
    effective = {limit["feature"]: limit for limit in response.json()["limits"]}
    assert (effective["api_calls"]["value"], effective["api_calls"]["source"]) == ("1000", "plan")
    assert _limits(world, tenant)["api_calls"]["limit"] == "1000"
    # The audit log names the admin key.
    [*_, last] = world.control().audit_entries(entity="limits", entity_id=tenant.id)
    assert last.actor == f"api:{world.admin_key.split('_')[1]}"


def test_an_admin_copies_a_plans_limits(world: World) -> None:
    tenant = world.tenant("free")
    body = {"plan": "professional"}
    response = world.as_admin("PUT", "/admin/limits/from-plan", tenant.id, json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["plan"] == "free"
    assert {(x["feature"], x["value"], x["source"]) for x in result["limits"]} == {
        ("api_calls", "50000", "override"),
        ("ai_tokens", "500000", "override"),
        ("storage", "50", "override"),
    }
    assert _limits(world, tenant)["api_calls"]["limit"] == "50000"
    dropped = world.as_admin("PUT", "/admin/limits/from-plan", tenant.id, json={"plan": None})
    assert {x["source"] for x in dropped.json()["limits"]} == {"plan"}
    assert world.control().limit_overrides(tenant.id) == []


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/admin/limits", {"limits": {"bandwidth": {"value": "1"}}}, 404, "unknown_feature"),
        ("/admin/limits", {"reset": ["bandwidth"]}, 404, "unknown_feature"),
        ("/admin/limits", {"limits": {"api_calls": {"value": "-1"}}}, 400, "invalid_request"),
        (
            "/admin/limits",
            {"limits": {"api_calls": {"value": "0.0000000001"}}},
            400,
            "invalid_request",
        ),
        (
            "/admin/limits",
            {"limits": {"api_calls": {"value": "1", "enforcement": "strict"}}},
            400,
            "invalid_request",
        ),
        ("/admin/limits", {"limits": {"api_calls": {}}}, 400, "invalid_request"),
        (
            "/admin/limits",
            {"limits": {"api_calls": {"value": "1"}}, "reset": ["api_calls"]},
            400,
            "invalid_request",
        ),
        ("/admin/limits/from-plan", {"plan": "gold"}, 404, "unknown_plan"),
        ("/admin/limits/from-plan", {}, 400, "invalid_request"),
    ],
)
def test_bad_limits_are_refused(
    world: World, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    tenant = world.tenant("free")
    response = world.as_admin("PUT", path, tenant.id, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert world.control().limit_overrides(tenant.id) == []

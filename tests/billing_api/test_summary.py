"""GET /api/billing/summary: plan, cycle, live usage, limits, and the cycle's cost.

dana is on Professional ($79; 500,000 tokens included, then 0.1 cent each). The pipeline drafted
her current cycle at 450,000 tokens: 7,900. Then 150,000 more tokens arrive through the ingest
API: the cost so far is the draft plus charge(600,000) - charge(450,000) = 7,900 + 10,000.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.billing_api.world import Tenant, World
from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.pricing import usage_charge


def _summary(world: World, tenant: Tenant) -> dict[str, Any]:
    response = world.request("GET", "/summary", tenant.key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _tokens(customer_id: str, event_id: str, quantity: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": "ai_tokens",
        "feature": "chat",
        "quantity": str(quantity),
        "unit": "token",
    }


def _calls(customer_id: str, event_id: str, quantity: int) -> dict[str, Any]:
    return {**_tokens(customer_id, event_id, quantity), "event_type": "api_call", "unit": "call"}


def _assert_projection(summary: dict[str, Any]) -> None:
    """projected = so far + Σ charge(projected quantity) - charge(live quantity)."""
    plan = default_catalogue().plan(summary["plan"]["name"])
    fraction = Decimal(summary["elapsed_fraction"])
    difference = 0
    for row in summary["usage"]:
        live, projected = Decimal(row["quantity"]), Decimal(row["projected_quantity"])
        # Linear: the live quantity over the elapsed share (shown to six decimals).
        assert abs(projected * fraction - live) <= live * Decimal("1e-5")
        difference += (
            usage_charge(plan, row["feature"], projected, row["dimension"]).amount
            - usage_charge(plan, row["feature"], live, row["dimension"]).amount
        )
    cost = summary["cost"]
    assert cost["projected"]["amount"] == cost["so_far"]["amount"] + difference


def test_cost_so_far_is_the_draft_plus_live_usage(world: World) -> None:
    dana = world.tenants["dana"]
    before = _summary(world, dana)
    assert before["cost"]["basis"] == "draft_invoice"
    assert before["cost"]["draft_total"]["amount"] == 7900
    assert before["cost"]["so_far"]["amount"] == 7900
    assert world.ingest([_tokens("dana", "dana-live-1", 150_000)]).status_code == 200
    summary = _summary(world, dana)
    assert summary["plan"]["name"] == "professional"
    assert summary["subscription"]["id"] == dana.subscription_id
    assert summary["as_of"] is not None
    tokens = next(row for row in summary["usage"] if row["feature"] == "ai_tokens")
    assert (tokens["quantity"], tokens["published_quantity"]) == ("600000", "450000")
    assert summary["cost"]["so_far"] == {"amount": 17900, "currency": "usd", "decimal": "179.00"}
    assert summary["cost"]["draft_invoice_id"].startswith("inv_")
    # The cycle is the current one, and so is the elapsed share.
    cycle = summary["cycle"]
    assert cycle["start"] < summary["computed_at"] < cycle["end"]
    assert Decimal(0) < Decimal(summary["elapsed_fraction"]) < Decimal(1)
    _assert_projection(summary)
    limits = {limit["feature"]: limit for limit in summary["limits"]}
    assert (limits["ai_tokens"]["used"], limits["ai_tokens"]["status"]) == ("600000", "exceeded")


def test_before_the_pipeline_has_drafted_the_cycle_the_draft_is_rebuilt(world: World) -> None:
    # Starter: $29, 10,000 calls included, then 8 cents per started 1,000.
    tenant = world.tenant("starter", at=world.now - timedelta(days=3))
    summary = _summary(world, tenant)
    assert summary["cost"]["basis"] == "live_estimate"
    assert summary["cost"]["draft_total"] is None
    assert summary["cost"]["so_far"]["amount"] == 2900
    assert world.ingest([_calls(tenant.id, "calls-1", 12_500)]).status_code == 200
    summary = _summary(world, tenant)
    # 2,500 calls above the included: 3 started packages.
    assert summary["cost"]["so_far"]["amount"] == 2900 + 24
    assert summary["usage"][0]["published_quantity"] == "0"
    _assert_projection(summary)


def test_the_rebuilt_draft_includes_recorded_prorations(world: World) -> None:
    tenant = world.tenant("starter", at=world.now - timedelta(days=10))
    assert tenant.subscription_id is not None
    changed_at = world.now - timedelta(days=2)
    control = world.control(clock=lambda: changed_at)
    change = control.change_plan(tenant.subscription_id, "professional", at=changed_at)
    summary = _summary(world, tenant)
    assert summary["plan"]["name"] == "professional"
    # Starter's base fee for the cycle, the recorded credit and charge, no usage yet.
    expected = 2900 + change.credit + change.charge
    assert change.credit < 0 < change.charge
    assert summary["cost"]["so_far"]["amount"] == expected


def test_without_a_subscription_there_is_no_plan_or_cost(world: World) -> None:
    tenant = world.tenant(plan=None)
    summary = _summary(world, tenant)
    assert summary["customer_id"] == tenant.id
    assert summary["currency"] == "usd"
    for field in ("subscription", "plan", "cycle", "cost", "elapsed_fraction"):
        assert summary[field] is None
    assert summary["usage"] == summary["limits"] == []


def test_dimension_usage_is_listed_per_value(world: World) -> None:
    summary = _summary(world, world.tenants["pp"])
    rows = {(row["feature"], row["dimension"]): row["quantity"] for row in summary["usage"]}
    assert rows == {("ai_tokens", "gpt-4o-mini"): "2500", ("ai_tokens", "llama-3-70b"): "1000"}
    # The draft already priced all of it: 2,500 x 0.2 + 1,000 x 0.1 cents.
    assert summary["cost"]["so_far"]["amount"] == 600
    _assert_projection(summary)

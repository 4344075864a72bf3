"""GET /api/billing/plans: the catalogue as customers choose from it."""

from __future__ import annotations

from tests.billing_api.world import World


def test_plans_list_the_catalogue_with_prices_and_limits(world: World) -> None:
    tenant = world.tenant(plan=None)
    response = world.request("GET", "/plans", tenant.key)
    assert response.status_code == 200
    plans = {plan["name"]: plan for plan in response.json()["plans"]}
    assert list(plans) == ["free", "starter", "professional", "enterprise", "pay_per_use"]
    starter = plans["starter"]
    assert starter["base_price"] == {"amount": 2900, "currency": "usd", "decimal": "29.00"}
    assert starter["billing_type"] == "hybrid"
    calls = next(f for f in starter["features"] if f["feature"] == "api_calls")
    assert calls["included"] == "10000"
    assert calls["limit"] == "10000"
    assert calls["enforcement"] == "soft"
    assert calls["price"] == {"model": "package", "package_size": "1000", "package_amount": "8"}
    tokens = next(f for f in plans["pay_per_use"]["features"] if f["feature"] == "ai_tokens")
    assert tokens["dimension"] == "model"
    assert tokens["limit"] is None
    assert plans["enterprise"]["perks"] == ["Priority support"]


def test_any_valid_key_may_read_the_plans(world: World) -> None:
    for key in (world.ingest_key, world.read_key, world.admin_key):
        assert world.request("GET", "/plans", key).status_code == 200

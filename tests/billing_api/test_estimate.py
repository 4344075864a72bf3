"""POST /api/billing/estimate: one cycle of a usage pattern priced under each plan.

20,000 API calls and 300,000 AI tokens, by hand from plans.yaml:
  free          ineligible (hard limits of 1,000 calls and 10,000 tokens)
  starter       2,900 + 10 packages of 1,000 calls at 8 + 200,000 tokens at 0.15 = 32,980
  professional  7,900 + nothing above the included quantities            =  7,900
  enterprise    19,900                                                   = 19,900
  pay_per_use   20 packages at 10 + 300,000 tokens at 0.2 (volume tier 1) = 60,200
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.billing_api.world import World


def test_each_plan_is_priced_cheapest_first(world: World) -> None:
    tenant = world.tenant(plan=None)
    body = {"usage": {"api_calls": "20000", "ai_tokens": "300000"}}
    response = world.request("POST", "/estimate", tenant.key, json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    totals = [(p["plan"], p["total"]["amount"], p["eligible"]) for p in result["plans"]]
    assert totals == [
        ("professional", 7900, True),
        ("enterprise", 19900, True),
        ("starter", 32980, True),
        ("pay_per_use", 60200, True),
        ("free", 0, False),
    ]
    assert result["cheapest"] == "professional"
    starter = next(p for p in result["plans"] if p["plan"] == "starter")
    assert starter["usage"] == {"amount": 30080, "currency": "usd", "decimal": "300.80"}
    calls = next(c for c in starter["charges"] if c["feature"] == "api_calls")
    assert (calls["quantity"], calls["included"], calls["billable"]) == ("20000", "10000", "10000")
    assert calls["amount"]["amount"] == 80
    free = next(p for p in result["plans"] if p["plan"] == "free")
    assert len(free["blockers"]) == 2
    assert any("api_calls" in blocker for blocker in free["blockers"])


def test_usage_by_dimension_is_priced_per_value(world: World) -> None:
    tenant = world.tenant(plan=None)
    body = {
        "usage": {"ai_tokens": {"gpt-4o-mini": "1000", "llama-3-70b": "1000"}},
        "plans": ["pay_per_use"],
    }
    [plan] = world.request("POST", "/estimate", tenant.key, json=body).json()["plans"]
    # The self-hosted model costs half: 1,000 x 0.2 + 1,000 x 0.1 cents.
    amounts = {c["dimension"]: c["amount"]["amount"] for c in plan["charges"]}
    assert amounts == {"gpt-4o-mini": 200, "llama-3-70b": 100}
    assert plan["total"]["amount"] == 300


def test_only_the_customers_currency_is_compared_by_default(world: World) -> None:
    tenant = world.tenant(plan=None, currency="eur")
    response = world.request("POST", "/estimate", tenant.key, json={"usage": {}})
    assert response.json() == {"cheapest": None, "plans": []}
    named = {"usage": {}, "plans": ["starter"]}
    assert (
        world.request("POST", "/estimate", tenant.key, json=named).json()["cheapest"] == "starter"
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"usage": {"api_calls": "-1"}}, 400, "invalid_request"),
        ({"usage": {"api_calls": "0.0000000001"}}, 400, "invalid_request"),
        ({"usage": {"api_calls": "NaN"}}, 400, "invalid_request"),
        ({"usage": {"api_calls": "lots"}}, 400, "invalid_request"),
        ({"usage": {"api_calls": "1" * 40}}, 400, "invalid_request"),
        ({"usage": {"ai_tokens": {"gpt": "-5"}}}, 400, "invalid_request"),
        ({"usage": {"bandwidth": "10"}}, 404, "unknown_feature"),
        ({"usage": {}, "plans": ["gold"]}, 404, "unknown_plan"),
        ({}, 400, "invalid_request"),
    ],
)
def test_bad_usage_is_refused(world: World, body: dict[str, Any], status: int, code: str) -> None:
    tenant = world.tenant(plan=None)
    response = world.request("POST", "/estimate", tenant.key, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code

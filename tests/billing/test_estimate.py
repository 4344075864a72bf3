"""Estimates: a usage pattern priced under every plan, and the cheapest plan that can serve it.

Totals are US cents, computed by hand in the comments from tollgate/billing/catalogue/plans.yaml.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tollgate.billing.catalogue import Catalogue, UnknownPlanError, default_catalogue
from tollgate.billing.catalogue.loader import parse_catalogue
from tollgate.billing.estimate import Estimate, UsagePattern, estimate

D = Decimal


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def ranking(result: Estimate) -> list[tuple[str, int, bool]]:
    return [(plan.plan, plan.total, plan.eligible) for plan in result.plans]


def test_light_user_is_cheapest_on_free(catalogue: Catalogue) -> None:
    # 500 calls, 5,000 tokens. Free: within its limits, 0. Pay per use: 1 package = 10, plus
    # 5,000 x 0.2 = 1,000: 1,010. Starter, Professional, Enterprise: their base prices.
    result = estimate(catalogue, {"api_calls": D(500), "ai_tokens": D(5000)})
    assert ranking(result) == [
        ("free", 0, True),
        ("pay_per_use", 1_010, True),
        ("starter", 2_900, True),
        ("professional", 7_900, True),
        ("enterprise", 19_900, True),
    ]
    assert result.cheapest is not None
    assert result.cheapest.plan == "free"
    ppu = result.plans[1]
    assert [(c.feature, c.amount) for c in ppu.charges] == [("api_calls", 10), ("ai_tokens", 1_000)]
    assert (ppu.base_price, ppu.usage_amount, ppu.currency) == (0, 1_010, "usd")


def test_free_hard_limit_exceeded_makes_it_ineligible(catalogue: Catalogue) -> None:
    # Exactly at the limit: still Free.
    at_limit = estimate(catalogue, {"api_calls": D(1000), "ai_tokens": D(10_000)})
    assert at_limit.cheapest is not None
    assert at_limit.cheapest.plan == "free"
    # One call over the hard limit: Free cannot serve it. Pay per use: 2 packages = 20, plus
    # 5,000 x 0.2 = 1,000: 1,020, cheaper than Starter's 2,900.
    result = estimate(catalogue, {"api_calls": D(1001), "ai_tokens": D(5000)})
    assert result.cheapest is not None
    assert (result.cheapest.plan, result.cheapest.total) == ("pay_per_use", 1_020)
    free = result.plans[-1]
    assert free.plan == "free"
    assert not free.eligible
    assert free.blockers == ("api_calls: 1001 is above the hard limit of 1000",)
    # Ineligible plans come last, whatever they would cost.
    assert [p.plan for p in result.plans] == [
        "pay_per_use",
        "starter",
        "professional",
        "enterprise",
        "free",
    ]


def test_storage_makes_free_ineligible_with_a_readable_blocker(catalogue: Catalogue) -> None:
    result = estimate(catalogue, {"api_calls": D(100), "storage": D("0.5")})
    free = next(plan for plan in result.plans if plan.plan == "free")
    assert free.blockers == ("storage is not available on Free",)
    # Pay per use: 1 package = 10, plus 0.5 GB x 30 = 15: 25.
    assert result.cheapest is not None
    assert (result.cheapest.plan, result.cheapest.total) == ("pay_per_use", 25)
    # No storage used: Free stays eligible even though the pattern names the feature.
    assert estimate(catalogue, {"storage": D(0)}).plans[0].plan == "free"


def test_every_blocker_is_listed(catalogue: Catalogue) -> None:
    usage: UsagePattern = {"api_calls": D(20_000), "ai_tokens": D(300_000), "storage": D(5)}
    free = next(plan for plan in estimate(catalogue, usage).plans if plan.plan == "free")
    assert free.blockers == (
        "api_calls: 20000 is above the hard limit of 1000",
        "ai_tokens: 300000 is above the hard limit of 10000",
        "storage is not available on Free",
    )


def test_moderate_user_is_cheapest_on_professional(catalogue: Catalogue) -> None:
    # 20,000 calls, 300,000 tokens, 5 GB.
    # Starter: 10,000 billable calls = 10 packages x 8 = 80; 200,000 x 0.15 = 30,000; storage
    #   within 10 GB: 2,900 + 80 + 30,000 = 32,980.
    # Professional: all within its allowances: 7,900.
    # Pay per use: 20 x 10 = 200; 300,000 x 0.2 = 60,000; 5 x 30 = 150: 60,350.
    usage: UsagePattern = {"api_calls": D(20_000), "ai_tokens": D(300_000), "storage": D(5)}
    assert ranking(estimate(catalogue, usage)) == [
        ("professional", 7_900, True),
        ("enterprise", 19_900, True),
        ("starter", 32_980, True),
        ("pay_per_use", 60_350, True),
        ("free", 0, False),
    ]


def test_moderate_user_is_cheapest_on_starter(catalogue: Catalogue) -> None:
    # 12,000 calls, 120,000 tokens, 12 GB.
    # Starter: 2 packages x 8 = 16; 20,000 x 0.15 = 3,000; 2 x 25 = 50: 2,900 + 3,066 = 5,966.
    # Pay per use: 12 x 10 = 120; 120,000 x 0.2 = 24,000; 12 x 30 = 360: 24,480.
    usage: UsagePattern = {"api_calls": D(12_000), "ai_tokens": D(120_000), "storage": D(12)}
    result = estimate(catalogue, usage)
    assert ranking(result) == [
        ("starter", 5_966, True),
        ("professional", 7_900, True),
        ("enterprise", 19_900, True),
        ("pay_per_use", 24_480, True),
        ("free", 0, False),
    ]
    starter = result.plans[0]
    assert [(c.feature, c.billable, c.amount) for c in starter.charges] == [
        ("api_calls", D(2000), 16),
        ("ai_tokens", D(20_000), 3_000),
        ("storage", D(2), 50),
    ]


def test_heavy_user_is_cheapest_on_enterprise(catalogue: Catalogue) -> None:
    # 2,000,000 calls, 20,000,000 tokens, 500 GB.
    # Starter: 1,990 packages x 8 = 15,920; 19,900,000 x 0.15 = 2,985,000; 490 x 25 = 12,250:
    #   2,900 + 15,920 + 2,985,000 + 12,250 = 3,016,070.
    # Professional: 1,950,000 x 0.006 = 11,700; 19,500,000 billable tokens: 4,500,000 x 0.1 +
    #   15,000,000 x 0.08 = 450,000 + 1,200,000 = 1,650,000; 450 x 20 = 9,000:
    #   7,900 + 11,700 + 1,650,000 + 9,000 = 1,678,600.
    # Pay per use: 2,000 x 10 = 20,000; 20M tokens all at 0.1 = 2,000,000; 500 x 30 = 15,000:
    #   2,035,000.
    usage: UsagePattern = {
        "api_calls": D(2_000_000),
        "ai_tokens": D(20_000_000),
        "storage": D(500),
    }
    assert ranking(estimate(catalogue, usage)) == [
        ("enterprise", 19_900, True),
        ("professional", 1_678_600, True),
        ("pay_per_use", 2_035_000, True),
        ("starter", 3_016_070, True),
        ("free", 0, False),
    ]


def test_usage_split_by_dimension(catalogue: Catalogue) -> None:
    # 5,000 tokens of two models. Free: 5,000 in total, within 10,000: 0.
    # Pay per use prices each model on its own line: llama-3-70b 4,000 x 0.1 = 400, gpt-4o
    # 1,000 x 0.2 = 200: 600. Starter (per unit, no dimension) sums them: within its allowance.
    tokens: dict[str | None, Decimal] = {"llama-3-70b": D(4000), "gpt-4o": D(1000)}
    result = estimate(catalogue, {"ai_tokens": tokens})
    assert ranking(result)[:3] == [
        ("free", 0, True),
        ("pay_per_use", 600, True),
        ("starter", 2_900, True),
    ]
    ppu = result.plans[1]
    assert [(c.dimension, c.quantity, c.amount) for c in ppu.charges] == [
        ("gpt-4o", D(1000), 200),
        ("llama-3-70b", D(4000), 400),
    ]
    starter = result.plans[2]
    assert [(c.dimension, c.quantity, c.billable) for c in starter.charges] == [
        (None, D(5000), D(0))
    ]
    # The hard limit applies to the feature's total over all dimension values.
    heavy = estimate(catalogue, {"ai_tokens": {"a": D(6000), "b": D(6000)}})
    free = next(plan for plan in heavy.plans if plan.plan == "free")
    assert free.blockers == ("ai_tokens: 12000 is above the hard limit of 10000",)


def test_ties_break_in_catalogue_order(catalogue: Catalogue) -> None:
    # No usage: Free and Pay per use both cost 0; Free comes first in the catalogue.
    result = estimate(catalogue, {})
    assert ranking(result) == [
        ("free", 0, True),
        ("pay_per_use", 0, True),
        ("starter", 2_900, True),
        ("professional", 7_900, True),
        ("enterprise", 19_900, True),
    ]
    assert all(plan.charges == () for plan in result.plans)
    # Comparing a chosen list of plans: ties follow the order asked for.
    chosen = estimate(catalogue, {"api_calls": D(0)}, plans=["pay_per_use", "free"])
    assert [plan.plan for plan in chosen.plans] == ["pay_per_use", "free"]


def test_ties_follow_the_order_of_the_file() -> None:
    text = """\
features:
  api_calls: {display_name: API calls, event_type: api_call, unit: call}
plans:
  zebra:
    display_name: Zebra
    billing_type: pay_per_use
    base_price: 0
    features:
      api_calls: {price: {model: per_unit, unit_amount: 2}}
  aardvark:
    display_name: Aardvark
    billing_type: hybrid
    base_price: 100
    features:
      api_calls: {included: 50, price: {model: per_unit, unit_amount: 1}}
"""
    catalogue = parse_catalogue(text, Path("plans.yaml"))
    # 100 calls: Zebra 100 x 2 = 200; Aardvark 100 + 50 x 1 = 150.
    assert ranking(estimate(catalogue, {"api_calls": D(100)})) == [
        ("aardvark", 150, True),
        ("zebra", 200, True),
    ]
    # 150 calls: Zebra 300; Aardvark 100 + 100 = 200. 50 calls: Zebra 100, Aardvark 100: a tie,
    # and Zebra is first in the file.
    assert ranking(estimate(catalogue, {"api_calls": D(50)})) == [
        ("zebra", 100, True),
        ("aardvark", 100, True),
    ]


def test_no_plan_can_serve_an_unknown_feature(catalogue: Catalogue) -> None:
    result = estimate(catalogue, {"sms": D(1)})
    assert result.cheapest is None
    assert all(
        plan.blockers == (f"sms is not available on {catalogue.plan(plan.plan).display_name}",)
        for plan in result.plans
    )


def test_unknown_plan_is_an_error(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownPlanError):
        estimate(catalogue, {}, plans=["gold"])

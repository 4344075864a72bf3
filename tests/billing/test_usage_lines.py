"""Usage by tier: the invoice lines of one usage charge, and how their amounts are rounded.

Expected values are worked out by hand in the comments (US cents), never by the engine.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.billing.test_pricing import amounts, quantities, simple_prices
from tollgate.billing.catalogue import (
    Catalogue,
    DimensionPrice,
    GraduatedPrice,
    PackagePrice,
    PerUnitPrice,
    Plan,
    PlanFeature,
    Tier,
    VolumePrice,
    default_catalogue,
)
from tollgate.billing.catalogue.model import BillingType
from tollgate.billing.money import PRECISION
from tollgate.billing.pricing import (
    PricingError,
    UsageLine,
    decimal_text,
    price_amount,
    usage_charge,
    usage_lines,
)

D = Decimal
ZERO = D(0)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def plan_with(price: Any, included: Decimal = ZERO) -> Plan:
    """A plan whose only feature, api_calls, has ``price`` (or none) above ``included``."""
    billing_type = BillingType.SUBSCRIPTION if price is None else BillingType.HYBRID
    return Plan(
        display_name="Test",
        billing_type=billing_type,
        base_price=1000,
        features={"api_calls": PlanFeature(included=included, price=price)},
    )


def usage(line: UsageLine) -> tuple[Any, ...]:
    """A line as (kind, tier, description, quantity, unit, flat, exact, amount)."""
    return (
        line.kind,
        line.tier,
        line.description,
        line.quantity,
        line.unit_amount,
        line.flat_amount,
        line.exact_amount,
        line.amount,
    )


# --- worked examples -------------------------------------------------------------------------

# 0-1,000 free, 1,000-10,000 at 0.2, above 10,000 at 0.1.
FREE_THEN_TWO_RATES = GraduatedPrice(
    model="graduated",
    tiers=[
        Tier(up_to=D(1000), unit_amount=D(0)),
        Tier(up_to=D(10_000), unit_amount=D("0.2")),
        Tier(up_to=None, unit_amount=D("0.1")),
    ],
)


def test_graduated_lines_one_per_tier_reached() -> None:
    lines = usage_lines(plan_with(FREE_THEN_TWO_RATES), "api_calls", D("12345.5"))
    # 1,000 x 0 = 0; 9,000 x 0.2 = 1,800; 2,345.5 x 0.1 = 234.55. Running total 2,034.55
    # rounds to 2,035, so the last line gets 2,035 - 1,800 = 235 (234.55 alone: 235 too).
    assert [usage(line) for line in lines] == [
        ("usage", 1, "tier 1 (up to 1000)", D(1000), D(0), D(0), D(0), 0),
        ("usage", 2, "tier 2 (above 1000 up to 10000)", D(9000), D("0.2"), D(0), D(1800), 1800),
        ("usage", 3, "tier 3 (above 10000)", D("2345.5"), D("0.1"), D(0), D("234.55"), 235),
    ]
    assert usage_charge(plan_with(FREE_THEN_TWO_RATES), "api_calls", D("12345.5")).amount == 2035


def test_graduated_lines_stop_at_the_tier_the_quantity_reaches() -> None:
    plan = plan_with(FREE_THEN_TWO_RATES)
    # 1,000 is the first tier's inclusive bound: the second tier is not reached.
    assert [(line.tier, line.quantity) for line in usage_lines(plan, "api_calls", D(1000))] == [
        (1, D(1000))
    ]
    # 1,000.000000000000000001 reaches it by 1e-18 units: 2e-19 cents, rounded to 0.
    lines = usage_lines(plan, "api_calls", D("1000.000000000000000001"))
    assert [(line.tier, line.quantity, line.exact_amount, line.amount) for line in lines] == [
        (1, D(1000), D(0), 0),
        (2, D("1E-18"), D("2E-19"), 0),
    ]


def test_tier_lines_are_rounded_cumulatively() -> None:
    # Three tiers of one unit each at 0.4: rounded one by one they would be 0 + 0 + 0 = 0, but
    # the charge is round(1.2) = 1. Running totals 0.4, 0.8, 1.2 round to 0, 1, 1: lines 0, 1, 0.
    price = GraduatedPrice(
        model="graduated",
        tiers=[
            Tier(up_to=D(1), unit_amount=D("0.4")),
            Tier(up_to=D(2), unit_amount=D("0.4")),
            Tier(up_to=None, unit_amount=D("0.4")),
        ],
    )
    lines = usage_lines(plan_with(price), "api_calls", D(3))
    assert [line.exact_amount for line in lines] == [D("0.4"), D("0.4"), D("0.4")]
    assert [line.amount for line in lines] == [0, 1, 0]
    assert usage_charge(plan_with(price), "api_calls", D(3)).amount == 1


def test_first_tier_appears_at_zero_for_its_flat_fee() -> None:
    price = GraduatedPrice(
        model="graduated",
        tiers=[
            Tier(up_to=D(10), unit_amount=D(5), flat_amount=D("99.5")),
            Tier(up_to=None, unit_amount=D(1), flat_amount=D(7)),
        ],
    )
    lines = usage_lines(plan_with(price), "api_calls", D(0))
    # Zero falls in the first tier: its flat fee 99.5 is due (rounds to 100); tier 2 is not.
    assert [usage(line) for line in lines] == [
        ("usage", 1, "tier 1 (up to 10)", D(0), D(5), D("99.5"), D("99.5"), 100)
    ]
    # 12 units: 10 x 5 + 99.5 = 149.5 -> 150; 2 x 1 + 7 = 9 (running 158.5 -> 159): 159 - 150.
    lines = usage_lines(plan_with(price), "api_calls", D(12))
    assert [(line.exact_amount, line.amount) for line in lines] == [(D("149.5"), 150), (D(9), 9)]


def test_included_line_then_tiers(catalogue: Catalogue) -> None:
    professional = catalogue.plan("professional")
    # 6,000,000 tokens: 500,000 included; 4,500,000 x 0.1 = 450,000; 1,000,000 x 0.08 = 80,000.
    lines = usage_lines(professional, "ai_tokens", D(6_000_000))
    assert [usage(line) for line in lines] == [
        ("included", None, "included", D(500_000), D(0), D(0), D(0), 0),
        ("usage", 1, "tier 1 (up to 4500000)", D(4_500_000), D("0.1"), D(0), D(450_000), 450_000),
        ("usage", 2, "tier 2 (above 4500000)", D(1_000_000), D("0.08"), D(0), D(80_000), 80_000),
    ]


def test_volume_is_one_line_for_the_tier_the_total_falls_in(catalogue: Catalogue) -> None:
    ppu = catalogue.plan("pay_per_use")
    # 1,234,567 llama tokens: the volume tier up to 10M, all at 0.075 = 92,592.525 -> 92,593.
    lines = usage_lines(ppu, "ai_tokens", D(1_234_567), "llama-3-70b")
    assert [usage(line) for line in lines] == [
        (
            "usage",
            2,
            "volume tier 2 (above 1000000 up to 10000000)",
            D(1_234_567),
            D("0.075"),
            D(0),
            D("92592.525"),
            92_593,
        )
    ]
    # Other models use the default: 999 tokens x 0.2 = 199.8 -> 200, in the first tier.
    (line,) = usage_lines(ppu, "ai_tokens", D(999), None)
    assert (line.tier, line.description, line.amount) == (1, "volume tier 1 (up to 1000000)", 200)


def test_package_and_per_unit_lines(catalogue: Catalogue) -> None:
    starter = catalogue.plan("starter")
    # 25,500 calls: 10,000 included, 15,500 billable = 16 started packages x 8 = 128.
    assert [usage(line) for line in usage_lines(starter, "api_calls", D(25_500))] == [
        ("included", None, "included", D(10_000), D(0), D(0), D(0), 0),
        ("usage", None, "package of 1000", D(15_500), None, D(0), D(128), 128),
    ]
    # 12.5 GB: 10 included, 2.5 x 25 = 62.5 -> 63.
    assert [usage(line) for line in usage_lines(starter, "storage", D("12.5"))] == [
        ("included", None, "included", D(10), D(0), D(0), D(0), 0),
        ("usage", None, "per unit", D("2.5"), D(25), D(0), D("62.5"), 63),
    ]
    # Below the allowance: included is the quantity used, the price line is for 0 units.
    assert [
        (line.kind, line.quantity, line.amount)
        for line in usage_lines(starter, "ai_tokens", D(40_000))
    ] == [("included", D(40_000), 0), ("usage", D(0), 0)]


def test_unpriced_features_are_one_free_line(catalogue: Catalogue) -> None:
    free = catalogue.plan("free")
    # Storage is not on Free; "gpu_hours" is not in the catalogue at all.
    for feature in ["storage", "gpu_hours"]:
        assert [usage(line) for line in usage_lines(free, feature, D(3))] == [
            ("usage", None, "no price", D(3), D(0), D(0), D(0), 0)
        ]
    # api_calls on Free: 1,000 included, no price for the rest.
    assert [
        (line.kind, line.description, line.quantity, line.amount)
        for line in usage_lines(free, "api_calls", D(5000))
    ] == [("included", "included", D(1000), 0), ("usage", "no price", D(4000), 0)]


def test_single_unbounded_tier_covers_all_units() -> None:
    price = VolumePrice(model="volume", tiers=[Tier(up_to=None, unit_amount=D(3))])
    (line,) = usage_lines(plan_with(price), "api_calls", D(7))
    assert (line.tier, line.description, line.amount) == (1, "volume tier 1 (all units)", 21)


def test_invalid_quantities_are_refused(catalogue: Catalogue) -> None:
    with pytest.raises(PricingError, match="quantity must be a finite number >= 0"):
        usage_lines(catalogue.plan("starter"), "api_calls", D(-1))
    with pytest.raises(PricingError, match="quantity must be a Decimal"):
        usage_lines(catalogue.plan("starter"), "api_calls", 5)  # type: ignore[arg-type]


def test_exact_amounts_keep_every_digit() -> None:
    # 37 significant digits: more than the default decimal context (28) would keep.
    price = PerUnitPrice(model="per_unit", unit_amount=D("0.123456789012"))
    quantity = D("12345678.123456789123456789")
    (line,) = usage_lines(plan_with(price), "api_calls", quantity)
    # As integers: 12345678123456789123456789 x 123456789012 =
    # 1524157779297668902913581219672002468, with 18 + 12 = 30 decimal places.
    expected = D("1524157.779297668902913581219672002468")
    assert line.exact_amount == expected == price_amount(price, quantity)
    assert decimal_text(line.exact_amount) == "1524157.779297668902913581219672002468"
    assert usage_charge(plan_with(price), "api_calls", quantity).billable == quantity


# --- properties ------------------------------------------------------------------------------

# Quantities in feature units as the pipeline computes them: up to 18 decimal places (an event
# quantity with 9 decimals times a unit conversion with 9).
feature_quantities = st.one_of(
    quantities,
    st.decimals(min_value=0, max_value=10**6, places=18, allow_nan=False, allow_infinity=False),
    st.tuples(quantities, st.integers(1, 10**9).map(lambda n: D(n).scaleb(-9))).map(
        lambda pair: pair[0] * pair[1]
    ),
)


@st.composite
def priced_plans(draw: st.DrawFn) -> Plan:
    """A plan whose api_calls have any price (or none, or one by dimension) and allowance."""
    kind = draw(st.sampled_from(["simple", "dimension", "none"]))
    if kind == "dimension":
        price: Any = DimensionPrice(
            model="dimension",
            property="model",
            prices=draw(st.dictionaries(st.sampled_from(["a", "b"]), simple_prices(), max_size=2)),
            default=draw(simple_prices()),
        )
        return plan_with(price)  # a dimension price has no allowance
    price = draw(simple_prices()) if kind == "simple" else None
    included = draw(st.one_of(st.just(D(0)), amounts.map(lambda a: a.quantize(D("1e-9")))))
    return plan_with(price, included)


@settings(max_examples=400, deadline=None)
@given(
    plan=priced_plans(),
    quantity=feature_quantities,
    dimension=st.sampled_from([None, "a", "b", "c"]),
)
def test_lines_add_up_to_the_charge(plan: Plan, quantity: Decimal, dimension: str | None) -> None:
    charge = usage_charge(plan, "api_calls", quantity, dimension)
    lines = usage_lines(plan, "api_calls", quantity, dimension)

    assert sum(line.amount for line in lines) == charge.amount
    with localcontext(prec=PRECISION):  # the test's own sums must not round either
        assert sum((line.exact_amount for line in lines), ZERO) == charge.exact_amount
        assert sum((line.quantity for line in lines), ZERO) == quantity
        _check_lines(lines, charge.included, quantity)
        _check_terms(plan, dimension, lines, charge.billable)


def _check_lines(lines: list[UsageLine], included_quantity: Decimal, quantity: Decimal) -> None:
    assert all(type(line.amount) is int and line.amount >= 0 for line in lines)
    # Cumulative rounding: every running total of the lines is within half a cent of the
    # running total of their exact amounts (so no line drifts, and none can go negative).
    running_exact, running = ZERO, 0
    for line in lines:
        running_exact += line.exact_amount
        running += line.amount
        assert abs(running - running_exact) <= D("0.5")

    included = [line for line in lines if line.kind == "included"]
    assert lines[: len(included)] == included  # first, if at all
    if included_quantity > 0:
        assert [line.quantity for line in included] == [min(quantity, included_quantity)]
        assert included[0].amount == 0
    else:
        assert included == []


def _check_terms(
    plan: Plan, dimension: str | None, lines: list[UsageLine], billable: Decimal
) -> None:
    lines = [line for line in lines if line.kind == "usage"]
    assert sum((line.quantity for line in lines), ZERO) == billable
    price = plan.features["api_calls"].price
    if isinstance(price, DimensionPrice):
        price = price.price_for(dimension)
    if isinstance(price, GraduatedPrice):
        # Consecutive tiers from the first; a later tier only if the quantity passes the
        # previous bound, and up to the tier the quantity falls in.
        assert [line.tier for line in lines] == list(range(1, len(lines) + 1))
        last_bound = price.tiers[len(lines) - 1].up_to
        assert last_bound is None or billable <= last_bound
        for line in lines[1:]:
            assert line.tier is not None
            bound = price.tiers[line.tier - 2].up_to
            assert bound is not None
            assert billable > bound
        for line in lines:
            assert line.tier is not None
            tier = price.tiers[line.tier - 1]
            assert line.exact_amount == line.quantity * tier.unit_amount + tier.flat_amount
        return
    assert len(lines) == 1
    (line,) = lines
    if isinstance(price, VolumePrice):
        tier = next(t for t in price.tiers if t.up_to is None or billable <= t.up_to)
        assert line.tier is not None
        assert price.tiers[line.tier - 1] == tier
        assert (line.unit_amount, line.flat_amount) == (tier.unit_amount, tier.flat_amount)
    elif isinstance(price, PackagePrice):
        assert (line.tier, line.unit_amount) == (None, None)
    else:
        assert line.tier is None
        assert line.unit_amount == (price.unit_amount if price is not None else D(0))
    assert line.quantity == billable

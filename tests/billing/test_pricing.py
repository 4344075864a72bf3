"""The pricing engine: worked examples (Stripe's, the shipped plans') and properties.

All amounts are US cents. Expected values are computed by hand in the comments, never by the
engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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
from tollgate.billing.money import round_line
from tollgate.billing.pricing import (
    PricingError,
    UsageCharge,
    feature_charges,
    price_amount,
    usage_charge,
)

D = Decimal

# Stripe's tiered pricing example: units 1-5 at $7, 6-10 at $6.50, 11 and up at $6.
STRIPE_TIERS = [
    Tier(up_to=D(5), unit_amount=D(700)),
    Tier(up_to=D(10), unit_amount=D(650)),
    Tier(up_to=None, unit_amount=D(600)),
]
STRIPE_GRADUATED = GraduatedPrice(model="graduated", tiers=STRIPE_TIERS)
STRIPE_VOLUME = VolumePrice(model="volume", tiers=STRIPE_TIERS)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


ZERO = D(0)


def hybrid(price: Any, included: Decimal = ZERO) -> Plan:
    """A plan whose only feature, api_calls, has ``price`` above ``included``."""
    return Plan(
        display_name="Test",
        billing_type=BillingType.HYBRID,
        base_price=1000,
        features={"api_calls": PlanFeature(included=included, price=price)},
    )


# --- Stripe's documented examples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (1, 700),
        (5, 3_500),  # 5 x 700
        (6, 3_900),  # 6 x 650: every unit at the tier the total falls in
        (10, 6_500),  # 10 x 650 (up_to is inclusive)
        (11, 6_600),  # 11 x 600
        (20, 12_000),  # 20 x 600
        (25, 15_000),  # 25 x 600
    ],
)
def test_stripe_volume_example(quantity: int, expected: int) -> None:
    assert price_amount(STRIPE_VOLUME, D(quantity)) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (1, 700),
        (5, 3_500),  # 5 x 700
        (6, 4_150),  # 5 x 700 + 1 x 650
        (10, 6_750),  # 5 x 700 + 5 x 650
        (11, 7_350),  # 6,750 + 1 x 600
        (20, 12_750),  # 3,500 + 3,250 + 10 x 600
        (25, 15_750),  # 3,500 + 3,250 + 15 x 600
    ],
)
def test_stripe_graduated_example(quantity: int, expected: int) -> None:
    assert price_amount(STRIPE_GRADUATED, D(quantity)) == expected


def test_stripe_examples_through_a_plan_line() -> None:
    charge = usage_charge(hybrid(STRIPE_GRADUATED), "api_calls", D(20))
    assert charge == UsageCharge("api_calls", None, D(20), D(0), D(20), D(12_750), 12_750)
    # With 3 units included, tiers apply to the billable 17: 3,500 + 3,250 + 7 x 600 = 10,950.
    charge = usage_charge(hybrid(STRIPE_GRADUATED, included=D(3)), "api_calls", D(20))
    assert (charge.billable, charge.amount) == (D(17), 10_950)
    # Volume: 17 billable units all at 600 = 10,200.
    assert usage_charge(hybrid(STRIPE_VOLUME, D(3)), "api_calls", D(20)).amount == 10_200


# --- per unit, package, flat fees, dimensions --------------------------------------------------


def test_per_unit_sub_cent_price_is_exact_until_the_line_is_rounded() -> None:
    price = PerUnitPrice(model="per_unit", unit_amount=D("0.2"))  # $0.002 per token
    exact = price_amount(price, D(1_234_567))
    assert exact == D("246913.4")  # 1,234,567 x 0.2, not 246913.40000000002
    assert round_line(exact) == 246_913
    charge = usage_charge(hybrid(price), "api_calls", D(1_234_567))
    assert (charge.exact_amount, charge.amount) == (D("246913.4"), 246_913)


@pytest.mark.parametrize(
    ("unit_amount", "quantity", "exact", "rounded"),
    [
        ("0.2", "1234567.5", "246913.5", 246_914),  # half rounds up
        ("0.15", "10", "1.5", 2),
        ("0.15", "3", "0.45", 0),
        ("0.2", "2.5", "0.5", 1),
        ("0.000000000001", "1", "0.000000000001", 0),
        ("0.000000000001", "500000000000", "0.5", 1),  # 12 decimals, still exact
        ("0.006", "84", "0.504", 1),
        ("0.006", "83", "0.498", 0),
    ],
)
def test_per_unit_rounding_half_up(
    unit_amount: str, quantity: str, exact: str, rounded: int
) -> None:
    plan = hybrid(PerUnitPrice(model="per_unit", unit_amount=D(unit_amount)))
    charge = usage_charge(plan, "api_calls", D(quantity))
    assert charge.exact_amount == D(exact)
    assert charge.amount == rounded


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", 0),
        ("0.5", 10),  # a started package is paid in full
        ("1", 10),
        ("999", 10),
        ("1000", 10),
        ("1000.000000001", 20),
        ("1001", 20),
        ("2500", 30),
        ("1000000", 10_000),
    ],
)
def test_package_rounds_partial_packages_up(quantity: str, expected: int) -> None:
    price = PackagePrice(model="package", package_size=D(1000), package_amount=D(10))
    assert price_amount(price, D(quantity)) == expected


def test_package_with_fractional_size_and_amount() -> None:
    price = PackagePrice(model="package", package_size=D("0.5"), package_amount=D("0.3"))
    # 1.2 units need 3 packages of 0.5: 3 x 0.3 = 0.9.
    assert price_amount(price, D("1.2")) == D("0.9")


FLAT_TIERS = [
    Tier(up_to=D(10), unit_amount=D(100), flat_amount=D(500)),
    Tier(up_to=None, unit_amount=D(50), flat_amount=D(1000)),
]


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 500),  # zero falls in the first tier: its flat fee is due
        (1, 600),  # 500 + 1 x 100
        (10, 1_500),  # 500 + 10 x 100
        (11, 2_550),  # 1,500 + 1,000 + 1 x 50
        (20, 3_000),  # 1,500 + 1,000 + 10 x 50
    ],
)
def test_graduated_flat_fees(quantity: int, expected: int) -> None:
    assert price_amount(GraduatedPrice(model="graduated", tiers=FLAT_TIERS), D(quantity)) == (
        expected
    )


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 500),  # 0 x 100 + 500
        (1, 600),  # 1 x 100 + 500
        (10, 1_500),  # 10 x 100 + 500
        (11, 1_550),  # 11 x 50 + 1,000
        (20, 2_000),  # 20 x 50 + 1,000
    ],
)
def test_volume_flat_fees(quantity: int, expected: int) -> None:
    assert price_amount(VolumePrice(model="volume", tiers=FLAT_TIERS), D(quantity)) == expected


def test_dimension_prices(catalogue: Catalogue) -> None:
    ppu = catalogue.plan("pay_per_use")
    tokens = D(1_234_567)
    # llama-3-70b: volume tier up to 10M at 0.075: 92,592.525 -> 92,593.
    llama = usage_charge(ppu, "ai_tokens", tokens, "llama-3-70b")
    assert (llama.exact_amount, llama.amount) == (D("92592.525"), 92_593)
    # Any other model, or no model at all: the default, tier up to 10M at 0.15:
    # 185,185.05 -> 185,185.
    for dimension in ["gpt-4o", None, ""]:
        charge = usage_charge(ppu, "ai_tokens", tokens, dimension)
        assert (charge.exact_amount, charge.amount) == (D("185185.05"), 185_185)
        assert charge.dimension == dimension
    # A dimension value on a feature whose price has no dimension changes nothing.
    assert usage_charge(ppu, "api_calls", D(1500), "llama-3-70b").amount == 20


def test_feature_charges_split_by_dimension(catalogue: Catalogue) -> None:
    ppu = catalogue.plan("pay_per_use")
    usage: dict[str | None, Decimal] = {
        "llama-3-70b": D(1000),  # 1,000 x 0.1 = 100
        None: D(3),  # 3 x 0.2 = 0.6 -> 1
        "gpt-4o": D(999_999),  # 999,999 x 0.2 = 199,999.8 -> 200,000
    }
    charges = feature_charges(ppu, "ai_tokens", usage)
    # One line per value, each with its own tiers (volume tiers are NOT applied to the total
    # 1,001,002, which would be in the 0.15 tier), sorted by value with None first.
    assert [(c.dimension, c.quantity, c.amount) for c in charges] == [
        (None, D(3), 1),
        ("gpt-4o", D(999_999), 200_000),
        ("llama-3-70b", D(1000), 100),
    ]
    # A feature without a dimension price gets one line for the total: 2,500 calls -> 30.
    calls = feature_charges(ppu, "api_calls", {None: D(1000), "x": D(1500)})
    assert [(c.dimension, c.quantity, c.amount) for c in calls] == [(None, D(2500), 30)]


def test_volume_total_can_drop_at_a_boundary(catalogue: Catalogue) -> None:
    ppu = catalogue.plan("pay_per_use")
    # 999,999 x 0.2 = 199,999.8 -> 200,000; 1,000,001 x 0.15 = 150,000.15 -> 150,000.
    assert usage_charge(ppu, "ai_tokens", D(999_999)).amount == 200_000
    assert usage_charge(ppu, "ai_tokens", D(1_000_000)).amount == 200_000  # up_to inclusive
    assert usage_charge(ppu, "ai_tokens", D(1_000_001)).amount == 150_000


# --- the shipped plans -----------------------------------------------------------------------


def bill(plan: Plan, **usage: str) -> tuple[list[int], int]:
    """Each feature's line amount and the cycle total (base price + lines)."""
    amounts = [usage_charge(plan, feature, D(q)).amount for feature, q in usage.items()]
    return amounts, plan.base_price + sum(amounts)


@pytest.mark.parametrize(
    ("plan", "usage", "total"),
    [
        ("free", {"api_calls": "1000", "ai_tokens": "10000"}, 0),
        ("starter", {"api_calls": "10000", "ai_tokens": "100000", "storage": "10"}, 2_900),
        ("professional", {"api_calls": "50000", "ai_tokens": "500000", "storage": "50"}, 7_900),
        ("enterprise", {"api_calls": "0", "ai_tokens": "0", "storage": "0"}, 19_900),
        ("pay_per_use", {"api_calls": "0", "ai_tokens": "0", "storage": "0"}, 0),
    ],
)
def test_shipped_plans_at_their_included_quantities(
    catalogue: Catalogue, plan: str, usage: dict[str, str], total: int
) -> None:
    amounts, billed = bill(catalogue.plan(plan), **usage)
    assert amounts == [0] * len(usage)
    assert billed == total


def test_starter_just_above(catalogue: Catalogue) -> None:
    starter = catalogue.plan("starter")
    # 10,001 calls: 1 billable call starts a package of 1,000 -> 8.
    assert usage_charge(starter, "api_calls", D(10_001)).amount == 8
    # 100,001 tokens: 1 x 0.15 = 0.15, which rounds to 0 (exact amount kept on the line).
    tokens = usage_charge(starter, "ai_tokens", D(100_001))
    assert (tokens.billable, tokens.exact_amount, tokens.amount) == (D(1), D("0.15"), 0)
    # 100,004 tokens: 4 x 0.15 = 0.6 -> 1. 10.5 GB: 0.5 x 25 = 12.5 -> 13.
    assert usage_charge(starter, "ai_tokens", D(100_004)).amount == 1
    assert usage_charge(starter, "storage", D("10.5")).amount == 13
    # docs/pricing.md: 10,001 calls, 100,003 tokens, 10 GB: 2,900 + 8 + 0 (0.45) + 0 = 2,908.
    assert bill(starter, api_calls="10001", ai_tokens="100003", storage="10") == ([8, 0, 0], 2908)


def test_starter_far_above(catalogue: Catalogue) -> None:
    starter = catalogue.plan("starter")
    # 1,000,000 calls: 990,000 billable = 990 packages x 8 = 7,920.
    # 5,000,000 tokens: 4,900,000 x 0.15 = 735,000. 100 GB: 90 x 25 = 2,250.
    # Total 2,900 + 7,920 + 735,000 + 2,250 = 748,070.
    assert bill(starter, api_calls="1000000", ai_tokens="5000000", storage="100") == (
        [7_920, 735_000, 2_250],
        748_070,
    )
    # docs/pricing.md: 25,500 calls (16 packages = 128), 250,000 tokens (150,000 x 0.15 =
    # 22,500), 12.5 GB (2.5 x 25 = 62.5 -> 63): 2,900 + 128 + 22,500 + 63 = 25,591.
    assert bill(starter, api_calls="25500", ai_tokens="250000", storage="12.5") == (
        [128, 22_500, 63],
        25_591,
    )


def test_professional_just_and_far_above(catalogue: Catalogue) -> None:
    professional = catalogue.plan("professional")
    # Just above: 50,001 calls: 1 x 0.006 -> 0; 500,001 tokens: 1 x 0.1 (first tier) -> 0;
    # 51 GB: 1 x 20 = 20. Total 7,920.
    assert bill(professional, api_calls="50001", ai_tokens="500001", storage="51") == (
        [0, 0, 20],
        7_920,
    )
    # 50,084 calls: 84 x 0.006 = 0.504 -> 1.
    assert usage_charge(professional, "api_calls", D(50_084)).amount == 1
    # Far above: 1,000,000 calls: 950,000 x 0.006 = 5,700.
    # 10,000,000 tokens: 9,500,000 billable; 4,500,000 x 0.1 = 450,000 + 5,000,000 x 0.08 =
    # 400,000 -> 850,000. 100 GB: 50 x 20 = 1,000. Total 7,900 + 5,700 + 850,000 + 1,000.
    assert bill(professional, api_calls="1000000", ai_tokens="10000000", storage="100") == (
        [5_700, 850_000, 1_000],
        864_600,
    )
    # docs/pricing.md: 6,000,000 tokens: 4,500,000 x 0.1 + 1,000,000 x 0.08 = 530,000.
    assert usage_charge(professional, "ai_tokens", D(6_000_000)).amount == 530_000


def test_pay_per_use_just_and_far_above(catalogue: Catalogue) -> None:
    ppu = catalogue.plan("pay_per_use")
    # Just above zero: 1 call -> one package = 10; 1 token x 0.2 -> 0; 3 tokens 0.6 -> 1;
    # 0.1 GB x 30 = 3.
    assert bill(ppu, api_calls="1", ai_tokens="1", storage="0.1") == ([10, 0, 3], 13)
    assert bill(ppu, api_calls="2500", ai_tokens="3") == ([30, 1], 31)  # docs/pricing.md
    # Far above: 1,000,000 calls = 1,000 packages x 10 = 10,000; 10,000,000 tokens are in the
    # tier up to 10M: x 0.15 = 1,500,000; 100 GB x 30 = 3,000. Total 1,513,000.
    assert bill(ppu, api_calls="1000000", ai_tokens="10000000", storage="100") == (
        [10_000, 1_500_000, 3_000],
        1_513_000,
    )
    # 10,000,001 tokens: all at 0.1 = 1,000,000.1 -> 1,000,000.
    assert usage_charge(ppu, "ai_tokens", D(10_000_001)).amount == 1_000_000


def test_enterprise_far_above_costs_its_base_price(catalogue: Catalogue) -> None:
    enterprise = catalogue.plan("enterprise")
    assert bill(enterprise, api_calls="1e9", ai_tokens="1e12", storage="1e6") == (
        [0, 0, 0],
        19_900,
    )


def test_free_plan_never_bills_usage(catalogue: Catalogue) -> None:
    free = catalogue.plan("free")
    # Usage above a free limit is refused by enforcement; priced, it still costs nothing,
    # and storage (not on the plan) is not billed either.
    assert bill(free, api_calls="5000", ai_tokens="1000000", storage="3") == ([0, 0, 0], 0)
    storage = usage_charge(free, "storage", D(3))
    assert (storage.included, storage.billable) == (D(0), D(3))


# --- invalid quantities ----------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [D(-1), D("-0.000000001"), D("NaN"), D("sNaN"), D("Inf")])
def test_invalid_quantities_are_refused(catalogue: Catalogue, quantity: Decimal) -> None:
    with pytest.raises(PricingError, match="quantity must be a finite number >= 0"):
        price_amount(STRIPE_GRADUATED, quantity)
    # Also through a plan line, for a priced feature above its allowance and for one without
    # a price (a negative quantity must not hide under the included amount).
    for plan, feature in [("starter", "api_calls"), ("free", "storage")]:
        with pytest.raises(PricingError, match="quantity must be a finite number >= 0"):
            usage_charge(catalogue.plan(plan), feature, quantity)


@pytest.mark.parametrize("quantity", [1.5, 0.0, 10, "10"])
def test_quantities_must_be_decimal(catalogue: Catalogue, quantity: Any) -> None:
    with pytest.raises(PricingError, match="quantity must be a Decimal, got"):
        price_amount(STRIPE_VOLUME, quantity)
    with pytest.raises(PricingError, match="quantity must be a Decimal, got"):
        usage_charge(catalogue.plan("starter"), "ai_tokens", quantity)


# --- properties ------------------------------------------------------------------------------

# No deadline: the machine is shared, and a slow example is not a wrong one.
PROPERTY = settings(max_examples=150, deadline=None)

# Amounts as the catalogue allows them: >= 0, at most 12 decimal places; never floats.
amounts = st.one_of(
    st.just(D(0)),
    st.integers(0, 100_000).map(D),
    st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**12).map(lambda n: D(n).scaleb(-12)),
)
# Quantities as the warehouse stores them (decimal(38, 9)): whole, fractional, tiny, huge.
quantities = st.one_of(
    st.integers(0, 10**9).map(D),
    st.decimals(min_value=0, max_value=10**7, places=9, allow_nan=False, allow_infinity=False),
)
bounds = st.one_of(
    st.integers(1, 10**7).map(D),
    st.decimals(min_value=D("0.001"), max_value=10**6, places=3, allow_nan=False),
)


@st.composite
def tier_lists(draw: st.DrawFn, flat_fees: bool = True) -> list[Tier]:
    ups = sorted(set(draw(st.lists(bounds, max_size=5))))
    fees = amounts if flat_fees else st.just(D(0))
    return [
        Tier(up_to=up_to, unit_amount=draw(amounts), flat_amount=draw(fees))
        for up_to in [*ups, None]
    ]


@st.composite
def simple_prices(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["per_unit", "package", "graduated", "volume"]))
    if kind == "per_unit":
        return PerUnitPrice(model="per_unit", unit_amount=draw(amounts))
    if kind == "package":
        return PackagePrice(
            model="package", package_size=draw(bounds), package_amount=draw(amounts)
        )
    if kind == "graduated":
        return GraduatedPrice(model="graduated", tiers=draw(tier_lists()))
    return VolumePrice(model="volume", tiers=draw(tier_lists()))


@PROPERTY
@given(tiers=tier_lists(), a=quantities, b=quantities)
def test_graduated_cost_never_decreases(tiers: list[Tier], a: Decimal, b: Decimal) -> None:
    price = GraduatedPrice(model="graduated", tiers=tiers)
    low, high = sorted([a, b])
    assert price_amount(price, low) <= price_amount(price, high)


@PROPERTY
@given(
    tiers=tier_lists(),
    index=st.integers(0, 4),
    step=st.decimals(min_value=D("1e-9"), max_value=D("0.001"), places=9),
)
def test_graduated_boundary_adds_at_most_the_next_tiers_flat_fee(
    tiers: list[Tier], index: int, step: Decimal
) -> None:
    assume(index < len(tiers) - 1)
    price = GraduatedPrice(model="graduated", tiers=tiers)
    boundary = tiers[index].up_to
    assert boundary is not None
    previous = tiers[index - 1].up_to if index else D(0)
    assert previous is not None
    below = max(boundary - step, previous)
    at = price_amount(price, boundary)
    # Approaching the boundary from below: only this tier's unit price applies.
    assert at - price_amount(price, below) == (boundary - below) * tiers[index].unit_amount
    # Just past it: the next tier's unit price, plus its flat fee and nothing else.
    above = boundary + step
    following = tiers[index + 1]
    if following.up_to is not None:
        above = min(above, following.up_to)
    jump = price_amount(price, above) - at
    assert jump == (above - boundary) * following.unit_amount + following.flat_amount


@PROPERTY
@given(tiers=tier_lists(), quantity=quantities)
def test_volume_is_quantity_times_the_tier_the_total_falls_in(
    tiers: list[Tier], quantity: Decimal
) -> None:
    price = VolumePrice(model="volume", tiers=tiers)
    # up_to is inclusive: the first tier whose bound is at or above the total.
    tier = next(t for t in tiers if t.up_to is None or quantity <= t.up_to)
    assert price_amount(price, quantity) == quantity * tier.unit_amount + tier.flat_amount


@PROPERTY
@given(tiers=tier_lists(flat_fees=False), quantity=quantities)
def test_graduated_without_fees_never_exceeds_volume_at_the_top_rate(
    tiers: list[Tier], quantity: Decimal
) -> None:
    # Each graduated unit is priced at some tier's rate, so the total lies between quantity
    # x the lowest and quantity x the highest rate of the tiers it spans.
    amount = price_amount(GraduatedPrice(model="graduated", tiers=tiers), quantity)
    rates = [t.unit_amount for t in tiers]
    assert quantity * min(rates) <= amount <= quantity * max(rates)


@PROPERTY
@given(price=simple_prices())
def test_zero_usage_costs_only_fixed_fees(price: Any) -> None:
    expected = price.tiers[0].flat_amount if hasattr(price, "tiers") else D(0)
    assert price_amount(price, D(0)) == expected
    plan = hybrid(price)
    charge = usage_charge(plan, "api_calls", D(0))
    assert charge.exact_amount == expected
    assert plan.base_price + charge.amount == 1000 + round_line(expected)


@pytest.mark.parametrize("feature", ["api_calls", "ai_tokens", "storage"])
@pytest.mark.parametrize("dimension", [None, "llama-3-70b"])
def test_zero_usage_on_the_shipped_plans_costs_nothing_beyond_the_base_price(
    catalogue: Catalogue, feature: str, dimension: str | None
) -> None:
    for plan in catalogue.plans.values():
        charge = usage_charge(plan, feature, D(0), dimension)
        assert (charge.exact_amount, charge.amount) == (D(0), 0)


@settings(max_examples=300, deadline=None)
@given(
    price=simple_prices(),
    included=st.one_of(st.just(D(0)), quantities),
    quantity=quantities,
)
def test_amounts_are_exact_and_rounded_once(
    price: Any, included: Decimal, quantity: Decimal
) -> None:
    charge = usage_charge(hybrid(price, included), "api_calls", quantity)
    assert type(charge.amount) is int
    for value in [charge.exact_amount, charge.quantity, charge.included, charge.billable]:
        assert type(value) is Decimal
    assert charge.billable == max(quantity - included, D(0))
    assert charge.exact_amount == price_amount(price, charge.billable)
    assert charge.amount == round_line(charge.exact_amount)
    # round half up: the line is within half a cent of the exact amount, and .5 goes up.
    assert abs(charge.amount - charge.exact_amount) <= D("0.5")
    if charge.exact_amount - int(charge.exact_amount) == D("0.5"):
        assert charge.amount == int(charge.exact_amount) + 1


@PROPERTY
@given(
    dimension_prices=st.dictionaries(st.sampled_from(["a", "b", "c"]), simple_prices()),
    default=simple_prices(),
    value=st.sampled_from(["a", "b", "c", "d", None]),
    quantity=quantities,
)
def test_dimension_uses_its_value_price_or_the_default(
    dimension_prices: dict[str, Any], default: Any, value: str | None, quantity: Decimal
) -> None:
    price = DimensionPrice(
        model="dimension", property="model", prices=dimension_prices, default=default
    )
    chosen = dimension_prices.get(value, default) if value is not None else default
    assert price_amount(price, quantity, value) == price_amount(chosen, quantity)

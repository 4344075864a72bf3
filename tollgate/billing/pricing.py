"""The pricing engine: what usage costs under a plan. The only implementation of the rules.

Everything here is exact: quantities and amounts are ``Decimal`` (amounts in minor units) and
the one rounding step, ``money.round_line``, happens when a usage charge gets its amount (its
tier lines share that amount by rounding their running total, see ``usage_lines``). The
pipeline runs these same functions inside DuckDB (``duckdb_functions.py``); the API, Stripe
sync and dashboards import them. docs/pricing.md explains every rule with examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal, NamedTuple

from tollgate.billing.catalogue.model import (
    DimensionPrice,
    GraduatedPrice,
    PackagePrice,
    PerUnitPrice,
    Plan,
    Price,
    SimplePrice,
    Tier,
    VolumePrice,
)
from tollgate.billing.money import PRECISION, ceil_div, round_line

ZERO = Decimal(0)


class PricingError(ValueError):
    pass


def price_amount(price: Price, quantity: Decimal, dimension: str | None = None) -> Decimal:
    """The exact amount, in minor units, of ``quantity`` units under ``price``."""
    _check_quantity(quantity)
    with localcontext(prec=PRECISION):
        return _total(_terms(_resolve(price, dimension), quantity))


def _resolve(price: Price, dimension: str | None) -> SimplePrice:
    return price.price_for(dimension) if isinstance(price, DimensionPrice) else price


def _check_quantity(quantity: object) -> None:
    if not isinstance(quantity, Decimal):
        raise PricingError(f"quantity must be a Decimal, got {type(quantity).__name__}")
    # is_finite first: ordering a NaN raises decimal.InvalidOperation.
    if not quantity.is_finite() or quantity < 0:
        raise PricingError(f"quantity must be a finite number >= 0, got {quantity}")


# The private helpers below compute in the caller's context: the public functions set
# ``localcontext(prec=PRECISION)`` once per call (entering one costs as much as the pricing).


class _Term(NamedTuple):
    """One term of a price applied to a quantity: what one invoice line of usage charges."""

    tier: int | None  # 0-based index into the price's tiers; None for untiered prices
    quantity: Decimal
    unit_amount: Decimal | None  # None for a package price
    flat_amount: Decimal
    exact_amount: Decimal


def _total(terms: list[_Term]) -> Decimal:
    return sum([term.exact_amount for term in terms], ZERO)


def _terms(price: SimplePrice, quantity: Decimal) -> list[_Term]:
    """The terms ``quantity`` units incur under ``price``; their amounts add up to its cost."""
    if isinstance(price, PerUnitPrice):
        return [_Term(None, quantity, price.unit_amount, ZERO, quantity * price.unit_amount)]
    if isinstance(price, PackagePrice):
        packages = ceil_div(quantity, price.package_size)
        return [_Term(None, quantity, None, ZERO, packages * price.package_amount)]
    if isinstance(price, GraduatedPrice):
        return _graduated(price.tiers, quantity)
    if isinstance(price, VolumePrice):
        return [_volume(price.tiers, quantity)]
    raise PricingError(f"unknown price model {price!r}")


def _graduated(tiers: list[Tier], quantity: Decimal) -> list[_Term]:
    # Each unit at the rate of the tier it falls in. A tier's flat fee is due once the quantity
    # reaches into it; zero falls in the first tier, so its flat fee is always due (Stripe).
    terms = []
    lower = ZERO
    for index, tier in enumerate(tiers):
        if index and quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = max(upper - lower, ZERO)
        exact = units * tier.unit_amount + tier.flat_amount
        terms.append(_Term(index, units, tier.unit_amount, tier.flat_amount, exact))
        if tier.up_to is None:
            break
        lower = tier.up_to
    return terms


def _volume(tiers: list[Tier], quantity: Decimal) -> _Term:
    # Every unit at the rate of the tier the total falls in (up_to is inclusive), plus its fee.
    index, tier = next(
        (i, t) for i, t in enumerate(tiers) if t.up_to is None or quantity <= t.up_to
    )
    exact = quantity * tier.unit_amount + tier.flat_amount
    return _Term(index, quantity, tier.unit_amount, tier.flat_amount, exact)


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """A feature's usage charge (per dimension value, for dimension prices); ``usage_lines``
    breaks it down into invoice lines by tier."""

    feature: str
    dimension: str | None
    quantity: Decimal
    included: Decimal
    billable: Decimal
    exact_amount: Decimal  # minor units, unrounded
    amount: int  # minor units: round_line(exact_amount), the one rounding step


def usage_charge(
    plan: Plan, feature: str, quantity: Decimal, dimension: str | None = None
) -> UsageCharge:
    """The charge for ``quantity`` of ``feature`` used in one cycle (or one plan's stretch).

    The plan's included quantity is free; the price applies to the quantity above it. A
    feature the plan does not list, or lists without a price, costs nothing here (whether it
    may be used at all is the limits' business).
    """
    _check_quantity(quantity)
    with localcontext(prec=PRECISION):
        included, billable, _, terms = _usage(plan, feature, quantity, dimension)
        exact = _total(terms)
    return UsageCharge(feature, dimension, quantity, included, billable, exact, round_line(exact))


def _usage(
    plan: Plan, feature: str, quantity: Decimal, dimension: str | None
) -> tuple[Decimal, Decimal, SimplePrice, list[_Term]]:
    """How the plan prices ``quantity``: the included quantity, the billable quantity above it,
    the price that applies to it and the terms it incurs."""
    plan_feature = plan.features.get(feature)
    included = plan_feature.included if plan_feature else ZERO
    billable = max(quantity - included, ZERO)
    if plan_feature is None or plan_feature.price is None:
        price: SimplePrice = _FREE
    else:
        price = _resolve(plan_feature.price, dimension)
    return included, billable, price, _terms(price, billable)


# The price of a feature the plan does not list, or lists without a price.
_FREE = PerUnitPrice(model="per_unit", unit_amount=ZERO)


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One invoice line of a usage charge: the allowance used, or one term of the price."""

    kind: Literal["included", "usage"]
    tier: int | None  # 1-based tier of a graduated or volume price; None otherwise
    description: str  # the price term in words, e.g. "tier 2 (above 1000 up to 10000)"
    quantity: Decimal  # units on this line
    unit_amount: Decimal | None  # minor units per unit; None for a package price
    flat_amount: Decimal  # minor units, the tier's flat fee (0 if none)
    exact_amount: Decimal  # minor units, unrounded
    amount: int  # minor units: this line's share of the rounded running total


def usage_lines(
    plan: Plan, feature: str, quantity: Decimal, dimension: str | None = None
) -> list[UsageLine]:
    """The lines of ``usage_charge(plan, feature, quantity, dimension)``: usage by tier.

    An "included" line when the plan includes some of the feature, then one "usage" line per
    price term: each graduated tier the quantity reaches (the first always, for its flat fee),
    the one volume tier the total falls in, or the per-unit or package price. Amounts are
    rounded cumulatively (line k gets ``round_line(exact 1..k) - round_line(exact 1..k-1)``),
    so the lines add up exactly to the charge's amount.
    """
    _check_quantity(quantity)
    with localcontext(prec=PRECISION):
        included, _, price, terms = _usage(plan, feature, quantity, dimension)
        amounts = _cumulative_amounts([term.exact_amount for term in terms])
    lines: list[UsageLine] = []
    if included > 0:
        used = min(quantity, included)
        lines.append(UsageLine("included", None, "included", used, ZERO, ZERO, ZERO, 0))
    for term, amount in zip(terms, amounts, strict=True):
        tier = None if term.tier is None else term.tier + 1
        description = _describe(price, term)
        lines.append(
            UsageLine(
                "usage",
                tier,
                description,
                term.quantity,
                term.unit_amount,
                term.flat_amount,
                term.exact_amount,
                amount,
            )
        )
    return lines


def _cumulative_amounts(exact_amounts: list[Decimal]) -> list[int]:
    """Each amount's share of the rounded running total: they add up to the rounded sum."""
    amounts = []
    running, rounded = ZERO, 0
    for exact in exact_amounts:
        running += exact
        amounts.append(round_line(running) - rounded)
        rounded = round_line(running)
    return amounts


def _describe(price: SimplePrice, term: _Term) -> str:
    if price is _FREE:
        return "no price"
    if isinstance(price, PerUnitPrice):
        return "per unit"
    if isinstance(price, PackagePrice):
        return f"package of {decimal_text(price.package_size)}"
    kind = "volume tier" if isinstance(price, VolumePrice) else "tier"
    index = term.tier or 0
    return f"{kind} {index + 1} ({_tier_range(price.tiers, index)})"


def _tier_range(tiers: list[Tier], index: int) -> str:
    lower = tiers[index - 1].up_to if index else None
    upper = tiers[index].up_to
    if upper is None:
        return "all units" if lower is None else f"above {decimal_text(lower)}"
    if lower is None:
        return f"up to {decimal_text(upper)}"
    return f"above {decimal_text(lower)} up to {decimal_text(upper)}"


def decimal_text(value: Decimal) -> str:
    """An exact decimal as plain text, without exponent or trailing zeros ("1234.5")."""
    with localcontext(prec=PRECISION):
        return format(value.normalize(), "f")


# Usage of one feature in a period, by value of the plan's pricing dimension (None: events
# without that property, or a feature whose price has no dimension).
FeatureUsage = Mapping[str | None, Decimal]


def feature_charges(plan: Plan, feature: str, usage: FeatureUsage) -> list[UsageCharge]:
    """The lines for one feature: one per dimension value for a dimension price, else one."""
    plan_feature = plan.features.get(feature)
    if plan_feature is not None and plan_feature.dimension is not None:
        return [
            usage_charge(plan, feature, quantity, value)
            for value, quantity in sorted(usage.items(), key=lambda item: item[0] or "")
        ]
    total = sum(usage.values(), ZERO)
    return [usage_charge(plan, feature, total)]

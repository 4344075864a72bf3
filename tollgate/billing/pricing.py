"""The pricing engine: what usage costs under a plan. The only implementation of the rules.

Everything here is exact: quantities and amounts are ``Decimal`` (amounts in minor units) and
the one rounding step, ``money.round_line``, happens when a usage line gets its amount. The
pipeline runs these same functions inside DuckDB (``duckdb_functions.py``); the API, Stripe
sync and dashboards import them. docs/pricing.md explains every rule with examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

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
    if isinstance(price, DimensionPrice):
        return _simple_amount(price.price_for(dimension), quantity)
    return _simple_amount(price, quantity)


def _check_quantity(quantity: object) -> None:
    if not isinstance(quantity, Decimal):
        raise PricingError(f"quantity must be a Decimal, got {type(quantity).__name__}")
    # is_finite first: ordering a NaN raises decimal.InvalidOperation.
    if not quantity.is_finite() or quantity < 0:
        raise PricingError(f"quantity must be a finite number >= 0, got {quantity}")


def _simple_amount(price: SimplePrice, quantity: Decimal) -> Decimal:
    with localcontext(prec=PRECISION):
        if isinstance(price, PerUnitPrice):
            return quantity * price.unit_amount
        if isinstance(price, PackagePrice):
            return ceil_div(quantity, price.package_size) * price.package_amount
        if isinstance(price, GraduatedPrice):
            return _graduated(price.tiers, quantity)
        if isinstance(price, VolumePrice):
            return _volume(price.tiers, quantity)
    raise PricingError(f"unknown price model {price!r}")


def _graduated(tiers: list[Tier], quantity: Decimal) -> Decimal:
    # Each unit at the rate of the tier it falls in. A tier's flat fee is due once the quantity
    # reaches into it; zero falls in the first tier, so its flat fee is always due (Stripe).
    amount = ZERO
    lower = ZERO
    for index, tier in enumerate(tiers):
        if index and quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        amount += max(upper - lower, ZERO) * tier.unit_amount + tier.flat_amount
        if tier.up_to is None:
            break
        lower = tier.up_to
    return amount


def _volume(tiers: list[Tier], quantity: Decimal) -> Decimal:
    # Every unit at the rate of the tier the total falls in (up_to is inclusive), plus its fee.
    tier = next(t for t in tiers if t.up_to is None or quantity <= t.up_to)
    return quantity * tier.unit_amount + tier.flat_amount


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """One invoice line for a feature's usage (per dimension value, for dimension prices)."""

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
    plan_feature = plan.features.get(feature)
    included = plan_feature.included if plan_feature else ZERO
    billable = max(quantity - included, ZERO)
    if plan_feature is None or plan_feature.price is None:
        exact = price_amount(_FREE, quantity)
    else:
        exact = price_amount(plan_feature.price, billable, dimension)
    return UsageCharge(feature, dimension, quantity, included, billable, exact, round_line(exact))


_FREE = PerUnitPrice(model="per_unit", unit_amount=ZERO)


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

"""What a price charges for a quantity, in integer minor units, exactly as Stripe computes it.

Amounts are exact ``Decimal`` minor units until the very end: ``unit_amount_decimal`` may be a
fraction of a cent ("0.2" is $0.002), and a line is rounded once, to the nearest minor unit
with halves away from zero (Stripe rounds the line total, never the unit price). Tiers follow
Stripe's docs: ``up_to`` is inclusive and the next tier starts one unit above it; graduated
prices charge each tier's units at that tier's rate plus the flat fee of every tier reached;
volume prices charge the whole quantity at the one tier it falls in, plus that tier's flat fee.
A quantity of 0 falls in the first tier, so its flat fee is charged (the "flat fee plus
overage" model of Stripe's pricing-model guide relies on this).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

Json = dict[str, Any]

# Enough digits that a huge quantity times a 12-decimal unit price is never rounded early.
_PRECISION = 60


def round_minor(amount: Decimal) -> int:
    """The one rounding step: to whole minor units, halves away from zero."""
    with localcontext(prec=_PRECISION):
        return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def _amount(obj: Json, field: str) -> Decimal:
    """A price or tier amount; the ``*_decimal`` form (a string) is the exact one."""
    decimal_form = obj.get(f"{field}_decimal")
    if decimal_form is not None:
        return Decimal(str(decimal_form))
    whole = obj.get(field)
    return Decimal(whole) if whole is not None else Decimal(0)


def exact_amount(price: Json, quantity: int) -> Decimal:
    """Unrounded minor units that ``quantity`` units of ``price`` cost."""
    with localcontext(prec=_PRECISION):
        if price["billing_scheme"] == "per_unit":
            return _amount(price, "unit_amount") * _transformed(price, quantity)
        tiers: list[Json] = price["tiers"]
        if price["tiers_mode"] == "volume":
            tier = _tier_for(tiers, quantity)
            return _amount(tier, "unit_amount") * quantity + _amount(tier, "flat_amount")
        return _graduated(tiers, quantity)


def _transformed(price: Json, quantity: int) -> int:
    """The quantity a ``transform_quantity`` price bills: packages, rounded as it says."""
    transform = price.get("transform_quantity")
    if not transform:
        return quantity
    divide_by: int = transform["divide_by"]
    whole, rest = divmod(quantity, divide_by)
    return whole + 1 if rest and transform["round"] == "up" else whole


def line_amount(price: Json, quantity: int) -> int:
    return round_minor(exact_amount(price, quantity))


def _tier_for(tiers: list[Json], quantity: int) -> Json:
    for tier in tiers:
        if tier["up_to"] is None or quantity <= tier["up_to"]:
            return tier
    raise AssertionError("validated tiers always end with up_to=inf")


def _graduated(tiers: list[Json], quantity: int) -> Decimal:
    total = Decimal(0)
    lower = 0  # units already charged by earlier tiers
    for index, tier in enumerate(tiers):
        upper = tier["up_to"]
        in_tier = quantity - lower if upper is None else min(quantity, upper) - lower
        if in_tier <= 0 and index > 0:
            break
        total += _amount(tier, "unit_amount") * max(in_tier, 0) + _amount(tier, "flat_amount")
        if upper is None or quantity <= upper:
            break
        lower = upper
    return total

"""The current cycle's cost: so far, and projected to the cycle's end.

No price is computed here: every amount is ``usage_charge`` (the invoices' engine) or read
from the pipeline's draft; this module only decides which quantities to price.

So far: ``tollgate.limits.cycle_cost`` (shared with the live spend guard, which enforces
budgets on the same figure): the published draft's total plus ``charge(live quantity) -
charge(quantity the draft counted)`` per feature and dimension value, or without a draft the
draft rebuilt from its parts (base fee, plan changes in the cycle, every priced feature's
charge for its live quantity).

Projected: each live quantity of a ``sum`` or ``count`` feature is extrapolated linearly from
the elapsed part of the cycle to the whole (``quantity * cycle length / elapsed``); ``max``
and ``last`` features stay at their current value. The projection is so far plus
``charge(projected) - charge(live)`` per feature and dimension value.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from tollgate.billing.catalogue.model import Aggregation, Catalogue, Plan
from tollgate.limits.cycle_cost import (
    Quantities,
    charge_difference,
    rebuilt_draft,
    spent_so_far,
)
from tollgate.limits.model import CycleUsage

# Shared with the live spend guard (tollgate.limits.spend), so the two agree to the cent.
__all__ = [
    "CycleCost",
    "Quantities",
    "charge_difference",
    "cycle_cost",
    "elapsed_fraction",
    "project",
    "rebuilt_draft",
]
_NINE_PLACES = Decimal("1e-9")


@dataclass(frozen=True, slots=True)
class CycleCost:
    so_far: int
    projected: int
    projected_quantities: dict[str, dict[str | None, Decimal]]


def elapsed_fraction(start: datetime, end: datetime, now: datetime) -> Decimal:
    """The share of ``[start, end)`` before ``now``, clamped to 0..1, in whole seconds."""
    total = int((end - start).total_seconds())
    elapsed = int((min(max(now, start), end) - start).total_seconds())
    return Decimal(elapsed) / Decimal(total) if total > 0 else Decimal(1)


def project(
    catalogue: Catalogue, usage: CycleUsage, now: datetime
) -> dict[str, dict[str | None, Decimal]]:
    """Each live quantity at this rate by the cycle's end (see the module's docstring)."""
    fraction = elapsed_fraction(usage.cycle_start, usage.cycle_end, now)
    projected: dict[str, dict[str | None, Decimal]] = {}
    for feature, by_dimension in usage.quantities.items():
        additive = catalogue.features[feature].aggregation in {Aggregation.SUM, Aggregation.COUNT}
        projected[feature] = {
            dimension: (quantity / fraction).quantize(_NINE_PLACES, rounding=ROUND_HALF_UP)
            if additive and fraction > 0
            else quantity
            for dimension, quantity in by_dimension.items()
        }
    return projected


def cycle_cost(
    catalogue: Catalogue,
    plan: Plan,
    usage: CycleUsage,
    total: int,
    priced: Quantities,
    now: datetime,
) -> CycleCost:
    """The cost from an invoice ``total`` that priced the quantities ``priced``: the published
    draft's (with ``usage.published``) or ``rebuilt_draft``'s (with ``usage.quantities``)."""
    so_far = spent_so_far(plan, total, priced, usage.quantities)
    projected_quantities = project(catalogue, usage, now)
    projected = so_far + charge_difference(plan, usage.quantities, projected_quantities)
    return CycleCost(so_far, projected, projected_quantities)

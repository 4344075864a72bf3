"""The current cycle's cost: so far, and projected to the cycle's end.

No price is computed here: every amount is ``usage_charge`` (the invoices' engine) or read
from the pipeline's draft; this module only decides which quantities to price.

So far, with a published draft for the cycle: the draft's total, plus for each feature and
dimension value ``charge(live quantity) - charge(quantity the draft counted)``. Pricing the
difference of charges (not the difference of quantities) keeps tiers, packages and included
quantities right. Without a draft yet (the pipeline has not run since the cycle began), the
draft is rebuilt from its parts: the base fee, the plan changes recorded in the cycle, and
every priced feature's charge for its live quantity (zero included, for flat fees).

Projected: each live quantity of a ``sum`` or ``count`` feature is extrapolated linearly from
the elapsed part of the cycle to the whole (``quantity * cycle length / elapsed``); ``max``
and ``last`` features stay at their current value. The projection is so far plus
``charge(projected) - charge(live)`` per feature and dimension value.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from tollgate.billing.catalogue.model import Aggregation, Catalogue, Plan
from tollgate.billing.cycles import Cycle
from tollgate.billing.pricing import ZERO, feature_charges, usage_charge
from tollgate.billing.proration import cycle_base_charge
from tollgate.control.models import PlanChange
from tollgate.limits.model import CycleUsage

Quantities = Mapping[str, Mapping[str | None, Decimal]]
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


def charge_difference(plan: Plan, before: Quantities, after: Quantities) -> int:
    """Σ over features and dimension values of ``charge(after) - charge(before)``."""
    total = 0
    for feature in {*before, *after}:
        was, now = before.get(feature, {}), after.get(feature, {})
        for dimension in {*was, *now}:
            total += (
                usage_charge(plan, feature, now.get(dimension, ZERO), dimension).amount
                - usage_charge(plan, feature, was.get(dimension, ZERO), dimension).amount
            )
    return total


def rebuilt_draft(
    plan_at_start: Plan,
    plan: Plan,
    cycle: Cycle,
    changes: Iterable[PlanChange],
    quantities: Quantities,
) -> int:
    """What the cycle's draft invoice would total, from its parts (no draft published yet)."""
    base = cycle_base_charge(plan_at_start.base_price, cycle) if plan_at_start.base_price else 0
    # As the pipeline does: a change at the cycle's first instant is already its plan at start.
    prorations = sum(c.credit + c.charge for c in changes if cycle.start < c.at < cycle.end)
    usage = sum(
        charge.amount
        for feature, spec in plan.features.items()
        if spec.price is not None
        for charge in feature_charges(plan, feature, quantities.get(feature) or {None: ZERO})
    )
    return base + prorations + usage


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
    so_far = total + charge_difference(plan, priced, usage.quantities)
    projected_quantities = project(catalogue, usage, now)
    projected = so_far + charge_difference(plan, usage.quantities, projected_quantities)
    return CycleCost(so_far, projected, projected_quantities)

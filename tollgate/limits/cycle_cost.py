"""What the current billing cycle has cost so far: shared by the billing API's summary
(``ingest_api/billing/cost.py``) and the live spend guard (``spend.py``), so both say the same.

No price is computed here: every amount is ``usage_charge`` (the invoices' engine) or read
from the pipeline's draft. With a published draft for the cycle, so far = the draft's total +
for each feature and dimension value ``charge(live quantity) - charge(quantity the draft
counted)``; pricing the difference of charges (not of quantities) keeps tiers, packages and
included quantities right. Without a draft yet (no pipeline run since the cycle began), the
draft is rebuilt from its parts (``rebuilt_draft``) from the live quantities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from tollgate.billing.catalogue.model import Plan
from tollgate.billing.cycles import Cycle
from tollgate.billing.pricing import ZERO, feature_charges, usage_charge
from tollgate.billing.proration import cycle_base_charge
from tollgate.control.models import PlanChange

Quantities = Mapping[str, Mapping[str | None, Decimal]]


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


def spent_so_far(plan: Plan, total: int, priced: Quantities, quantities: Quantities) -> int:
    """The cost so far from an invoice ``total`` that priced the quantities ``priced`` (the
    published draft's, or ``rebuilt_draft``'s, which priced ``quantities`` themselves)."""
    return total + charge_difference(plan, priced, quantities)

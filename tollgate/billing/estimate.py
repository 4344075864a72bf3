"""Estimates: what a usage pattern costs under each plan, and which plan is cheapest for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from tollgate.billing.catalogue.model import Catalogue, Enforcement, Plan
from tollgate.billing.pricing import ZERO, FeatureUsage, UsageCharge, feature_charges

# One cycle's usage: per feature, either a total or a total per dimension value.
UsagePattern = Mapping[str, Decimal | FeatureUsage]


@dataclass(frozen=True, slots=True)
class PlanEstimate:
    plan: str
    currency: str
    base_price: int
    charges: tuple[UsageCharge, ...]
    # Why this plan cannot serve the usage (a hard limit below it, a feature it lacks).
    blockers: tuple[str, ...]

    @property
    def usage_amount(self) -> int:
        return sum(charge.amount for charge in self.charges)

    @property
    def total(self) -> int:
        return self.base_price + self.usage_amount

    @property
    def eligible(self) -> bool:
        return not self.blockers


@dataclass(frozen=True, slots=True)
class Estimate:
    plans: tuple[PlanEstimate, ...]  # cheapest eligible first, then the ineligible ones

    @property
    def cheapest(self) -> PlanEstimate | None:
        """The cheapest plan that can serve the usage; ties go to the catalogue's order."""
        return next((plan for plan in self.plans if plan.eligible), None)


def estimate_plan(name: str, plan: Plan, usage: UsagePattern) -> PlanEstimate:
    charges: list[UsageCharge] = []
    blockers: list[str] = []
    for feature, pattern in usage.items():
        by_dimension = pattern if isinstance(pattern, Mapping) else {None: pattern}
        total = sum(by_dimension.values(), ZERO)
        plan_feature = plan.features.get(feature)
        if plan_feature is None:
            if total > 0:
                blockers.append(f"{feature} is not available on {plan.display_name}")
            continue
        limit = plan_feature.limit
        if limit is not None and limit.enforcement is Enforcement.HARD and total > limit.value:
            blockers.append(f"{feature}: {total} is above the hard limit of {limit.value}")
        charges.extend(feature_charges(plan, feature, by_dimension))
    return PlanEstimate(name, plan.currency, plan.base_price, tuple(charges), tuple(blockers))


def estimate(catalogue: Catalogue, usage: UsagePattern, plans: list[str] | None = None) -> Estimate:
    """Prices one cycle of ``usage`` under each plan (all of them by default).

    Totals are compared as numbers of minor units, which assumes the plans compared share a
    currency, as the bundled catalogue's do.
    """
    names = plans if plans is not None else list(catalogue.plans)
    estimates = [estimate_plan(name, catalogue.plan(name), usage) for name in names]
    order = {name: index for index, name in enumerate(names)}
    ranked = sorted(estimates, key=lambda e: (not e.eligible, e.total, order[e.plan]))
    return Estimate(tuple(ranked))

"""Each customer's current terms for limits: plan, cycle, limit windows and limits.

Read from the control plane (``ControlService.active_plan`` and ``effective_limits``, the same
rules the CLI and the billing API use) and cached per customer until the terms can change by
themselves (a window or cycle ends) or the control plane records a change for that customer
(``ChangeFeed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tollgate.billing.catalogue.model import Aggregation, Catalogue, Enforcement, Plan
from tollgate.billing.cycles import Cycle, limit_window
from tollgate.control.models import ActivePlan, EffectiveLimits
from tollgate.control.service import ControlService
from tollgate.limits.usage import PeriodKey


@dataclass(frozen=True, slots=True)
class FeatureTerms:
    feature: str
    window_start: datetime
    window_end: datetime  # the window's end, or the subscription's end if sooner
    resets_at: datetime  # when the window would end by the calendar
    limit: Decimal | None  # None: unlimited
    enforcement: Enforcement | None
    is_override: bool
    aggregation: Aggregation
    dimension: str | None  # the event property the plan prices this feature by
    window_key: PeriodKey  # (customer, feature, window start, window end) in the ledger
    cycle_key: PeriodKey  # the same for the billing cycle: often the same period
    base_key: tuple[str, str, datetime]  # the window in the publication's counts
    # Whether the ingest path may count an event inline (a summed feature, not split by
    # dimension) and from what usage on it must judge events one by one (refusals, notices).
    inline: bool
    slow_at: Decimal | None

    def covers(self, moment: datetime) -> bool:
        return self.window_start <= moment < self.window_end


@dataclass(frozen=True, slots=True)
class CustomerTerms:
    customer_id: str
    plan_name: str
    plan: Plan
    cycle: Cycle
    features: dict[str, FeatureTerms]
    valid_until: datetime  # the first moment these terms may no longer hold
    subscription_id: str


class TermsBook:
    """Terms per customer, cached; ``forget`` drops a customer whose control rows changed."""

    def __init__(self, control: ControlService, catalogue: Catalogue) -> None:
        self._control = control
        self._catalogue = catalogue
        # customer -> terms, or None: no customer or no subscription (valid until forgotten)
        self._cache: dict[str, tuple[CustomerTerms | None, datetime | None]] = {}
        # Bumped whenever terms are dropped or replaced, for what is derived from them.
        self.version = 0

    def current(self, customer_id: str, now: datetime) -> CustomerTerms | None:
        cached = self._cache.get(customer_id)
        if cached is not None:
            terms, valid_until = cached
            if valid_until is None or now < valid_until:
                return terms
        terms = self._load(customer_id, now)
        self._cache[customer_id] = (terms, terms.valid_until if terms else None)
        return terms

    def forget(self, customer_ids: Iterable[str]) -> None:
        for customer_id in customer_ids:
            self._cache.pop(customer_id, None)
        self.version += 1

    def forget_all(self) -> None:
        self._cache.clear()
        self.version += 1

    def preload(self, now: datetime, customer_ids: Iterable[str] | None = None) -> None:
        """Loads many customers at once (four queries; all customers by default), so that
        requests after start-up never wait for the control database."""
        found = self._control.current_terms(
            now, None if customer_ids is None else list(set(customer_ids))
        )
        wanted = found if customer_ids is None else set(customer_ids)
        for customer_id in wanted:
            active, limits = found.get(customer_id, (None, None))
            terms = self._build(customer_id, active, limits, now)
            self._cache[customer_id] = (terms, terms.valid_until if terms else None)
        self.version += 1

    def _load(self, customer_id: str, now: datetime) -> CustomerTerms | None:
        active, limits = self._control.current_terms(now, [customer_id]).get(
            customer_id, (None, None)
        )
        return self._build(customer_id, active, limits, now)

    def _build(
        self,
        customer_id: str,
        active: ActivePlan | None,
        limits: EffectiveLimits | None,
        now: datetime,
    ) -> CustomerTerms | None:
        if active is None or limits is None:
            return None
        ends_at = active.subscription.ends_at
        boundaries = [active.cycle.end]
        if ends_at is not None:
            boundaries.append(ends_at)
        start, end = limit_window(active.rule, active.plan.limit_reset, now)
        boundaries.append(end)
        features: dict[str, FeatureTerms] = {}
        window_end = min(end, ends_at) if ends_at else end
        lowest = min((t.percent for t in self._catalogue.alert_thresholds), default=100)
        for feature, effective in limits.limits.items():
            plan_feature = active.plan.features.get(feature)
            aggregation = self._catalogue.features[feature].aggregation
            dimension = plan_feature.dimension if plan_feature else None
            limit = effective.value
            features[feature] = FeatureTerms(
                feature=feature,
                window_start=start,
                window_end=window_end,
                resets_at=end,
                limit=limit,
                enforcement=effective.enforcement,
                is_override=effective.source == "override",
                aggregation=aggregation,
                dimension=dimension,
                window_key=(customer_id, feature, start, window_end),
                cycle_key=(customer_id, feature, active.cycle.start, active.cycle.end),
                base_key=(customer_id, feature, start),
                inline=aggregation is Aggregation.SUM and dimension is None,
                slow_at=None if limit is None else min(limit, limit * lowest / 100),
            )
        return CustomerTerms(
            customer_id,
            active.plan_name,
            active.plan,
            active.cycle,
            features,
            min(boundaries),
            active.subscription.id,
        )

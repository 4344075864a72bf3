"""Spend alerts and budgets in real time: the current cycle's cost, kept per watched customer.

Only customers with spend thresholds (``ControlService.spend_thresholds``) are *watched*; the
others never reach this module, so their hot path is unchanged. A watched customer's events
are never slotted (``fast_lane.py``) nor counted inline: each is judged by the engine one by
one, and priced here.

A watched customer's state is the cycle's spend so far (exact minor units) and its quantities
per feature and dimension value, built from the same inputs and functions as the billing
summary's cost so far (``cycle_cost.py``): the published draft's total plus ``charge(live) -
charge(published)``, or the draft rebuilt from its parts. Each admitted event then adds its
marginal charge ``usage_charge(after) - usage_charge(before)`` of its feature and dimension
value: the same sum, kept current with two prices per event instead of re-pricing the cycle.

The state is derived: it is dropped when a publication arrives, the customer's terms or
thresholds change, an admission's write fails, or the cycle ends (new terms), and rebuilt from
the ledger on the next event. Building it queues the notices for every threshold the spend
has already reached; their ids (``identifiers.notification_id`` of the cycle and amount) and
the notifications table's primary key make a notice raised twice impossible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tollgate.billing.alerts import (
    BUDGET_REACHED,
    SPEND_ALERT,
    budget_reached_message,
    budget_reached_title,
    budget_refusal_reason,
    spend_alert_message,
    spend_alert_title,
)
from tollgate.billing.catalogue.model import Aggregation, Catalogue, Plan
from tollgate.billing.identifiers import invoice_id, notification_id
from tollgate.billing.pricing import ZERO, usage_charge
from tollgate.control.models import PlanChange, RaisedNotification, SpendThresholds
from tollgate.control.service import ControlService
from tollgate.limits.cycle_cost import Quantities, rebuilt_draft, spent_so_far
from tollgate.limits.terms import CustomerTerms

Key = tuple[str, str | None]  # feature, dimension value


@dataclass(slots=True, eq=False)
class SpendState:
    """One watched customer's spend in the cycle of ``terms``."""

    terms: CustomerTerms  # identity: new terms (a new cycle, a plan change) mean a rebuild
    thresholds: SpendThresholds
    spent: int  # minor units, exact
    quantities: dict[Key, Decimal]
    charges: dict[Key, int]  # usage_charge(quantity).amount, priced once per change
    last_at: dict[Key, datetime] = field(default_factory=dict)  # ``last`` features only

    @property
    def customer_id(self) -> str:
        return self.terms.customer_id


@dataclass(frozen=True, slots=True)
class SpendCharge:
    """What one event would add to a state: its feature's new quantity and charge."""

    key: Key
    quantity: Decimal
    amount: int
    charge: int  # marginal: amount - the charge before
    event_at: datetime


@dataclass(frozen=True, slots=True)
class SpendStatus:
    """A customer's spend in the current cycle, as the engine holds it."""

    customer_id: str
    cycle_start: datetime
    cycle_end: datetime
    spent: int  # minor units
    thresholds: SpendThresholds | None  # None: none set


class SpendGuard:
    def __init__(self, control: ControlService, catalogue: Catalogue) -> None:
        self._control = control
        self._catalogue = catalogue
        # Watched customers only (thresholds set); read by the ingest hot path.
        self.thresholds: dict[str, SpendThresholds] = {}
        self._states: dict[str, SpendState] = {}
        # customer -> ((subscription, cycle start), plan at the cycle's start, plan changes):
        # what a draft is rebuilt from when none is published, read once per cycle.
        self._history: dict[str, tuple[tuple[str, datetime], Plan, list[PlanChange]]] = {}

    # -- which customers are watched ---------------------------------------------------------

    def use_thresholds(
        self, found: Mapping[str, SpendThresholds], customer_ids: Iterable[str] | None
    ) -> set[str]:
        """``found``: the thresholds of ``customer_ids`` (None: of everyone) that have any.
        Returns the customers whose thresholds changed."""
        changed: set[str] = set()
        wanted = set(self.thresholds) | set(found) if customer_ids is None else set(customer_ids)
        for customer_id in wanted:
            now = found.get(customer_id)
            if now is not None and now.empty:
                now = None
            was = self.thresholds.get(customer_id)
            if (was and (was.alerts, was.budget, was.currency)) == (
                now and (now.alerts, now.budget, now.currency)
            ):
                continue
            changed.add(customer_id)
            self._states.pop(customer_id, None)
            if now is None:
                self.thresholds.pop(customer_id, None)
            else:
                self.thresholds[customer_id] = now
        return changed

    def forget(self, customer_ids: Iterable[str]) -> None:
        for customer_id in customer_ids:
            self._states.pop(customer_id, None)
            self._history.pop(customer_id, None)

    def clear(self) -> None:
        """A new publication: every state's base moved."""
        self._states.clear()

    # -- state -------------------------------------------------------------------------------

    def current(self, terms: CustomerTerms) -> SpendState | None:
        state = self._states.get(terms.customer_id)
        return state if state is not None and state.terms is terms else None

    def build(
        self,
        terms: CustomerTerms,
        thresholds: SpendThresholds,
        quantities: Quantities,
        published: Quantities,
        last_at: Mapping[Key, datetime],
        drafts: Mapping[str, int],
        *,
        keep: bool = True,
    ) -> SpendState:
        """The state from the cycle's live ``quantities``, the ``published`` ones and the
        publication's ``drafts``, exactly as the billing summary's cost so far; ``keep``: hold
        it for the events to come (a watched customer)."""
        plan = terms.plan
        draft = drafts.get(invoice_id(terms.customer_id, terms.cycle.start))
        if draft is not None:
            spent = spent_so_far(plan, draft, published, quantities)
        else:
            plan_at_start, changes = self._plan_history(terms)
            total = rebuilt_draft(plan_at_start, plan, terms.cycle, changes, quantities)
            spent = spent_so_far(plan, total, quantities, quantities)
        flat = {
            (feature, dimension): quantity
            for feature, by_dimension in quantities.items()
            for dimension, quantity in by_dimension.items()
        }
        state = SpendState(terms, thresholds, spent, flat, {}, dict(last_at))
        if keep:
            self._states[terms.customer_id] = state
        return state

    def _plan_history(self, terms: CustomerTerms) -> tuple[Plan, list[PlanChange]]:
        key = (terms.subscription_id, terms.cycle.start)
        held = self._history.get(terms.customer_id)
        if held is None or held[0] != key:
            name = self._control.plan_at(terms.subscription_id, terms.cycle.start)
            changes = self._control.plan_changes(terms.subscription_id)
            held = (key, self._catalogue.plan(name or terms.plan_name), changes)
            self._history[terms.customer_id] = held
        return held[1], held[2]

    # -- pricing events ----------------------------------------------------------------------

    def price(
        self,
        state: SpendState,
        feature: str,
        dimension: str | None,
        quantity: Decimal,
        event_at: datetime,
    ) -> SpendCharge | None:
        """What an event of ``quantity`` (in the feature's unit) at ``event_at`` adds; None
        when it is not billed in this cycle (not in the plan, or dated outside the cycle:
        counted by the pipeline, as the billing summary leaves it out too)."""
        terms = state.terms
        plan_feature = terms.plan.features.get(feature)
        if plan_feature is None or not terms.cycle.start <= event_at < terms.cycle.end:
            return None
        key = (feature, dimension)
        before = state.quantities.get(key, ZERO)
        aggregation = self._catalogue.features[feature].aggregation
        after = _after(before, quantity, aggregation, state.last_at.get(key), event_at)
        if plan_feature.price is None:
            return SpendCharge(key, after, 0, 0, event_at)
        was = state.charges.get(key)
        if was is None:
            was = state.charges[key] = self._charge(terms.plan, key, before)
        amount = was if after == before else self._charge(terms.plan, key, after)
        return SpendCharge(key, after, amount, amount - was, event_at)

    @staticmethod
    def _charge(plan: Plan, key: Key, quantity: Decimal) -> int:
        return usage_charge(plan, key[0], quantity, key[1]).amount

    @staticmethod
    def refuses(state: SpendState, charge: SpendCharge) -> bool:
        """Whether the charge would take the spend past the budget (cost-free never does)."""
        budget = state.thresholds.budget
        return budget is not None and charge.charge > 0 and state.spent + charge.charge > budget

    def add(
        self, state: SpendState, charge: SpendCharge, raised_at: datetime
    ) -> list[RaisedNotification]:
        """Adds an admitted event's charge; returns the notices of the thresholds it reached."""
        before = state.spent
        state.quantities[charge.key] = charge.quantity
        state.charges[charge.key] = charge.amount
        if self._catalogue.features[charge.key[0]].aggregation is Aggregation.LAST:
            last = state.last_at.get(charge.key)
            if last is None or charge.event_at >= last:
                state.last_at[charge.key] = charge.event_at
        state.spent = before + charge.charge
        return self.crossings(state, before, charge.event_at, raised_at)

    def drop(self, customer_ids: Iterable[str]) -> None:
        """What these customers' admission added was taken back: rebuild from the ledger."""
        for customer_id in customer_ids:
            self._states.pop(customer_id, None)

    # -- notices and refusals ----------------------------------------------------------------

    def crossings(
        self, state: SpendState, before: int | None, moment: datetime, raised_at: datetime
    ) -> list[RaisedNotification]:
        """Notices for the thresholds reached by ``state.spent`` but not by ``before`` (None:
        every threshold reached, as after a rebuild)."""
        spent = state.spent
        thresholds = state.thresholds
        notices = [
            self._alert(state, amount, moment, raised_at)
            for amount in thresholds.alerts
            if amount <= spent and (before is None or before < amount)
        ]
        budget = thresholds.budget
        if budget is not None and budget <= spent and (before is None or before < budget):
            notices.append(self.budget_reached(state, moment, raised_at))
        return notices

    def _alert(
        self, state: SpendState, amount: int, moment: datetime, raised_at: datetime
    ) -> RaisedNotification:
        cycle = state.terms.cycle
        currency = state.thresholds.currency
        return self._notice(
            state,
            SPEND_ALERT,
            "warning",
            amount,
            moment,
            raised_at,
            spend_alert_title(amount, currency),
            spend_alert_message(amount, state.spent, currency, cycle.start, cycle.end),
        )

    def budget_reached(
        self, state: SpendState, moment: datetime, raised_at: datetime
    ) -> RaisedNotification:
        budget = state.thresholds.budget
        assert budget is not None
        currency = state.thresholds.currency
        return self._notice(
            state,
            BUDGET_REACHED,
            "exceeded",
            budget,
            moment,
            raised_at,
            budget_reached_title(budget, currency),
            budget_reached_message(budget, state.spent, currency, state.terms.cycle.end),
        )

    @staticmethod
    def _notice(
        state: SpendState,
        kind: str,
        severity: str,
        amount: int,
        moment: datetime,
        raised_at: datetime,
        title: str,
        message: str,
    ) -> RaisedNotification:
        cycle = state.terms.cycle
        return RaisedNotification(
            notification_id=notification_id(state.customer_id, kind, None, cycle.start, amount),
            customer_id=state.customer_id,
            notification_type=kind,
            severity=severity,
            feature=None,
            threshold_percent=None,
            window_start=cycle.start,
            window_end=cycle.end,
            created_at=moment,
            raised_at=raised_at,
            title=title,
            message=message,
        )

    @staticmethod
    def refusal_reason(state: SpendState, feature: str, charge: SpendCharge) -> str:
        budget = state.thresholds.budget
        assert budget is not None
        return budget_refusal_reason(
            feature,
            charge.charge,
            state.spent,
            budget,
            state.thresholds.currency,
            state.terms.cycle.end,
        )


def _after(
    before: Decimal,
    quantity: Decimal,
    aggregation: Aggregation,
    last_at: datetime | None,
    event_at: datetime,
) -> Decimal:
    """The cycle quantity once the event is counted, as the ledger's ``Tally`` will have it
    (a ``last`` feature takes the newest event by its time, so a late one changes nothing)."""
    if aggregation is Aggregation.SUM:
        return before + quantity
    if aggregation is Aggregation.COUNT:
        return before + 1
    if aggregation is Aggregation.MAX:
        return max(before, quantity)
    return quantity if last_at is None or event_at >= last_at else before

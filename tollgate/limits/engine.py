"""The real-time limit engine: admits or refuses events, answers limit checks, raises notices.

Usage of a customer's feature in a period = what the last pipeline publication counted for it
(``published.py``) + the events accepted since (``usage.py``), kept by the one ingest process
that accepts them. Terms (plan, windows, limits) come from the control plane (``terms.py``).
Customers with spend alerts or a budget also have the cycle's cost kept, per event, by
``spend.py``: their events skip the fast lane and are priced, and one that would pass the
budget is refused. Everything here runs on the server's event loop, so admissions are
serialised: two requests can never both pass a hard limit (or a budget). Blocking work
(control-plane reads and writes, reading a publication) happens in ``refresh`` and
``raise_pending``, which the server runs off the loop.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from tollgate.billing.alerts import (
    notification_message,
    notification_title,
    notification_type,
    percent_used,
    reached_thresholds,
)
from tollgate.billing.catalogue.model import Aggregation, Catalogue, Enforcement
from tollgate.billing.identifiers import notification_id
from tollgate.billing.money import to_major
from tollgate.control.errors import UnknownFeatureError
from tollgate.control.models import RaisedNotification, SpendThresholds
from tollgate.control.service import ControlService
from tollgate.limits.fast_lane import NO_LIMIT, FastLane
from tollgate.limits.model import CycleUsage, LimitCheck, LimitStatus, Status
from tollgate.limits.published import NOTHING, PublishedUsage
from tollgate.limits.spend import SpendGuard, SpendState, SpendStatus
from tollgate.limits.terms import CustomerTerms, FeatureTerms, TermsBook
from tollgate.limits.usage import ZERO, PartSum, Period, PeriodKey, Reservation, UsageLedger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Metered(Protocol):
    """What the engine reads of an event: ``UsageEvent`` and ``MeteredEvent`` both are."""

    @property
    def customer_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def properties(self) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class MeteredEvent:
    """An event read back from disk at start-up."""

    customer_id: str
    event_type: str
    unit: str
    quantity: Decimal
    timestamp: datetime
    properties: dict[str, str]


LIMIT_EXCEEDED = "limit_exceeded"
BUDGET_EXCEEDED = "budget_exceeded"


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int  # position among the events passed to ``admit``
    feature: str
    limit: Decimal  # the budget's amount in major units, for BUDGET_EXCEEDED
    used: Decimal  # the cycle's spend so far in major units, for BUDGET_EXCEEDED
    resets_at: datetime
    reason: str
    code: str = LIMIT_EXCEEDED  # what the ingest API answers: LIMIT_ or BUDGET_EXCEEDED


@dataclass(frozen=True, slots=True)
class SoftLimitNotice:
    index: int
    feature: str
    limit: Decimal
    used: Decimal  # after this event
    resets_at: datetime
    message: str


@dataclass(slots=True)
class Admission:
    events: Sequence[Metered]
    seq: int  # the WAL segment, and later events part, the accepted events are written to
    today: int  # date ordinal of the fast lane's events
    refused: list[Refusal] = field(default_factory=list)
    notices: list[SoftLimitNotice] = field(default_factory=list)
    crossings: list[RaisedNotification] = field(default_factory=list)
    # Events judged one by one, each kept as a Tally (None: there were none).
    reservation: Reservation | None = None
    # What was added to parts, so that ``release`` can take it back: the period of each fast
    # lane event, in order; the indexes of the events that did not take the fast lane; and
    # the other inline events (period, part, quantity).
    fast: list[Period] = field(default_factory=list)
    others: set[int] = field(default_factory=set)
    inline: list[tuple[Period, PartSum, Decimal]] = field(default_factory=list)
    # Watched customers (spend thresholds) whose spend this admission added to; None: none.
    spent_by: set[str] | None = None

    @property
    def refused_indexes(self) -> set[int]:
        return {refusal.index for refusal in self.refused}

    def reserve(self) -> Reservation:
        if self.reservation is None:
            self.reservation = Reservation()
        return self.reservation


class LimitEngine:
    def __init__(
        self, control: ControlService, catalogue: Catalogue, *, clock: Clock = utc_now
    ) -> None:
        self._control = control
        self._catalogue = catalogue
        self._clock = clock
        self.terms = TermsBook(control, catalogue)
        self.ledger = UsageLedger()
        self.published: PublishedUsage = NOTHING
        # (event_type, unit) -> (feature, factor to the feature's unit)
        self._metered: dict[tuple[str, str], tuple[str, Decimal]] = {}
        for name, feature in catalogue.features.items():
            self._metered[(feature.event_type, feature.unit)] = (name, Decimal(1))
            for unit, factor in feature.unit_conversions.items():
                self._metered[(feature.event_type, unit)] = (name, factor)
        self._lane = FastLane()
        self._outbox: deque[RaisedNotification] = deque()
        self._queued: set[str] = set()
        # The billing API records notices at once after a change, beside the watch's round.
        self._raising = threading.Lock()
        self.spend = SpendGuard(control, catalogue)
        self._watched = self.spend.thresholds  # the same dict: one lookup on the hot path

    # -- admission (the ingest path) ---------------------------------------------------------

    def admit(self, events: Sequence[Metered], seq: int, now: datetime) -> Admission:
        """Counts ``events``, received at ``now``, in order, refusing any that would pass a hard
        limit; the accepted ones are to be written to WAL segment ``seq``.

        Call ``commit`` once they are durable, or ``release`` if the write failed. This is the
        ingest hot path: an ordinary event (``fast_lane.py``) only adds to its period's total
        and its part's; the first event of a customer, and any near a limit, is looked at in
        full by ``_admit_unslotted``.
        """
        lane = self._lane
        lane.keep_current(now, self.terms.version)
        slots, today = lane.slots, lane.today
        admission = Admission(events, seq, today)
        fast = admission.fast
        self.ledger.received(seq, now)
        for index, event in enumerate(events):
            slot = slots.get(event.customer_id)
            while slot is not None and (
                slot.event_type != event.event_type or slot.unit != event.unit
            ):
                slot = slot.next
            if slot is not None and slot.start <= event.timestamp < slot.end:
                quantity = event.quantity
                period = slot.period
                live = period.live
                total = live.total + quantity
                if total < slot.room:
                    live.total = total
                    live.count += 1
                    part = slot.part
                    if part.seq != seq:
                        part = slot.part = period.part(today, seq)
                    part.total += quantity
                    part.count += 1
                    fast.append(period)
                    continue
            admission.others.add(index)
            self._admit_unslotted(admission, index, event, now)
        if admission.reservation is not None:
            admission.reservation.hold()
        return admission

    def _admit_unslotted(
        self, admission: Admission, index: int, event: Metered, now: datetime
    ) -> None:
        metered = self._metered.get((event.event_type, event.unit))
        if metered is None:
            return
        terms = self.terms.current(event.customer_id, now)
        if terms is None:
            return
        if self._watched and event.customer_id in self._watched:
            self._admit_watched(admission, terms, metered, index, event)
            return
        feature, factor = metered
        feature_terms = terms.features.get(feature)
        moment = event.timestamp
        if feature_terms is None or not feature_terms.inline or not feature_terms.covers(moment):
            self._admit_one(admission, terms, feature, feature_terms, factor, index, event)
            return
        quantity = event.quantity if factor == 1 else event.quantity * factor
        window = feature_terms.window_key
        period = self.ledger.period(window)
        base = self.published.window_used.get(feature_terms.base_key, ZERO)
        live = period.live
        slow_at = feature_terms.slow_at
        if slow_at is not None and base + live.total + quantity >= slow_at:
            # Near or past the limit: judged the long way, with refusals and notices.
            self._admit_one(admission, terms, feature, feature_terms, factor, index, event)
            return
        # A summed feature reads only the total (and count) of its tallies.
        live.total += quantity
        live.count += 1
        ordinal = moment.date().toordinal()
        part = period.part(ordinal, admission.seq)
        part.total += quantity
        part.count += 1
        admission.inline.append((period, part, quantity))
        if feature_terms.cycle_key != window:
            self._count_in_cycle(admission, terms, feature, feature_terms, event, factor)
        elif factor == 1 and ordinal == admission.today:
            self._lane.offer(
                event.customer_id,
                event.event_type,
                event.unit,
                period,
                part,
                NO_LIMIT if slow_at is None else slow_at - base,
                feature_terms.window_start,
                feature_terms.window_end,
                terms.valid_until,
            )

    def _admit_one(
        self,
        admission: Admission,
        terms: CustomerTerms,
        feature: str,
        feature_terms: FeatureTerms | None,
        factor: Decimal,
        index: int,
        event: Metered,
    ) -> None:
        if feature_terms is None or not feature_terms.covers(event.timestamp):
            # Not in the plan, or usage of another window (a backfill): counted by the next
            # pipeline run, never limited here.
            self._count_in_cycle(admission, terms, feature, feature_terms, event, factor)
            return
        quantity = event.quantity * factor
        window = feature_terms.window_key
        used = self._window_used(window, feature_terms)
        after = _next_used(used, quantity, feature_terms.aggregation)
        limit = feature_terms.limit
        if limit is not None and after > limit and after != used:
            if feature_terms.enforcement is Enforcement.HARD:
                admission.refused.append(
                    Refusal(
                        index,
                        feature,
                        limit,
                        used,
                        feature_terms.resets_at,
                        self._refusal_reason(feature, feature_terms, used, quantity),
                    )
                )
                return
            admission.notices.append(
                SoftLimitNotice(
                    index,
                    feature,
                    limit,
                    after,
                    feature_terms.resets_at,
                    f"accepted past the soft limit: {feature} usage is now {_text(after)} of "
                    f"{_text(limit)} {self._unit(feature)} for the period that resets at "
                    f"{_iso(feature_terms.resets_at)}",
                )
            )
        dimension = _dimension(event, feature_terms.dimension)
        admission.reserve().add(
            self.ledger.period(window), dimension, event.timestamp.date(), event.timestamp, quantity
        )
        if limit is not None:
            admission.crossings.extend(
                self._crossings(terms.customer_id, feature_terms, used, after, event.timestamp)
            )
        if feature_terms.cycle_key != window:
            self._count_in_cycle(admission, terms, feature, feature_terms, event, factor)

    def _admit_watched(
        self,
        admission: Admission,
        terms: CustomerTerms,
        metered: tuple[str, Decimal],
        index: int,
        event: Metered,
    ) -> None:
        """A customer with spend thresholds: every event judged, priced and added to the
        cycle's spend; one that would pass the budget refused."""
        feature, factor = metered
        feature_terms = terms.features.get(feature)
        state = self._spend_state(terms)
        charge = None
        if state is not None:
            plan_feature = terms.plan.features.get(feature)
            dimension = _dimension(event, plan_feature.dimension if plan_feature else None)
            charge = self.spend.price(
                state, feature, dimension, event.quantity * factor, event.timestamp
            )
            if charge is not None and self.spend.refuses(state, charge):
                budget = state.thresholds.budget or 0
                currency = state.thresholds.currency
                admission.refused.append(
                    Refusal(
                        index,
                        feature,
                        to_major(budget, currency),
                        to_major(state.spent, currency),
                        terms.cycle.end,
                        self.spend.refusal_reason(state, feature, charge),
                        BUDGET_EXCEEDED,
                    )
                )
                # The budget bites here even if the spend stopped short of it: say so, once.
                self._queue(self.spend.budget_reached(state, event.timestamp, self._clock()))
                return
        refused = len(admission.refused)
        self._admit_one(admission, terms, feature, feature_terms, factor, index, event)
        if state is None or charge is None or len(admission.refused) > refused:
            return
        admission.crossings.extend(self.spend.add(state, charge, self._clock()))
        if admission.spent_by is None:
            admission.spent_by = set()
        admission.spent_by.add(terms.customer_id)

    def commit(self, admission: Admission) -> None:
        """The admitted events are durable: keep them, raise notices."""
        if admission.reservation is not None:
            self.ledger.commit(admission.reservation, admission.seq)
        for notice in admission.crossings:
            self._queue(notice)

    def release(self, admission: Admission) -> None:
        """The admitted events' write failed: they were never accepted."""
        for period, part, quantity in admission.inline:
            period.take_back(part, quantity)
        periods = iter(admission.fast)
        for index, event in enumerate(admission.events):
            if index not in admission.others:
                period = next(periods)
                period.take_back(period.part(admission.today, admission.seq), event.quantity)
        if admission.reservation is not None:
            self.ledger.release(admission.reservation)
        if admission.spent_by:
            self.spend.drop(admission.spent_by)

    # -- questions ---------------------------------------------------------------------------

    def check(self, customer_id: str, feature: str, quantity: Decimal) -> LimitCheck:
        if feature not in self._catalogue.features:
            raise UnknownFeatureError(feature, sorted(self._catalogue.features))
        terms = self.terms.current(customer_id, self._clock())
        feature_terms = terms.features.get(feature) if terms else None
        if terms is None or feature_terms is None:
            why = "no active subscription" if terms is None else f"{feature} is not in the plan"
            return LimitCheck(
                customer_id,
                feature,
                quantity,
                True,
                ZERO,
                None,
                None,
                None,
                None,
                f"{why}: no limit applies",
            )
        used = self._window_used(feature_terms.window_key, feature_terms)
        after = _next_used(used, quantity, feature_terms.aggregation)
        limit = feature_terms.limit
        remaining = None if limit is None else max(limit - used, ZERO)
        over = limit is not None and after > limit and after != used
        hard = feature_terms.enforcement is Enforcement.HARD
        if limit is None:
            reason = "unlimited"
        elif over and hard:
            reason = self._refusal_reason(feature, feature_terms, used, quantity)
        elif over:
            reason = "allowed past the soft limit; a notice is raised"
        else:
            reason = "within the limit"
        if self._watched and customer_id in self._watched and not (over and hard):
            budget_reason = self._budget_refusal(terms, feature, quantity)
            if budget_reason is not None:
                over, hard, reason = True, True, budget_reason
        return LimitCheck(
            customer_id,
            feature,
            quantity,
            not (over and hard),
            used,
            limit,
            remaining,
            feature_terms.enforcement,
            feature_terms.resets_at,
            reason,
        )

    def statuses(self, customer_id: str) -> list[LimitStatus]:
        terms = self.terms.current(customer_id, self._clock())
        if terms is None:
            return []
        return [self._status(terms, f) for _, f in sorted(terms.features.items())]

    def cycle_usage(self, customer_id: str) -> CycleUsage | None:
        terms = self.terms.current(customer_id, self._clock())
        if terms is None:
            return None
        quantities, published, _ = self._cycle_quantities(terms)
        return CycleUsage(
            customer_id,
            terms.plan_name,
            terms.cycle.start,
            terms.cycle.end,
            quantities,
            published,
            self.published.as_of,
        )

    def _cycle_quantities(
        self, terms: CustomerTerms
    ) -> tuple[
        dict[str, dict[str | None, Decimal]],
        dict[str, dict[str | None, Decimal]],
        dict[tuple[str, str | None], datetime],
    ]:
        """The cycle's live and published quantities by feature and dimension value, and the
        newest live event's time of each (what a ``last`` feature is judged by)."""
        customer_id = terms.customer_id
        quantities: dict[str, dict[str | None, Decimal]] = {}
        published: dict[str, dict[str | None, Decimal]] = {}
        last_at: dict[tuple[str, str | None], datetime] = {}
        for feature in terms.plan.features:
            aggregation = self._catalogue.features[feature].aggregation
            base = self.published.cycle_used.get((customer_id, feature, terms.cycle.start), {})
            live = self.ledger.by_dimension(
                (customer_id, feature, terms.cycle.start, terms.cycle.end)
            )
            values = {
                dimension: live[dimension].on_top_of(base.get(dimension, ZERO), aggregation)
                if dimension in live
                else base[dimension]
                for dimension in {*base, *live}
            }
            for dimension, tally in live.items():
                if tally.count and tally.last_at is not None:
                    last_at[(feature, dimension)] = tally.last_at
            if values:
                quantities[feature] = values
            if base:
                published[feature] = dict(base)
        return quantities, published, last_at

    # -- spend alerts and budget (spend.py) --------------------------------------------------

    def spend_status(self, customer_id: str) -> SpendStatus | None:
        """The customer's spend in the current cycle (None: no active subscription), the same
        figure as the billing summary's cost so far; builds a watched customer's state (and so
        queues the notices of thresholds already reached) if it had none."""
        terms = self.terms.current(customer_id, self._clock())
        if terms is None:
            return None
        thresholds = self._watched.get(customer_id)
        state = self._spend_state(terms)
        if state is None:
            quantities, published, last_at = self._cycle_quantities(terms)
            empty = SpendThresholds(customer_id, (), None, "", None)
            state = self.spend.build(
                terms, empty, quantities, published, last_at, self.published.drafts, keep=False
            )
        return SpendStatus(customer_id, terms.cycle.start, terms.cycle.end, state.spent, thresholds)

    def load_spend_thresholds(self, customer_ids: Iterable[str] | None = None) -> None:
        """Reads whose spend to watch (blocking: at start-up, before serving)."""
        ids = None if customer_ids is None else list(customer_ids)
        # Not built yet: usage is still being counted (``queue_crossed_by_live_usage`` builds).
        self.use_spend_thresholds(self.read_spend_thresholds(ids), ids, build=False)

    def read_spend_thresholds(
        self, customer_ids: Iterable[str] | None
    ) -> dict[str, SpendThresholds]:
        """Blocking (run it off the loop); ``use_spend_thresholds`` takes the answer."""
        return self._control.spend_thresholds_of(
            None if customer_ids is None else list(customer_ids)
        )

    def use_spend_thresholds(
        self,
        found: Mapping[str, SpendThresholds],
        customer_ids: Iterable[str] | None,
        *,
        build: bool = True,
    ) -> None:
        """``found``: the thresholds of ``customer_ids`` (None: everyone) that have any. A
        customer whose thresholds changed is judged one event at a time from now on (no fast
        lane slot), and an alert the spend has already passed is queued at once."""
        changed = self.spend.use_thresholds(found, customer_ids)
        now = self._clock()
        for customer_id in changed:
            self._lane.slots.pop(customer_id, None)
            if build and customer_id in self._watched:
                terms = self.terms.current(customer_id, now)
                if terms is not None:
                    self._spend_state(terms)

    def _spend_state(self, terms: CustomerTerms) -> SpendState | None:
        """A watched customer's state, built (and its reached thresholds queued) if needed."""
        thresholds = self._watched.get(terms.customer_id)
        if thresholds is None:
            return None
        state = self.spend.current(terms)
        if state is not None:
            return state
        quantities, published, last_at = self._cycle_quantities(terms)
        state = self.spend.build(
            terms, thresholds, quantities, published, last_at, self.published.drafts
        )
        now = self._clock()
        for notice in self.spend.crossings(state, None, now, now):
            self._queue(notice)
        return state

    def _budget_refusal(self, terms: CustomerTerms, feature: str, quantity: Decimal) -> str | None:
        """Why ``quantity`` more of ``feature`` would be refused by the budget, if it would."""
        state = self._spend_state(terms)
        if state is None or state.thresholds.budget is None:
            return None
        charge = self.spend.price(state, feature, None, quantity, self._clock())
        if charge is None or not self.spend.refuses(state, charge):
            return None
        return self.spend.refusal_reason(state, feature, charge)

    # -- keeping current (called by the server, off the hot path) ----------------------------

    def count_stored(self, event: Metered, seq: int, received_at: datetime) -> None:
        """An event found on disk at start-up (WAL or Parquet) that the publication lacks."""
        metered = self._metered.get((event.event_type, event.unit))
        if metered is None:
            return
        feature, factor = metered
        terms = self.terms.current(event.customer_id, self._clock())
        if terms is None:
            return
        feature_terms = terms.features.get(feature)
        quantity = event.quantity * factor
        dimension = _dimension(event, feature_terms.dimension if feature_terms else None)
        keys = set()
        if feature_terms is not None and feature_terms.covers(event.timestamp):
            keys.add(feature_terms.window_key)
        if (
            feature in terms.plan.features
            and terms.cycle.start <= event.timestamp < terms.cycle.end
        ):
            keys.add((terms.customer_id, feature, terms.cycle.start, terms.cycle.end))
        for key in keys:
            self.ledger.add_stored(
                key, dimension, event.timestamp.date(), seq, received_at, event.timestamp, quantity
            )

    def straddling(self, published: PublishedUsage) -> set[tuple[int, int]]:
        """Parts (date ordinal, seq) held here that ``published`` counted only in part: the
        caller reads their events received after its as-of moment for ``use_publication``."""
        if published.as_of is None:
            return set()
        return self.ledger.straddling(published.loaded, published.as_of)

    def use_publication(
        self,
        published: PublishedUsage,
        received_after: Iterable[tuple[Metered, int, datetime]] = (),
    ) -> None:
        """A new publication: its counts become the base; what it covers leaves the ledger,
        and the events of straddling parts received after its moment (``received_after``:
        event, seq, receipt) come back."""
        self.published = published
        self._lane.clear()  # slots hold room measured from the old base
        self.spend.clear()  # so do spend states
        if published.as_of is not None:
            self.ledger.rebase(published.loaded, published.as_of, drop_before=self._clock())
        for event, seq, received_at in received_after:
            self.count_stored(event, seq, received_at)

    def forget_customers(self, customer_ids: Iterable[str]) -> None:
        customer_ids = list(customer_ids)
        self.terms.forget(customer_ids)
        self.spend.forget(customer_ids)

    def pending_notices(self) -> list[RaisedNotification]:
        return list(self._outbox)

    def raise_pending(self) -> int:
        """Records queued notices in the control plane (blocking; run it off the loop)."""
        raised = 0
        with self._raising:
            while self._outbox:
                notice = self._outbox[0]
                if self._control.raise_notification(notice):
                    raised += 1
                self._outbox.popleft()
        return raised

    def queue_crossed_by_live_usage(self) -> int:
        """Queues the notices for thresholds that live usage crossed (the published base had
        not reached them): after a restart, any notice a crash kept from being recorded."""
        queued = 0
        now = self._clock()
        for customer_id in {key[0] for key, _ in self.ledger.periods()}:
            terms = self.terms.current(customer_id, now)
            if terms is None:
                continue
            for feature_terms in terms.features.values():
                if feature_terms.limit is None:
                    continue
                key = feature_terms.window_key
                period = self.ledger.find(key)
                if period is None or period.live.count == 0:
                    continue
                base = self._window_base(key)
                used = period.live.on_top_of(base, feature_terms.aggregation)
                moment = period.live.last_at or now
                for notice in self._crossings(customer_id, feature_terms, base, used, moment):
                    queued += self._queue(notice)
        return queued + self.queue_reached_spend()

    def queue_reached_spend(self) -> int:
        """Builds every watched customer's spend state, which queues the notices of the
        thresholds it has reached (after a restart, or a publication that raised the spend
        without an event of theirs since); returns how many were new."""
        before = len(self._outbox)
        now = self._clock()
        for customer_id in list(self._watched):
            terms = self.terms.current(customer_id, now)
            if terms is not None:
                self._spend_state(terms)
        return len(self._outbox) - before

    # -- helpers -----------------------------------------------------------------------------

    def _count_in_cycle(
        self,
        admission: Admission,
        terms: CustomerTerms,
        feature: str,
        feature_terms: FeatureTerms | None,
        event: Metered,
        factor: Decimal,
    ) -> None:
        if feature not in terms.plan.features or not (
            terms.cycle.start <= event.timestamp < terms.cycle.end
        ):
            return
        key = (terms.customer_id, feature, terms.cycle.start, terms.cycle.end)
        dimension = _dimension(event, feature_terms.dimension if feature_terms else None)
        admission.reserve().add(
            self.ledger.period(key),
            dimension,
            event.timestamp.date(),
            event.timestamp,
            event.quantity * factor,
        )

    def _window_base(self, key: PeriodKey) -> Decimal:
        return self.published.window_used.get((key[0], key[1], key[2]), ZERO)

    def _window_used(self, key: PeriodKey, terms: FeatureTerms) -> Decimal:
        base = self._window_base(key)
        period = self.ledger.find(key)
        return base if period is None else period.live.on_top_of(base, terms.aggregation)

    def _status(self, terms: CustomerTerms, feature_terms: FeatureTerms) -> LimitStatus:
        key = feature_terms.window_key
        used = self._window_used(key, feature_terms)
        limit = feature_terms.limit
        percent: Decimal | None = None
        status: Status = "ok"
        if limit is not None:
            percent = percent_used(used, limit)
            reached = reached_thresholds(used, limit, self._catalogue.alert_thresholds)
            if reached:
                status = reached[-1].level.value
        return LimitStatus(
            customer_id=terms.customer_id,
            feature=feature_terms.feature,
            plan=terms.plan_name,
            used=used,
            limit=limit,
            enforcement=feature_terms.enforcement,
            remaining=None if limit is None else max(limit - used, ZERO),
            percent_used=percent,
            status=status,
            window_start=feature_terms.window_start,
            resets_at=feature_terms.resets_at,
            is_override=feature_terms.is_override,
        )

    def _crossings(
        self,
        customer_id: str,
        terms: FeatureTerms,
        before: Decimal,
        after: Decimal,
        moment: datetime,
    ) -> list[RaisedNotification]:
        limit = terms.limit
        assert limit is not None
        assert terms.enforcement is not None
        thresholds = self._catalogue.alert_thresholds
        already = {t.percent for t in reached_thresholds(before, limit, thresholds)}
        feature = self._catalogue.features[terms.feature]
        notices = []
        for threshold in reached_thresholds(after, limit, thresholds):
            if threshold.percent in already:
                continue
            kind = notification_type(threshold.level)
            notices.append(
                RaisedNotification(
                    notification_id=notification_id(
                        customer_id, kind, terms.feature, terms.window_start, threshold.percent
                    ),
                    customer_id=customer_id,
                    notification_type=kind,
                    severity=threshold.level.value,
                    feature=terms.feature,
                    threshold_percent=threshold.percent,
                    window_start=terms.window_start,
                    window_end=terms.window_end,
                    created_at=moment,
                    raised_at=self._clock(),
                    title=notification_title(
                        threshold.level, feature.display_name, threshold.percent
                    ),
                    message=notification_message(
                        threshold.level,
                        feature.display_name,
                        threshold.percent,
                        terms.enforcement,
                        limit,
                        feature.unit,
                        terms.window_start,
                    ),
                )
            )
        return notices

    def _queue(self, notice: RaisedNotification) -> int:
        if notice.notification_id in self._queued:
            return 0
        self._queued.add(notice.notification_id)
        self._outbox.append(notice)
        return 1

    def _refusal_reason(
        self, feature: str, terms: FeatureTerms, used: Decimal, quantity: Decimal
    ) -> str:
        unit = self._unit(feature)
        return (
            f"hard limit reached: {feature} has used {_text(used)} of its limit of "
            f"{_text(terms.limit or ZERO)} {unit} in the period that resets at "
            f"{_iso(terms.resets_at)}, so {_text(quantity)} more is refused; retry after the "
            "reset, or raise the limit or change plan"
        )

    def _unit(self, feature: str) -> str:
        return self._catalogue.features[feature].unit


def _next_used(used: Decimal, quantity: Decimal, aggregation: Aggregation) -> Decimal:
    if aggregation is Aggregation.SUM:
        return used + quantity
    if aggregation is Aggregation.COUNT:
        return used + 1
    if aggregation is Aggregation.MAX:
        return max(used, quantity)
    return quantity


def _dimension(event: Metered, dimension: str | None) -> str | None:
    return None if dimension is None else event.properties.get(dimension)


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

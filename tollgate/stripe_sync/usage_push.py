"""Sends each meter what it lacks, exactly once, within Stripe's rules for meter events.

Per customer, cycle and meter, Stripe should hold the billable quantity in meter units
(``meter_targets``: whole numbers, as meters take);
the ledger says what it already accepted. The difference goes as one meter event whose
identifier is derived from what it adds (customer, cycle, meter, total before, total after),
committed as pending before it is sent. Retries (429 with backoff and jitter, 5xx and
timeouts) resend the same event; a crash is healed by the next push resending the pending
event; Stripe rejects an identifier it already holds, which is proof the usage arrived.

Stripe allows one concurrent call per customer and meter: a customer's events are sent one
after another, customers in parallel. Usage Stripe would refuse (its cycle's last moment is
more than 35 days ago) is never sent and never dropped silently: it is returned as ``late``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import stripe

from tollgate.billing.pricing import decimal_text
from tollgate.stripe_sync.client import call
from tollgate.stripe_sync.meter_targets import MeterTarget
from tollgate.stripe_sync.report_ledger import Pending, ReportLedger

log = logging.getLogger(__name__)

# Stripe: "within the past 35 calendar days or up to 5 minutes in the future". An hour of
# margin so that an event dated at the edge is not refused while it is being retried.
PAST_WINDOW = timedelta(days=35) - timedelta(hours=1)
# Stripe remembers identifiers (and idempotency keys) for at least 24 hours: a pending event
# older than this is not resent blindly.
RESEND_WITHIN = timedelta(hours=23)
ZERO = Decimal(0)

Status = Literal[
    "sent",
    "resent",
    "unchanged",
    "late",
    "no_stripe_customer",
    "over_reported",
    "stale_pending",
    "failed",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    customer_id: str
    cycle_id: str
    event_name: str
    status: Status
    quantity: Decimal = ZERO  # what was sent (or is late, or over-reported)
    detail: str = ""


@dataclass
class PushResult:
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, status: Status) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return dict(counts)


def event_identifier(target: MeterTarget, before: Decimal, after: Decimal) -> str:
    fact = "|".join(
        (
            target.customer_id,
            target.cycle_id,
            target.event_name,
            decimal_text(before),
            decimal_text(after),
        )
    )
    return "tg_" + hashlib.sha256(fact.encode()).hexdigest()[:40]


def event_timestamp(target: MeterTarget, now: datetime) -> datetime:
    """Inside the cycle, so Stripe bills it in the same period: now, or the cycle's last second."""
    last_second = target.cycle_end - timedelta(seconds=1)
    return max(target.cycle_start, min(now.replace(microsecond=0), last_second))


def is_duplicate_identifier(error: stripe.StripeError) -> bool:
    """Stripe refuses an identifier it already holds: 400 "An event already exists with
    identifier ..." — the event was accepted earlier."""
    if not isinstance(error, stripe.InvalidRequestError):
        return False
    message = (error.user_message or str(error)).lower()
    return "already exists" in message and "identifier" in message


class UsagePusher:
    def __init__(
        self,
        client: stripe.StripeClient,
        ledger: ReportLedger,
        *,
        attempts: int = 6,
        workers: int = 8,
        finalization_grace: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``finalization_grace``: how long after a period ends Stripe still adds usage to its
        invoice (Stripe's default, one hour; TOLLGATE_FINALIZATION_GRACE_SECONDS)."""
        self._client = client
        self._grace = finalization_grace
        self._ledger = ledger
        self._attempts = attempts
        self._workers = workers
        self._clock = clock

    def push(
        self, targets: Sequence[MeterTarget], stripe_customers: Mapping[str, str]
    ) -> PushResult:
        """``stripe_customers``: Tollgate customer id -> Stripe customer id.

        Cycles that ended over 35 days ago are left out: nothing about them can reach Stripe
        any more, and every run since their grace period ended has listed them as late.
        """
        horizon = self._clock() - PAST_WINDOW
        by_customer: dict[str, list[MeterTarget]] = defaultdict(list)
        for target in targets:
            if target.cycle_end > horizon:
                by_customer[target.customer_id].append(target)
        result = PushResult()
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            for outcomes in pool.map(
                lambda item: self._push_customer(item[1], stripe_customers.get(item[0])),
                sorted(by_customer.items()),
            ):
                result.outcomes.extend(outcomes)
        return result

    def _push_customer(
        self, targets: list[MeterTarget], stripe_customer: str | None
    ) -> list[Outcome]:
        outcomes = []
        for target in targets:
            if stripe_customer is None:
                outcomes.append(
                    _outcome(target, "no_stripe_customer", target.billable, "not in Stripe yet")
                )
                continue
            try:
                outcomes.extend(self._push_target(target, stripe_customer))
            except stripe.StripeError as error:
                log.warning("meter event for %s failed: %s", target, error)
                outcomes.append(_outcome(target, "failed", ZERO, str(error)))
        return outcomes

    def _push_target(self, target: MeterTarget, stripe_customer: str) -> list[Outcome]:
        key = (target.customer_id, target.cycle_id, target.event_name)
        now = self._clock()
        report = self._ledger.get(key)
        outcomes: list[Outcome] = []
        if report.pending is not None:
            held_at = report.pending.held_at
            if held_at is not None and now - held_at > RESEND_WITHIN:
                # Stripe may have kept it, and no longer remembers its identifier: resending
                # could count it twice, not resending could lose it. A person decides.
                detail = f"event {report.pending.identifier} pending since {held_at.isoformat()}"
                return [_outcome(target, "stale_pending", Decimal(report.pending.value), detail)]
            # A push ended between sending and recording: send the very same event again.
            resent = self._send(target, stripe_customer, key, report.pending, "resent")
            report = self._ledger.get(key)
            if report.pending is not None:
                # Not accepted. If too late to send, all Stripe may lack is late, not just it.
                if resent.status == "late":
                    lacking = Decimal(target.value - report.reported)
                    resent = _outcome(target, "late", lacking, resent.detail)
                return [resent]
            outcomes.append(resent)
        delta = target.value - report.reported
        if delta == 0:
            return outcomes or [_outcome(target, "unchanged")]
        if delta < 0:
            # Billable usage only falls if events were removed after being reported; Stripe
            # cannot take usage back after 24 hours, so it is reported for a person to settle.
            return [
                *outcomes,
                _outcome(target, "over_reported", Decimal(-delta), "Stripe holds more"),
            ]
        pending = Pending(
            event_identifier(target, Decimal(report.reported), Decimal(target.value)),
            delta,
            event_timestamp(target, now),
        )
        late = self._late(target, pending, now)
        if late is not None:
            return [*outcomes, late]
        if not self._ledger.hold(key, report, pending, now):
            detail = "another push changed this meter's ledger row meanwhile; the next run resumes"
            return [*outcomes, _outcome(target, "failed", ZERO, detail)]
        outcomes.append(self._send(target, stripe_customer, key, pending, "sent"))
        return outcomes

    def _late(self, target: MeterTarget, pending: Pending, now: datetime) -> Outcome | None:
        """Usage Stripe would refuse (over 35 days old) or no longer bill (its period's
        invoice is past the finalization grace period) is never sent."""
        if pending.timestamp < now - PAST_WINDOW:
            return _outcome(target, "late", Decimal(pending.value), _late(pending.timestamp))
        if target.cycle_end + self._grace <= now:
            detail = (
                f"the cycle ended {target.cycle_end.isoformat()}, more than the finalization "
                "grace period ago: Stripe's invoice for it is final; Tollgate's own invoice "
                "bills it (as an adjustment if its invoice was finalized)"
            )
            return _outcome(target, "late", Decimal(pending.value), detail)
        return None

    def _send(
        self,
        target: MeterTarget,
        stripe_customer: str,
        key: tuple[str, str, str],
        pending: Pending,
        status: Status,
    ) -> Outcome:
        late = self._late(target, pending, self._clock())
        if late is not None:
            return late
        params: stripe.params.billing.MeterEventCreateParams = {
            "event_name": target.event_name,
            "identifier": pending.identifier,
            "timestamp": int(pending.timestamp.timestamp()),
            "payload": {"stripe_customer_id": stripe_customer, "value": str(pending.value)},
        }
        try:
            call(
                lambda: self._client.v1.billing.meter_events.create(
                    params, {"idempotency_key": pending.identifier}
                ),
                attempts=self._attempts,
            )
        except stripe.StripeError as error:
            if not is_duplicate_identifier(error):
                raise
        self._ledger.accepted(key, pending.identifier, self._clock())
        return _outcome(target, status, Decimal(pending.value))


def _outcome(
    target: MeterTarget, status: Status, quantity: Decimal = ZERO, detail: str = ""
) -> Outcome:
    return Outcome(target.customer_id, target.cycle_id, target.event_name, status, quantity, detail)


def _late(timestamp: datetime) -> str:
    return (
        f"dated {timestamp.isoformat()}, more than 35 days ago: Stripe no longer accepts it; "
        "Tollgate's own invoice bills it"
    )

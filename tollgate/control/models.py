"""What the control plane's queries return: plain, frozen values, never live rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from tollgate.billing.alerts import BUDGET_REACHED, LIMIT_EXCEEDED, LIMIT_WARNING, SPEND_ALERT
from tollgate.billing.catalogue import Plan
from tollgate.billing.catalogue.model import CycleAnchor, Enforcement
from tollgate.billing.cycles import Cycle, CycleRule

# Every kind of notice a customer receives, and may mute (NotificationPreferences): usage
# alerts (tollgate.billing.alerts), the pipeline's cycle-end notice (fct_notifications),
# the Stripe webhooks' (tollgate.stripe_webhooks: PAYMENT_FAILED, SUBSCRIPTION_CANCELLED) and
# the spend alerts and budget the live limit engine raises (tollgate.limits.spend).
BILLING_CYCLE_END = "billing_cycle_end"
NOTIFICATION_TYPES: tuple[str, ...] = (
    LIMIT_WARNING,
    LIMIT_EXCEEDED,
    BILLING_CYCLE_END,
    "payment_failed",
    "subscription_cancelled",
    SPEND_ALERT,
    BUDGET_REACHED,
)


class When(StrEnum):
    NOW = "now"
    PERIOD_END = "period_end"


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    email: str | None
    timezone: str
    currency: str
    created_at: datetime
    updated_at: datetime
    stripe_customer_id: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    customer_id: str
    status: str  # active | canceled: what the last change made it; see active_at
    started_at: datetime
    billing_anchor: datetime
    anchoring: CycleAnchor | None  # None: the plan's cycle_anchor
    cancel_at: datetime | None  # scheduled end (canceled at period end)
    ended_at: datetime | None  # actual end (canceled now)
    created_at: datetime
    # Stripe's status (active, past_due, unpaid, canceled ...) as its last webhook said.
    stripe_status: str | None = None

    @property
    def ends_at(self) -> datetime | None:
        return self.ended_at or self.cancel_at

    def active_at(self, moment: datetime) -> bool:
        end = self.ends_at
        return self.started_at <= moment and (end is None or moment < end)


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    """A row of a subscription's plan history: ``plan`` over ``[effective_from, effective_to)``."""

    subscription_id: str
    plan: str
    effective_from: datetime
    effective_to: datetime | None


@dataclass(frozen=True, slots=True)
class PlanChange:
    id: int
    subscription_id: str
    from_plan: str
    to_plan: str | None  # None: the subscription was canceled
    at: datetime
    timing: When
    credit: int  # minor units, <= 0
    charge: int  # minor units, >= 0
    currency: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanChangePreview:
    """What a plan change at ``asked_at`` would do and cost (``preview_change_plan``)."""

    subscription: Subscription
    from_plan: str
    to_plan: str
    asked_at: datetime
    effective_at: datetime
    timing: When
    cycle: Cycle  # the billing cycle the change falls in
    remaining_seconds: int  # of the cycle after the change, when it takes effect now
    credit: int  # minor units, <= 0
    charge: int  # minor units, >= 0
    currency: str


@dataclass(frozen=True, slots=True)
class ActivePlan:
    subscription: Subscription
    plan_name: str
    plan: Plan
    cycle: Cycle  # the billing cycle containing the moment asked about
    rule: CycleRule  # how the subscription's cycles are laid out


@dataclass(frozen=True, slots=True)
class LimitOverride:
    customer_id: str
    feature: str
    value: Decimal | None  # None: unlimited
    enforcement: Enforcement | None  # None when unlimited
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EffectiveLimit:
    feature: str
    value: Decimal | None  # None: unlimited
    enforcement: Enforcement | None
    source: Literal["plan", "override"]


@dataclass(frozen=True, slots=True)
class EffectiveLimits:
    customer_id: str
    plan: str | None  # the plan at the moment asked about; None without a subscription
    limits: dict[str, EffectiveLimit]


@dataclass(frozen=True, slots=True)
class RaisedNotification:
    """A usage notice the API raised in real time (``schema.notifications``)."""

    notification_id: str
    customer_id: str
    notification_type: str
    severity: str
    feature: str | None
    threshold_percent: int | None
    window_start: datetime
    window_end: datetime
    created_at: datetime  # when the threshold was crossed
    raised_at: datetime  # when the API recorded it
    title: str
    message: str


@dataclass(frozen=True, slots=True)
class SpendThresholds:
    """A customer's alerts on the billing cycle's cost and its budget (``schema.spend_thresholds``).

    Amounts are minor units of ``currency`` (the customer's). Each alert raises a notice once
    per cycle when the cycle's spend reaches it; the budget is a hard stop: billable usage that
    would take the spend past it is refused until the cycle ends (``tollgate.limits.spend``).
    """

    customer_id: str
    alerts: tuple[int, ...]  # ascending
    budget: int | None  # None: no budget
    currency: str
    updated_at: datetime | None  # when last set; None: never set (or cleared)

    @property
    def empty(self) -> bool:
        return not self.alerts and self.budget is None


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    """Which notices a customer receives (``schema.notification_preferences``).

    The notices are derived as always, by the one threshold rule (tollgate.billing.alerts);
    these only choose which of them the customer is shown. Until set, every notice.
    """

    customer_id: str
    types: dict[str, bool]  # every type of NOTIFICATION_TYPES: received (True) or muted
    thresholds: tuple[int, ...]  # the catalogue's alert thresholds (percent) heard about
    muted_thresholds: tuple[int, ...]  # the threshold percents muted (as stored)
    updated_at: datetime | None  # None: never set, so the defaults (everything on)
    email_enabled: bool = False  # also e-mailed to the customer's address (tollgate/delivery/)

    def receives(self, notification_type: str, threshold_percent: int | None) -> bool:
        """Whether a notice of this type (at this threshold, for usage alerts) is shown; a
        type not known here (added later) is received."""
        if not self.types.get(notification_type, True):
            return False
        return threshold_percent is None or threshold_percent not in self.muted_thresholds


@dataclass(frozen=True, slots=True)
class InvoicePayment:
    """A Stripe invoice's payment as its webhooks reported it (``schema.invoice_payments``)."""

    stripe_invoice_id: str
    customer_id: str
    subscription_id: str | None  # the Tollgate subscription it bills, when known
    stripe_subscription_id: str | None
    period_start: datetime
    period_end: datetime
    amount_due: int  # minor units
    amount_paid: int  # minor units
    currency: str
    status: str  # paid | failed
    last_event_id: str
    last_event_created: datetime  # Stripe's created of the event that set this state
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StripeEventRecord:
    """A Stripe webhook event as received and processed, once (``schema.stripe_events``)."""

    event_id: str
    event_type: str
    created: datetime
    object_id: str | None
    received_at: datetime
    processed_at: datetime
    outcome: str
    detail: str | None

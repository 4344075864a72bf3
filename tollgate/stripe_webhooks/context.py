"""What every event handler gets, and the checks they all make before changing anything."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from tollgate.billing.identifiers import stripe_notification_id
from tollgate.control import stripe_events
from tollgate.control.models import Customer, RaisedNotification
from tollgate.control.service import ControlService
from tollgate.stripe_webhooks.objects import WebhookEvent

log = logging.getLogger("tollgate.stripe_webhooks")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing an event did, as ``stripe_events.outcome`` records it."""

    code: str  # applied | stale | ignored_* | rejected
    detail: str | None = None


APPLIED = Outcome("applied")
IGNORED_TYPE = Outcome("ignored_type")


@dataclass(frozen=True, slots=True)
class HandlerContext:
    db: Connection  # the write transaction that also records the event id
    control: ControlService  # bound to ``db`` (``ControlService.within``)
    event: WebhookEvent
    now: datetime

    def customer_for(
        self, stripe_customer_id: str, object_id: str, *, ordered: bool = True
    ) -> Customer | Outcome:
        """The Tollgate customer the event is about, locked for this transaction, unless
        the event has nothing to apply: an unknown Stripe customer, or (``ordered``) an event
        older than one already applied to the same object."""
        customer = self.control.customer_by_stripe_id(stripe_customer_id, lock=True)
        if customer is None:
            # Answered 200 all the same: Stripe would retry for three days, to no avail.
            log.warning(
                "Stripe event %s (%s) is about Stripe customer %s, which no Tollgate customer "
                "is linked to; ignored",
                self.event.id,
                self.event.type,
                stripe_customer_id,
            )
            return Outcome("ignored_unknown_customer", f"no customer has {stripe_customer_id}")
        if ordered and stripe_events.is_stale(self.db, object_id, self.event.created):
            return Outcome("stale", f"a newer event about {object_id} was applied already")
        return customer

    def applied(self, object_id: str, object_type: str) -> Outcome:
        """Marks the event as the newest applied to the object."""
        stripe_events.advance(
            self.db,
            object_id=object_id,
            object_type=object_type,
            event_id=self.event.id,
            created=self.event.created,
            now=self.now,
        )
        return APPLIED

    def notify(
        self,
        kind: str,
        stripe_object_id: str,
        customer_id: str,
        severity: str,
        window: tuple[datetime, datetime],
        title: str,
        message: str,
    ) -> None:
        """Raises a notification once: its id derives from the Stripe object it is about."""
        self.control.raise_notification(
            RaisedNotification(
                notification_id=stripe_notification_id(kind, stripe_object_id),
                customer_id=customer_id,
                notification_type=kind,
                severity=severity,
                feature=None,
                threshold_percent=None,
                window_start=window[0],
                window_end=window[1],
                created_at=self.event.created,
                raised_at=self.now,
                title=title,
                message=message,
            )
        )

"""Processing a verified Stripe event exactly once: record its id and apply it, atomically.

One write transaction claims the event id (``tollgate.control.stripe_events``), runs the
handler for its type with a ``ControlService`` bound to that transaction, and records the
outcome; it commits all of it or none. A repeat finds the id taken and changes nothing.

A handler the control plane refuses (an unknown plan, a change out of time order ...) is
rolled back to a savepoint and the event recorded as ``rejected`` with the reason: retrying
cannot change the answer, so Stripe is told the event was received rather than retrying it for
three days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tollgate.control import stripe_events
from tollgate.control.database import write_transaction
from tollgate.control.errors import ControlError
from tollgate.control.service import Clock, ControlService, utc_now
from tollgate.stripe_webhooks import invoices, subscriptions
from tollgate.stripe_webhooks.context import IGNORED_TYPE, HandlerContext, Outcome, log
from tollgate.stripe_webhooks.objects import MalformedEventError, WebhookEvent

ACTOR = "stripe-webhook"

Handler = Callable[[HandlerContext], Outcome]

HANDLERS: Mapping[str, Handler] = {
    "invoice.payment_succeeded": invoices.payment_succeeded,
    "invoice.payment_failed": invoices.payment_failed,
    "customer.subscription.updated": subscriptions.subscription_updated,
    "customer.subscription.deleted": subscriptions.subscription_deleted,
}


@dataclass(frozen=True, slots=True)
class Processed:
    duplicate: bool
    outcome: str | None  # for a duplicate, what its first delivery did (None: unknown)


class WebhookProcessor:
    def __init__(self, control: ControlService, *, clock: Clock = utc_now) -> None:
        self._control = control
        self._clock = clock

    def process(self, event: WebhookEvent) -> Processed:
        """Applies the event unless it was processed before. Raises ``MalformedEventError`` (and
        stores nothing) if a handled type lacks what it must carry."""
        handler = HANDLERS.get(event.type)
        received_at = self._clock()
        with write_transaction(self._control.engine) as db:
            claimed = stripe_events.claim(
                db,
                event_id=event.id,
                event_type=event.type,
                created=event.created,
                object_id=event.object_id,
                received_at=received_at,
            )
            if not claimed:
                first = stripe_events.record(db, event.id)
                return Processed(duplicate=True, outcome=first.outcome if first else None)
            outcome = IGNORED_TYPE
            if handler is not None:
                context = HandlerContext(
                    db, self._control.within(db, actor=ACTOR), event, received_at
                )
                outcome = _run(handler, context)
            stripe_events.finish(db, event.id, outcome.code, outcome.detail, self._clock())
        log.info(
            "Stripe event %s (%s) about %s: %s%s",
            event.id,
            event.type,
            event.object_id,
            outcome.code,
            f" ({outcome.detail})" if outcome.detail else "",
        )
        return Processed(duplicate=False, outcome=outcome.code)


def _run(handler: Handler, context: HandlerContext) -> Outcome:
    try:
        with context.db.begin_nested():
            return handler(context)
    except MalformedEventError:
        raise  # the whole transaction rolls back: the event id is not recorded
    except ControlError as error:
        log.warning("Stripe event %s refused by the control plane: %s", context.event.id, error)
        return Outcome("rejected", str(error))

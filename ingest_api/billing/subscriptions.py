"""Subscriptions as one customer sees them: lookups confined to that customer, and rendering."""

from fastapi import Request

from ingest_api.billing.auth import Caller
from ingest_api.billing.errors import control_errors, unknown_subscription
from ingest_api.billing.models import SubscriptionOut, subscription_out
from tollgate.control.errors import UnknownSubscriptionError
from tollgate.control.models import Subscription
from tollgate.limits.engine import LimitEngine


def owned_subscription(caller: Caller, subscription_id: str) -> Subscription:
    """The caller's customer's subscription ``subscription_id``; 404 for anyone else's."""
    try:
        subscription = caller.control.get_subscription(subscription_id)
    except UnknownSubscriptionError:
        raise unknown_subscription(subscription_id) from None
    if subscription.customer_id != caller.customer_id:
        raise unknown_subscription(subscription_id)
    return subscription


def render_subscription(caller: Caller, subscription: Subscription) -> SubscriptionOut:
    with control_errors():
        plan_now = caller.control.plan_at(subscription.id)
        history = caller.control.plan_history(subscription.id)
    return subscription_out(subscription, plan_now, history)


def forget_terms(request: Request, customer_id: str) -> None:
    """After a change made here, the limit engine reloads the customer's terms on next use.

    Its change feed would notice within half a second anyway; this makes a read right after
    the change (GET /limits) see it. Call on the event loop, where the engine lives.
    """
    engine: LimitEngine = request.app.state.limits
    engine.forget_customers([customer_id])

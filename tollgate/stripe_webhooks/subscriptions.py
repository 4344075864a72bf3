"""``customer.subscription.updated`` and ``.deleted``: Stripe's subscription, in Tollgate.

The Tollgate subscription is the one the Stripe subscription's metadata names
(``tollgate_subscription_id``, set when Tollgate created it), else the Stripe customer's only
Tollgate subscription still running. Updated: Stripe's status is stored, a new plan (the base
price's ``tollgate:<plan>:base`` lookup key or ``tollgate_plan`` metadata) takes effect at the
event's time, and ``cancel_at_period_end`` schedules the end at the period end. Deleted: the
subscription ends (now, unless it has ended by then) and ``subscription_cancelled`` is raised
once. Changes go through ``ControlService``, audited as ``stripe-webhook``.
"""

from __future__ import annotations

from datetime import datetime

from tollgate.control.models import Customer, Subscription, When
from tollgate.stripe_webhooks.context import HandlerContext, Outcome, log
from tollgate.stripe_webhooks.objects import SubscriptionFacts

SUBSCRIPTION_CANCELLED = "subscription_cancelled"


def subscription_updated(ctx: HandlerContext) -> Outcome:
    facts = SubscriptionFacts.read(ctx.event.object)
    at = ctx.event.created
    found = _subscription(ctx, facts, since=at)
    if isinstance(found, Outcome):
        return found
    subscription = ctx.control.set_stripe_status(found.id, facts.status)
    # plan_at is None once the subscription has ended: nothing to change then.
    current = ctx.control.plan_at(subscription.id, at)
    if facts.plan is not None and current is not None and current != facts.plan:
        ctx.control.change_plan(subscription.id, facts.plan, at=at, when=When.NOW)
    if facts.cancel_at_period_end and current is not None and subscription.ends_at is None:
        ctx.control.cancel(subscription.id, at_period_end=True, at=at)
    return ctx.applied(facts.id, "subscription")


def subscription_deleted(ctx: HandlerContext) -> Outcome:
    facts = SubscriptionFacts.read(ctx.event.object)
    end = facts.ended_at or facts.canceled_at or ctx.event.created
    found = _subscription(ctx, facts, since=end)
    if isinstance(found, Outcome):
        return found
    subscription = ctx.control.set_stripe_status(found.id, facts.status)
    if subscription.active_at(end):  # else it ended by then already: nothing to change
        subscription = ctx.control.cancel(subscription.id, at_period_end=False, at=end)
    ended = subscription.ends_at or end
    start = facts.period_start or subscription.started_at
    ctx.notify(
        SUBSCRIPTION_CANCELLED,
        facts.id,
        subscription.customer_id,
        "info",
        (min(start, ended), max(facts.period_end or ended, ended)),
        "Subscription cancelled",
        f"Your subscription {subscription.id} was cancelled in Stripe and ended on "
        f"{ended:%Y-%m-%d %H:%M} UTC. Usage up to then is billed on the final invoice.",
    )
    return ctx.applied(facts.id, "subscription")


def _subscription(
    ctx: HandlerContext, facts: SubscriptionFacts, *, since: datetime
) -> Subscription | Outcome:
    customer = ctx.customer_for(facts.stripe_customer_id, facts.id)
    if isinstance(customer, Outcome):
        return customer
    found = _tollgate_subscription(ctx, customer, facts, since)
    if found is None:
        log.warning(
            "Stripe subscription %s (event %s) matches no Tollgate subscription of customer "
            "%s; ignored",
            facts.id,
            ctx.event.id,
            customer.id,
        )
        return Outcome(
            "ignored_unknown_subscription",
            f"no Tollgate subscription of {customer.id} matches {facts.id}",
        )
    return found


def _tollgate_subscription(
    ctx: HandlerContext, customer: Customer, facts: SubscriptionFacts, since: datetime
) -> Subscription | None:
    """The one the metadata names (if it is the customer's), else the customer's only
    subscription that had not ended by ``since``."""
    subscriptions = ctx.control.list_subscriptions(customer.id)
    if facts.tollgate_subscription_id is not None:
        named = facts.tollgate_subscription_id
        return next((s for s in subscriptions if s.id == named), None)
    running = [s for s in subscriptions if s.ends_at is None or s.ends_at >= since]
    return running[0] if len(running) == 1 else None

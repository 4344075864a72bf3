"""Stripe's subscription changes reach Tollgate's subscription: plan, status, cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.stripe_webhooks.conftest import StripeApp, event, subscription
from tollgate.control.models import Subscription, When
from tollgate.control.stripe_events import stripe_event, stripe_event_count

NOW = datetime.now(UTC).replace(microsecond=0)
STRIPE_SUB = "sub_1QStripeSync"
PERIOD = (NOW - timedelta(days=10), NOW + timedelta(days=20))


def _updated(
    created: datetime, plan: str, tollgate: Subscription | None, **fields: Any
) -> dict[str, Any]:
    obj = subscription(
        STRIPE_SUB,
        "cus_Sync",
        plan=plan,
        period=PERIOD,
        tollgate_subscription=tollgate.id if tollgate else None,
        **fields,
    )
    return event("customer.subscription.updated", obj, created)


def _deleted(ended: datetime, tollgate: Subscription | None) -> dict[str, Any]:
    obj = subscription(
        STRIPE_SUB,
        "cus_Sync",
        plan="professional",
        period=PERIOD,
        status="canceled",
        tollgate_subscription=tollgate.id if tollgate else None,
        ended_at=ended,
    )
    return event("customer.subscription.deleted", obj, ended + timedelta(seconds=1))


def _outcome(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    outcome: str = response.json()["outcome"]
    return outcome


def _subscribed(app: StripeApp, plan: str = "professional") -> Subscription:
    found = app.customer("acme", "cus_Sync", plan)
    assert found is not None
    return found


def test_a_plan_change_in_stripe_changes_the_plan_and_status(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    changed_at = NOW - timedelta(minutes=30)
    payload = _updated(changed_at, "enterprise", tollgate, status="past_due")
    assert _outcome(app.send(payload)) == "applied"

    assert app.control.plan_at(tollgate.id, NOW) == "enterprise"
    assert app.control.plan_at(tollgate.id, changed_at - timedelta(seconds=1)) == "professional"
    [change] = app.control.plan_changes(tollgate.id)
    assert (change.from_plan, change.to_plan, change.at, change.timing) == (
        "professional",
        "enterprise",
        changed_at,
        When.NOW,
    )
    assert app.control.get_subscription(tollgate.id).stripe_status == "past_due"
    actors = {e.actor for e in app.control.audit_entries(entity="subscription")}
    assert "stripe-webhook" in actors
    # Delivered again: the change is not made twice.
    assert app.send(payload).json()["duplicate"] is True
    assert len(app.control.plan_changes(tollgate.id)) == 1


def test_without_metadata_the_customers_only_subscription_is_synced(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    assert _outcome(app.send(_updated(NOW - timedelta(minutes=5), "professional", None))) == (
        "applied"
    )
    synced = app.control.get_subscription(tollgate.id)
    assert synced.stripe_status == "active"
    assert app.control.plan_changes(tollgate.id) == []  # same plan: nothing to change


def test_an_older_update_does_not_overwrite_a_newer_one(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    newer = _updated(NOW - timedelta(minutes=5), "enterprise", tollgate, status="active")
    older = _updated(NOW - timedelta(minutes=50), "starter", tollgate, status="past_due")
    assert _outcome(app.send(newer)) == "applied"
    assert _outcome(app.send(older)) == "stale"

    assert app.control.plan_at(tollgate.id, NOW) == "enterprise"
    assert app.control.get_subscription(tollgate.id).stripe_status == "active"
    record = stripe_event(app.engine, older["id"])
    assert record is not None
    assert record.outcome == "stale"


def test_cancel_at_period_end_schedules_the_end(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    payload = _updated(
        NOW - timedelta(minutes=5), "professional", tollgate, cancel_at_period_end=True
    )
    assert _outcome(app.send(payload)) == "applied"
    synced = app.control.get_subscription(tollgate.id)
    assert synced.status == "active"
    assert synced.cancel_at is not None
    assert synced.cancel_at > NOW  # the end of the current Tollgate cycle
    assert synced.ended_at is None


def test_deleting_ends_the_subscription_and_notifies_once(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    ended = NOW - timedelta(minutes=3)
    payload = _deleted(ended, tollgate)
    assert _outcome(app.send(payload)) == "applied"
    assert app.send(payload).json() == {"received": True, "duplicate": True, "outcome": "applied"}

    synced = app.control.get_subscription(tollgate.id)
    assert (synced.status, synced.ended_at, synced.stripe_status) == ("canceled", ended, "canceled")
    assert app.control.plan_at(tollgate.id, NOW) is None
    [notice] = app.notifications("acme")
    assert notice["type"] == "subscription_cancelled"
    assert tollgate.id in notice["message"]
    assert datetime.fromisoformat(notice["window_start"]) == PERIOD[0]
    assert datetime.fromisoformat(notice["window_end"]) == PERIOD[1]


def test_deleting_a_subscription_tollgate_already_ended_changes_nothing_else(
    app: StripeApp,
) -> None:
    tollgate = _subscribed(app)
    canceled_at = NOW - timedelta(minutes=20)
    app.control.cancel(tollgate.id, at_period_end=False, at=canceled_at)
    assert _outcome(app.send(_deleted(NOW - timedelta(minutes=2), tollgate))) == "applied"
    synced = app.control.get_subscription(tollgate.id)
    assert synced.ended_at == canceled_at  # not moved
    assert len(app.control.plan_changes(tollgate.id)) == 1
    assert [n["type"] for n in app.notifications("acme")] == ["subscription_cancelled"]


def test_an_update_older_than_the_deletion_does_not_revive_it(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    _outcome(app.send(_deleted(NOW - timedelta(minutes=3), tollgate)))
    late = _updated(NOW - timedelta(minutes=30), "enterprise", tollgate, status="active")
    assert _outcome(app.send(late)) == "stale"
    assert app.control.get_subscription(tollgate.id).stripe_status == "canceled"


def test_a_plan_the_catalogue_lacks_is_recorded_as_rejected_and_changes_nothing(
    app: StripeApp,
) -> None:
    tollgate = _subscribed(app)
    payload = _updated(NOW - timedelta(minutes=5), "platinum", tollgate, status="past_due")
    assert _outcome(app.send(payload)) == "rejected"
    record = stripe_event(app.engine, payload["id"])
    assert record is not None
    assert record.detail is not None
    assert "platinum" in record.detail
    # All or nothing: the status of the refused event is not kept either.
    assert app.control.get_subscription(tollgate.id).stripe_status is None
    assert app.control.plan_at(tollgate.id, NOW) == "professional"


def test_a_customer_without_a_tollgate_subscription_is_acknowledged(app: StripeApp) -> None:
    app.customer("acme", "cus_Sync", None)
    payload = _updated(NOW - timedelta(minutes=5), "professional", None)
    assert _outcome(app.send(payload)) == "ignored_unknown_subscription"


def test_other_event_types_are_acknowledged_and_ignored(app: StripeApp) -> None:
    tollgate = _subscribed(app)
    payload = event(
        "customer.subscription.trial_will_end",
        subscription(STRIPE_SUB, "cus_Sync", plan="enterprise", period=PERIOD, status="trialing"),
        NOW - timedelta(minutes=1),
    )
    assert app.send(payload).json() == {
        "received": True,
        "duplicate": False,
        "outcome": "ignored_type",
    }
    assert app.control.get_subscription(tollgate.id).stripe_status is None
    assert app.control.plan_at(tollgate.id, NOW) == "professional"
    assert stripe_event_count(app.engine) == 1

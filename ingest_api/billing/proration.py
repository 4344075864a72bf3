"""A plan change previewed: what ``ControlService.change_plan`` would record, without recording.

``ControlService.preview_change_plan`` runs the very checks, timing choice and proration
``change_plan`` runs; this module only picks the caller's subscription and maps errors.
"""

from datetime import datetime

from ingest_api.billing.auth import Caller
from ingest_api.billing.errors import conflict, control_errors, not_found
from ingest_api.billing.subscriptions import owned_subscription
from tollgate.billing.catalogue import UnknownPlanError
from tollgate.control.models import ActivePlan, PlanChangePreview, Subscription, When


def preview_change(
    caller: Caller,
    new_plan: str,
    at: datetime,
    subscription_id: str | None = None,
    when: When | None = None,
) -> PlanChangePreview:
    try:
        caller.catalogue.plan(new_plan)
    except UnknownPlanError as error:
        raise not_found("unknown_plan", str(error), "See GET /api/billing/plans.") from None
    active = None if subscription_id is not None else _active_at(caller, at)
    subscription = _subscription(caller, subscription_id, active, at)
    try:
        with control_errors():
            return caller.control.preview_change_plan(subscription.id, new_plan, at=at, when=when)
    except (ValueError, OverflowError):
        # Laying out the cycle around a moment near year 9999 leaves datetime's range.
        raise conflict(
            f"{at.isoformat()} is beyond the billing calendar", "Ask about a nearer moment."
        ) from None


def _active_at(caller: Caller, at: datetime) -> ActivePlan | None:
    try:
        with control_errors():
            return caller.control.active_plan(caller.customer_id, at)
    except (ValueError, OverflowError):
        # Laying out the cycle around a moment near year 9999 leaves datetime's range.
        raise conflict(
            f"{at.isoformat()} is beyond the billing calendar", "Ask about a nearer moment."
        ) from None


def _subscription(
    caller: Caller, subscription_id: str | None, active: ActivePlan | None, at: datetime
) -> Subscription:
    """The one named (the caller's own), or the one active at ``at``."""
    if subscription_id is not None:
        return owned_subscription(caller, subscription_id)
    if active is None:
        raise conflict(
            f"customer '{caller.customer_id}' has no subscription active at {at.isoformat()}",
            "Subscribe first (POST /api/billing/subscription), or ask about another moment.",
        )
    return active.subscription

"""The Settings page's queries and actions: the billing API's own functions, called in-process.

Preferences are read and saved by what ``GET`` / ``PUT /notification-preferences`` run, the
notices are ``all_notifications`` (muted ones left out, as ``GET /notifications``) and marking
them read is ``mark_notifications_read`` (``POST /notifications/mark-read``): the same checks,
the same control-plane writes, audited as ``dashboard:<key id>``. Each change forgets the
viewer's cached Overview, so its unread count is right on the next visit, not 30 s later.

Spend alerts and the budget are ``spend_view`` / ``save_spend`` (``GET`` / ``PUT
/spend-thresholds``) over a limit engine of the page's own (the Overview's), for the spend so
far; the ingest API's engine learns of a change through its change feed within a second, and
it alone raises the notices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dashboards.customer_data import _limit_engine, customer_caller, overview
from dashboards.resources import Sources, marts
from ingest_api.billing.models_invoices import NotificationOut
from ingest_api.billing.models_preferences import (
    NotificationPreferencesIn,
    NotificationPreferencesOut,
)
from ingest_api.billing.models_spend import SpendAmountIn, SpendThresholdsIn, SpendThresholdsOut
from ingest_api.billing.routes_notification_preferences import get_preferences, set_preferences
from ingest_api.billing.routes_notifications import all_notifications, mark_notifications_read
from ingest_api.billing.routes_spend import save_spend, spend_view
from ingest_api.events.errors import RequestError

# How the page names each notification type; a type added later shows by its name.
TYPE_LABELS = {
    "limit_warning": "Usage warnings (a limit nearly reached)",
    "limit_exceeded": "Limit reached",
    "billing_cycle_end": "Billing cycle ended",
    "payment_failed": "Payment failed",
    "subscription_cancelled": "Subscription cancelled",
    "spend_alert": "Spend alerts (the cycle's cost passed an amount you chose)",
    "budget_reached": "Budget reached",
}


class SettingsRefusedError(ValueError):
    """The change was refused; the message says why and how to put it right."""


def _refused(error: RequestError) -> SettingsRefusedError:
    return SettingsRefusedError(f"{error.message}. {error.hint}")


def preferences(srcs: Sources, customer_id: str, key_id: str) -> NotificationPreferencesOut:
    return get_preferences(customer_caller(srcs, customer_id, key_id))


def save_preferences(
    srcs: Sources,
    customer_id: str,
    key_id: str,
    *,
    types: Mapping[str, bool],
    thresholds: Sequence[int],
    email: bool | None = None,
) -> NotificationPreferencesOut:
    """Replaces the customer's preferences, as ``PUT /notification-preferences`` does."""
    body = NotificationPreferencesIn(types=dict(types), thresholds=list(thresholds), email=email)
    try:
        saved = set_preferences(customer_caller(srcs, customer_id, key_id), body)
    except RequestError as error:
        raise _refused(error) from None
    overview.clear()  # every viewer's: an admin may be looking at this customer too
    return saved


def notices(srcs: Sources, customer_id: str, key_id: str) -> list[NotificationOut]:
    """The customer's notices, read or not (muted ones left out), newest first."""
    _, found = all_notifications(marts(srcs.marts_dir), customer_caller(srcs, customer_id, key_id))
    return found


def mark_read(srcs: Sources, customer_id: str, key_id: str, notification_ids: list[str]) -> int:
    """Marks the notices read, all or none; returns how many were asked for."""
    caller = customer_caller(srcs, customer_id, key_id)
    try:
        marked = mark_notifications_read(marts(srcs.marts_dir), caller, notification_ids)
    except RequestError as error:
        raise _refused(error) from None
    overview.clear()  # every viewer's: an admin may be looking at this customer too
    return len(marked.notifications)


def spend(srcs: Sources, customer_id: str, key_id: str) -> SpendThresholdsOut:
    """The spend alerts, budget and this cycle's spend so far (``GET /spend-thresholds``)."""
    caller = customer_caller(srcs, customer_id, key_id)
    return spend_view(caller, _limit_engine(srcs, caller))


def amounts(text: str) -> list[str]:
    """The amounts typed one per line (or comma-separated), as typed: the API checks them
    exactly (decimal strings, never floats)."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def save_spend_thresholds(
    srcs: Sources, customer_id: str, key_id: str, *, alerts: Sequence[str], budget: str | None
) -> SpendThresholdsOut:
    """Replaces the spend alerts and budget, as ``PUT /spend-thresholds`` does."""
    body = SpendThresholdsIn(
        alerts=[SpendAmountIn(amount=amount) for amount in alerts],
        budget=SpendAmountIn(amount=budget) if budget else None,
    )
    caller = customer_caller(srcs, customer_id, key_id)
    try:
        saved = save_spend(caller, _limit_engine(srcs, caller), body)
    except RequestError as error:
        raise _refused(error) from None
    overview.clear()  # its notices: an alert already passed is raised within a second
    return saved

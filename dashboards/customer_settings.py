"""The Settings page's queries and actions: the billing API's own functions, called in-process.

Preferences are read and saved by what ``GET`` / ``PUT /notification-preferences`` run, the
notices are ``all_notifications`` (muted ones left out, as ``GET /notifications``) and marking
them read is ``mark_notifications_read`` (``POST /notifications/mark-read``): the same checks,
the same control-plane writes, audited as ``dashboard:<key id>``. Each change forgets the
viewer's cached Overview, so its unread count is right on the next visit, not 30 s later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dashboards.customer_data import customer_caller, overview
from dashboards.resources import Sources, marts
from ingest_api.billing.models_invoices import NotificationOut
from ingest_api.billing.models_preferences import (
    NotificationPreferencesIn,
    NotificationPreferencesOut,
)
from ingest_api.billing.routes_notification_preferences import get_preferences, set_preferences
from ingest_api.billing.routes_notifications import all_notifications, mark_notifications_read
from ingest_api.events.errors import RequestError

# How the page names each notification type; a type added later shows by its name.
TYPE_LABELS = {
    "limit_warning": "Usage warnings (a limit nearly reached)",
    "limit_exceeded": "Limit reached",
    "billing_cycle_end": "Billing cycle ended",
    "payment_failed": "Payment failed",
    "subscription_cancelled": "Subscription cancelled",
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
) -> NotificationPreferencesOut:
    """Replaces the customer's preferences, as ``PUT /notification-preferences`` does."""
    body = NotificationPreferencesIn(types=dict(types), thresholds=list(thresholds))
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

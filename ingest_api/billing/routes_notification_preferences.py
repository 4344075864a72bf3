"""``/notification-preferences``: which notices the customer receives.

The notices are derived as always (the catalogue's alert thresholds, one rule:
``tollgate.billing.alerts``); the preferences only choose which of them the customer is shown,
by notification type and by alert threshold. ``all_notifications`` applies them, for the
API's lists and the dashboard alike.
"""

from fastapi import APIRouter

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import control_errors, error_responses
from ingest_api.billing.models_preferences import (
    NotificationPreferencesIn,
    NotificationPreferencesOut,
)
from tollgate.control.models import NOTIFICATION_TYPES, NotificationPreferences

router = APIRouter()


def preferences_out(
    caller: Caller, preferences: NotificationPreferences
) -> NotificationPreferencesOut:
    return NotificationPreferencesOut(
        types=preferences.types,
        thresholds=list(preferences.thresholds),
        available_thresholds=[t.percent for t in caller.catalogue.alert_thresholds],
        updated_at=preferences.updated_at,
        email=preferences.email_enabled,
    )


def get_preferences(caller: Caller) -> NotificationPreferencesOut:
    """Public: the dashboard's Settings page reads them with it, in-process."""
    with control_errors():
        preferences = caller.control.notification_preferences(caller.customer_id)
    return preferences_out(caller, preferences)


def set_preferences(caller: Caller, body: NotificationPreferencesIn) -> NotificationPreferencesOut:
    """Public: the dashboard's Settings page saves them with it, in-process."""
    with control_errors():
        preferences = caller.control.set_notification_preferences(
            caller.customer_id, types=body.types, thresholds=body.thresholds, email=body.email
        )
    return preferences_out(caller, preferences)


@router.get(
    "/notification-preferences",
    summary="Which notices the customer receives",
    description=(
        f"Per notification type ({', '.join(NOTIFICATION_TYPES)}), whether the customer "
        "receives it, and at "
        "which of the catalogue's alert thresholds (`available_thresholds`, percent of a "
        "limit) they receive usage alerts. Until changed, everything is on."
    ),
    response_model=NotificationPreferencesOut,
    responses=error_responses(400, 401, 403, 404),
)
def read_preferences(caller: CustomerCaller) -> NotificationPreferencesOut:
    return get_preferences(caller)


@router.put(
    "/notification-preferences",
    summary="Choose which notices the customer receives",
    description=(
        "Replaces the preferences: `types` mutes (false) or receives (true) notification "
        "types, and types left out are received; `thresholds` lists the alert thresholds to "
        "receive usage alerts at (left out: all; []: none). An empty body turns everything "
        "back on. Notices are still derived as before; muted ones are simply not listed by "
        "GET /api/billing/notifications, whether read or not (`include_read=true` leaves them "
        "out too), and they show again once unmuted. An unknown type or a threshold the "
        "catalogue does not have is 422 `invalid_value`, naming what is allowed."
    ),
    response_model=NotificationPreferencesOut,
    responses=error_responses(400, 401, 403, 404, 422),
)
def replace_preferences(
    caller: CustomerCaller, body: NotificationPreferencesIn
) -> NotificationPreferencesOut:
    return set_preferences(caller, body)

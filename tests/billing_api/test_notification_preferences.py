"""GET and PUT /api/billing/notification-preferences, and how they filter the notices.

Each test uses customers of its own (``World.tenant``) with notices raised for them directly
in the control plane, so the billed customers' notices stay as other tests expect them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.billing_api.world import Tenant, World
from tollgate.billing.identifiers import notification_id
from tollgate.control.models import NOTIFICATION_TYPES, RaisedNotification

PATH = "/notification-preferences"
ALL_ON = dict.fromkeys(NOTIFICATION_TYPES, True)
# (type, severity, feature, threshold): what a customer crossing every threshold of one limit
# at the end of a cycle, and failing a payment, is told.
NOTICES = [
    ("limit_warning", "warning", "api_calls", 75),
    ("limit_warning", "critical", "api_calls", 90),
    ("limit_exceeded", "exceeded", "api_calls", 100),
    ("billing_cycle_end", "info", None, None),
    ("payment_failed", "critical", None, None),
]


def raise_notices(world: World, tenant: Tenant) -> list[str]:
    """Raises ``NOTICES`` for the tenant (oldest first, an hour apart); returns their ids."""
    control = world.control()
    start = world.now - timedelta(days=3)
    ids = []
    for hour, (kind, severity, feature, threshold) in enumerate(NOTICES):
        notice = RaisedNotification(
            notification_id=notification_id(tenant.id, kind, feature, start, threshold),
            customer_id=tenant.id,
            notification_type=kind,
            severity=severity,
            feature=feature,
            threshold_percent=threshold,
            window_start=start,
            window_end=start + timedelta(days=30),
            created_at=start + timedelta(hours=hour),
            raised_at=start + timedelta(hours=hour),
            title=f"{kind} {threshold or ''}".strip(),
            message="A notice for the tests.",
        )
        assert control.raise_notification(notice)
        ids.append(notice.notification_id)
    return ids


def kinds(world: World, tenant: Tenant, **params: Any) -> list[tuple[str, int | None]]:
    response = world.request("GET", "/notifications", tenant.key, params=params)
    assert response.status_code == 200, response.text
    return [(n["type"], n["threshold_percent"]) for n in response.json()["notifications"]]


def _preferences(world: World, tenant: Tenant) -> dict[str, Any]:
    response = world.request("GET", PATH, tenant.key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


ALL_KINDS = [(kind, threshold) for kind, _, _, threshold in reversed(NOTICES)]


def test_everything_is_on_until_changed(world: World) -> None:
    tenant = world.tenant()
    assert _preferences(world, tenant) == {
        "types": ALL_ON,
        "thresholds": [75, 90, 100],
        "available_thresholds": [75, 90, 100],
        "updated_at": None,
        "email": False,
    }
    raise_notices(world, tenant)
    assert kinds(world, tenant) == ALL_KINDS


def test_muted_notices_are_not_listed_read_or_not(world: World) -> None:
    tenant = world.tenant()
    ids = raise_notices(world, tenant)
    body = {"types": {"billing_cycle_end": False, "limit_warning": True}, "thresholds": [100, 90]}
    response = world.request("PUT", PATH, tenant.key, json=body)
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["types"] == {**ALL_ON, "billing_cycle_end": False}
    assert saved["thresholds"] == [90, 100]
    assert saved["available_thresholds"] == [75, 90, 100]
    assert saved["updated_at"] is not None
    assert _preferences(world, tenant) == saved

    shown = [("payment_failed", None), ("limit_exceeded", 100), ("limit_warning", 90)]
    assert kinds(world, tenant) == shown
    assert kinds(world, tenant, include_read="true") == shown
    # A muted notice's id (listed before it was muted) can still be marked read.
    marked = world.request(
        "POST", "/notifications/mark-read", tenant.key, json={"notification_ids": [ids[0]]}
    )
    assert marked.status_code == 200, marked.text

    # An empty body turns everything back on: the notices were never gone, only muted.
    reset = world.request("PUT", PATH, tenant.key, json={})
    assert reset.status_code == 200, reset.text
    assert (reset.json()["types"], reset.json()["thresholds"]) == (ALL_ON, [75, 90, 100])
    assert kinds(world, tenant) == ALL_KINDS[:-1]  # the 75 % warning was marked read
    assert kinds(world, tenant, include_read="true") == ALL_KINDS


def test_changes_are_recorded_as_the_key_that_made_them(world: World) -> None:
    tenant = world.tenant()
    response = world.request("PUT", PATH, tenant.key, json={"thresholds": []})
    assert response.status_code == 200, response.text
    [entry] = world.control().audit_entries(entity="notification_preferences", entity_id=tenant.id)
    assert entry.action == "notification_preferences.set"
    assert entry.actor.startswith("api:")
    assert entry.after is not None
    assert entry.after["muted_thresholds"] == [75, 90, 100]


def test_an_admin_acts_for_the_customer_it_names(world: World) -> None:
    tenant, other = world.tenant(), world.tenant()
    raise_notices(world, tenant)
    raise_notices(world, other)
    body = {"types": {"payment_failed": False}}
    response = world.as_admin("PUT", PATH, tenant.id, json=body)
    assert response.status_code == 200, response.text
    assert world.as_admin("GET", PATH, tenant.id).json()["types"]["payment_failed"] is False
    assert ("payment_failed", None) not in kinds(world, tenant)
    # Nobody else's preferences or notices change.
    assert _preferences(world, other)["types"] == ALL_ON
    assert kinds(world, other) == ALL_KINDS
    # A customer's key acts for its own customer only; an admin key must name one.
    forbidden = world.request("PUT", PATH, other.key, json=body, params={"customer_id": tenant.id})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden_customer"
    unnamed = world.request("GET", PATH, world.admin_key)
    assert unnamed.status_code == 400
    assert unnamed.json()["error"]["code"] == "customer_required"
    unknown = world.as_admin("GET", PATH, "cus_nobody")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_customer"


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        (
            {"types": {"limit_warnings": False}},
            422,
            "invalid_value",
            "unknown notification type 'limit_warnings'; the types are: limit_warning, "
            "limit_exceeded, billing_cycle_end, payment_failed, subscription_cancelled",
        ),
        (
            {"thresholds": [75, 80]},
            422,
            "invalid_value",
            "80 is not one of the alert thresholds; choose among 75, 90, 100",
        ),
        ({"types": {"limit_warning": "no"}}, 400, "invalid_request", "types.limit_warning"),
        ({"thresholds": ["90"]}, 400, "invalid_request", "thresholds.0"),
        ({"thresholds": 90}, 400, "invalid_request", "thresholds"),
        ({"channels": ["email"]}, 400, "invalid_request", "channels"),
        ([], 400, "invalid_request", "body"),
    ],
    ids=[
        "unknown type",
        "unknown threshold",
        "not a boolean",
        "threshold as text",
        "threshold not a list",
        "unknown field",
        "not an object",
    ],
)
def test_bad_preferences_are_refused_saying_what_is_allowed(
    world: World, body: Any, status: int, code: str, says: str
) -> None:
    tenant = world.tenant()
    response = world.request("PUT", PATH, tenant.key, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert says in error["message"]
    assert error["hint"]
    assert _preferences(world, tenant)["updated_at"] is None  # nothing was changed

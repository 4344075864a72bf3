"""Notification preferences: which notices a customer receives, by type and alert threshold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tollgate.billing.alerts import BUDGET_REACHED, LIMIT_EXCEEDED, LIMIT_WARNING, SPEND_ALERT
from tollgate.billing.catalogue import Catalogue
from tollgate.billing.catalogue.model import AlertLevel, AlertThreshold
from tollgate.control.errors import InvalidValueError, UnknownCustomerError
from tollgate.control.models import BILLING_CYCLE_END, NOTIFICATION_TYPES
from tollgate.control.service import ControlService
from tollgate.stripe_webhooks.invoices import PAYMENT_FAILED
from tollgate.stripe_webhooks.subscriptions import SUBSCRIPTION_CANCELLED

from .conftest import Clock


@pytest.fixture
def customer(service: ControlService) -> str:
    service.create_customer("cus_1", name="Acme")
    return "cus_1"


def test_the_types_are_every_kind_of_notice_raised() -> None:
    assert NOTIFICATION_TYPES == (
        LIMIT_WARNING,
        LIMIT_EXCEEDED,
        BILLING_CYCLE_END,
        PAYMENT_FAILED,
        SUBSCRIPTION_CANCELLED,
        SPEND_ALERT,
        BUDGET_REACHED,
    )


def test_by_default_every_notice_is_received(service: ControlService, customer: str) -> None:
    preferences = service.notification_preferences(customer)
    assert preferences.types == dict.fromkeys(NOTIFICATION_TYPES, True)
    assert preferences.thresholds == (75, 90, 100)
    assert preferences.muted_thresholds == ()
    assert preferences.updated_at is None
    for kind, percent in [(LIMIT_WARNING, 75), (LIMIT_EXCEEDED, 100), (BILLING_CYCLE_END, None)]:
        assert preferences.receives(kind, percent)
    assert preferences.receives("a_type_added_later", None)


def test_muting_types_and_thresholds_persists(
    service: ControlService, engine: Engine, customer: str, clock: Clock
) -> None:
    saved = service.set_notification_preferences(
        customer, types={BILLING_CYCLE_END: False, LIMIT_WARNING: True}, thresholds=[100, 90]
    )
    again = ControlService(engine, service.catalogue, actor="someone else")
    stored = again.notification_preferences(customer)
    assert stored == saved
    assert stored.types == {**dict.fromkeys(NOTIFICATION_TYPES, True), BILLING_CYCLE_END: False}
    assert stored.thresholds == (90, 100)
    assert stored.muted_thresholds == (75,)
    assert stored.updated_at == clock.now
    assert not stored.receives(BILLING_CYCLE_END, None)
    assert not stored.receives(LIMIT_WARNING, 75)
    assert stored.receives(LIMIT_WARNING, 90)
    assert stored.receives(LIMIT_EXCEEDED, 100)
    assert stored.receives(PAYMENT_FAILED, None)

    # Each call replaces the whole choice: what it leaves out is on again.
    clock.advance(timedelta(minutes=5))
    reset = service.set_notification_preferences(customer)
    assert reset.types == dict.fromkeys(NOTIFICATION_TYPES, True)
    assert reset.thresholds == (75, 90, 100)
    assert reset.updated_at == clock.now
    assert service.notification_preferences(customer) == reset


def test_changes_are_audited_and_a_repeat_is_not(service: ControlService, customer: str) -> None:
    service.set_notification_preferences(customer, types={LIMIT_WARNING: False})
    service.set_notification_preferences(customer, types={LIMIT_WARNING: False})
    service.set_notification_preferences(customer, thresholds=[100])
    entries = service.audit_entries(entity="notification_preferences", entity_id=customer)
    assert [e.action for e in entries] == ["notification_preferences.set"] * 2
    second, first = entries
    assert first.before is None
    assert first.after is not None
    assert first.after["muted_types"] == [LIMIT_WARNING]
    assert first.after["muted_thresholds"] == []
    assert second.before == first.after
    assert second.after is not None
    assert second.after["muted_types"] == []
    assert second.after["muted_thresholds"] == [75, 90]
    assert {e.actor for e in entries} == {"tests:alice"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"types": {"limit_warnings": False}},
            "unknown notification type 'limit_warnings'; the types are: limit_warning, "
            "limit_exceeded, billing_cycle_end, payment_failed, subscription_cancelled, "
            "spend_alert, budget_reached",
        ),
        (
            {"types": {LIMIT_WARNING: "no"}},
            "notification type 'limit_warning' must be turned on \\(true\\) or off \\(false\\)",
        ),
        (
            {"thresholds": [75, 80]},
            "80 is not one of the alert thresholds; choose among 75, 90, 100",
        ),
        ({"thresholds": [True]}, "True is not one of the alert thresholds"),
    ],
    ids=["unknown type", "not a boolean", "unknown threshold", "boolean threshold"],
)
def test_bad_preferences_are_refused_and_change_nothing(
    service: ControlService, customer: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        service.set_notification_preferences(customer, **changes)  # type: ignore[arg-type]
    assert service.notification_preferences(customer).updated_at is None
    assert service.audit_entries(entity="notification_preferences") == []


def test_an_unknown_customer_is_refused(service: ControlService) -> None:
    with pytest.raises(UnknownCustomerError):
        service.notification_preferences("cus_nobody")
    with pytest.raises(UnknownCustomerError):
        service.set_notification_preferences("cus_nobody", types={LIMIT_WARNING: False})


def test_a_threshold_the_catalogue_adds_later_is_heard(
    service: ControlService, engine: Engine, catalogue: Catalogue, customer: str
) -> None:
    service.set_notification_preferences(customer, thresholds=[90, 100])
    more = catalogue.model_copy(
        update={
            "alert_thresholds": (
                AlertThreshold(percent=50, level=AlertLevel.WARNING),
                *catalogue.alert_thresholds,
            )
        }
    )
    later = ControlService(engine, more, actor="tests").notification_preferences(customer)
    assert later.thresholds == (50, 90, 100)
    assert later.receives(LIMIT_WARNING, 50)
    assert not later.receives(LIMIT_WARNING, 75)

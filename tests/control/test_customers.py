"""Customers: created, changed, listed, each change audited with who, before and after."""

from __future__ import annotations

import pytest

from tollgate.control.errors import ConflictError, InvalidValueError, UnknownCustomerError
from tollgate.control.service import ControlService


def test_create_customer_stores_it_and_audits_it(service: ControlService) -> None:
    customer = service.create_customer(
        "cus_1",
        name="Acme GmbH",
        email="billing@acme.example",
        timezone="Europe/Berlin",
        currency="EUR",
    )
    assert customer.currency == "eur"
    assert service.get_customer("cus_1") == customer
    [entry] = service.audit_entries(entity="customer", entity_id="cus_1")
    assert (entry.actor, entry.action, entry.before) == ("tests:alice", "customer.create", None)
    assert entry.after is not None
    assert entry.after["timezone"] == "Europe/Berlin"
    assert entry.after["created_at"] == customer.created_at.isoformat()


def test_update_customer_records_before_and_after(service: ControlService) -> None:
    service.create_customer("cus_1", name="Acme")
    updated = service.update_customer("cus_1", name="Acme Inc", timezone="America/New_York")
    assert (updated.name, updated.timezone) == ("Acme Inc", "America/New_York")
    entry = service.audit_entries(entity="customer", entity_id="cus_1")[0]
    assert entry.action == "customer.update"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["name"], entry.after["name"]) == ("Acme", "Acme Inc")
    assert (entry.before["timezone"], entry.after["timezone"]) == ("UTC", "America/New_York")


def test_list_customers_in_id_order(service: ControlService) -> None:
    for customer_id in ("cus_b", "cus_a", "cus_c"):
        service.create_customer(customer_id, name=customer_id)
    assert [c.id for c in service.list_customers()] == ["cus_a", "cus_b", "cus_c"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'; use an IANA name"),
        ({"currency": "dollars"}, "'dollars' is not a currency; use a 3-letter ISO 4217 code"),
        ({"email": "not-an-email"}, "'not-an-email' is not an email address"),
        ({"name": "   "}, "a customer name must be 1 to 200 characters"),
    ],
)
def test_invalid_customer_fields_are_refused_with_the_fix(
    service: ControlService, kwargs: dict[str, str], message: str
) -> None:
    values = {"name": "Acme", **kwargs}
    with pytest.raises(InvalidValueError, match=message):
        service.create_customer("cus_1", **values)
    assert service.list_customers() == []
    assert service.audit_entries() == []


def test_a_customer_id_events_could_not_carry_is_refused(service: ControlService) -> None:
    with pytest.raises(InvalidValueError, match="without surrounding spaces"):
        service.create_customer(" cus_1", name="Acme")
    with pytest.raises(InvalidValueError, match="at most 255"):
        service.create_customer("c" * 256, name="Acme")


def test_duplicate_and_unknown_customers(service: ControlService) -> None:
    service.create_customer("cus_1", name="Acme")
    with pytest.raises(ConflictError, match="customer 'cus_1' already exists"):
        service.create_customer("cus_1", name="Other")
    with pytest.raises(UnknownCustomerError, match="no customer 'cus_404'; create it first"):
        service.get_customer("cus_404")
    with pytest.raises(UnknownCustomerError):
        service.update_customer("cus_404", name="x")


def test_currency_is_fixed_once_subscribed(service: ControlService) -> None:
    service.create_customer("cus_1", name="Acme")
    assert service.update_customer("cus_1", currency="eur").currency == "eur"
    service.update_customer("cus_1", currency="usd")
    service.subscribe("cus_1", "starter")
    with pytest.raises(ConflictError, match="its currency cannot change"):
        service.update_customer("cus_1", currency="eur")


def test_time_zone_is_fixed_once_subscribed(service: ControlService) -> None:
    service.create_customer("cus_1", name="Acme", timezone="Europe/Berlin")
    service.subscribe("cus_1", "starter")
    with pytest.raises(ConflictError, match="its timezone cannot change"):
        service.update_customer("cus_1", timezone="America/Los_Angeles")
    assert service.get_customer("cus_1").timezone == "Europe/Berlin"


def test_notification_read_once_and_audited_once(service: ControlService) -> None:
    service.create_customer("cus_1", name="Acme")
    first = service.mark_notification_read("cus_1", "limit-90-api_calls-2026-01")
    service.mark_notification_read("cus_1", "limit-90-api_calls-2026-01")
    assert service.read_notifications("cus_1") == {"limit-90-api_calls-2026-01": first}
    reads = service.audit_entries(entity="notification")
    assert [(e.action, e.entity_id) for e in reads] == [
        ("notification.read", "cus_1/limit-90-api_calls-2026-01")
    ]
    with pytest.raises(UnknownCustomerError):
        service.mark_notification_read("cus_404", "n1")

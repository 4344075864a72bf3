"""Subscriptions: subscribe, change plan (prorated now or scheduled), cancel, history."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tollgate.billing.catalogue import Catalogue
from tollgate.billing.catalogue.model import CycleAnchor, Interval
from tollgate.billing.cycles import CycleRule
from tollgate.billing.proration import prorate_change, stretch_amount
from tollgate.control.errors import (
    ConflictError,
    UnknownCustomerError,
    UnknownPlanNameError,
    UnknownSubscriptionError,
)
from tollgate.control.models import When
from tollgate.control.service import ControlService

from .conftest import Clock

JAN_10 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
JAN_20 = datetime(2026, 1, 20, 15, 30, tzinfo=UTC)
FEB_10 = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def subscribed(service: ControlService) -> str:
    service.create_customer("cus_1", name="Acme")
    return service.subscribe("cus_1", "starter", at=JAN_10).id


def test_subscribe_starts_the_plan_and_audits_it(service: ControlService, subscribed: str) -> None:
    sub = service.get_subscription(subscribed)
    assert (sub.customer_id, sub.status, sub.started_at, sub.billing_anchor) == (
        "cus_1",
        "active",
        JAN_10,
        JAN_10,
    )
    assert service.plan_at(subscribed, JAN_10) == "starter"
    assert service.plan_at(subscribed, JAN_10 - timedelta(seconds=1)) is None
    [entry] = service.audit_entries(entity="subscription")
    assert (entry.action, entry.actor, entry.entity_id, entry.before) == (
        "subscription.create",
        "tests:alice",
        subscribed,
        None,
    )
    assert entry.after is not None
    assert entry.after["plans"] == [
        {
            "subscription_id": subscribed,
            "plan": "starter",
            "effective_from": JAN_10.isoformat(),
            "effective_to": None,
        }
    ]


def test_upgrade_now_stores_the_proration_the_billing_model_computes(
    service: ControlService, subscribed: str, catalogue: Catalogue
) -> None:
    change = service.change_plan(subscribed, "professional", at=JAN_20)

    cycle = CycleRule(JAN_10).cycle_at(JAN_20)
    expected = prorate_change(
        catalogue.plan("starter").base_price,
        catalogue.plan("professional").base_price,
        cycle,
        JAN_20,
    )
    assert change.timing is When.NOW
    assert (change.credit, change.charge) == (expected.credit, expected.charge)
    assert change.credit < 0 < change.charge
    assert service.plan_changes(subscribed) == [change]
    assert service.plan_at(subscribed, JAN_20 - timedelta(microseconds=1)) == "starter"
    assert service.plan_at(subscribed, JAN_20) == "professional"
    entry = service.audit_entries(entity="subscription", entity_id=subscribed)[0]
    assert entry.action == "subscription.change_plan"
    assert entry.before is not None
    assert entry.after is not None
    assert [p["plan"] for p in entry.before["plans"]] == ["starter"]
    assert [p["plan"] for p in entry.after["plans"]] == ["starter", "professional"]
    assert entry.after["change"]["credit"] == expected.credit


def test_downgrade_is_scheduled_at_period_end_as_a_future_plan_row(
    service: ControlService, subscribed: str
) -> None:
    change = service.change_plan(subscribed, "free", at=JAN_20)
    assert (change.timing, change.at, change.credit, change.charge) == (
        When.PERIOD_END,
        FEB_10,
        0,
        0,
    )
    history = service.plan_history(subscribed)
    assert [(p.plan, p.effective_from, p.effective_to) for p in history] == [
        ("starter", JAN_10, FEB_10),
        ("free", FEB_10, None),
    ]
    assert service.plan_at(subscribed, FEB_10 - timedelta(microseconds=1)) == "starter"
    assert service.plan_at(subscribed, FEB_10) == "free"


def test_a_new_change_replaces_a_scheduled_one(service: ControlService, subscribed: str) -> None:
    service.change_plan(subscribed, "free", at=JAN_20)
    service.change_plan(subscribed, "enterprise", at=JAN_20 + timedelta(days=1))
    assert [p.plan for p in service.plan_history(subscribed)] == ["starter", "enterprise"]
    assert [c.to_plan for c in service.plan_changes(subscribed)] == ["enterprise"]


def test_timing_can_be_chosen(service: ControlService, subscribed: str) -> None:
    upgrade_later = service.change_plan(subscribed, "enterprise", at=JAN_20, when=When.PERIOD_END)
    assert (upgrade_later.at, upgrade_later.charge) == (FEB_10, 0)
    downgrade_now = service.change_plan(subscribed, "free", at=JAN_20, when=When.NOW)
    assert downgrade_now.at == JAN_20
    assert downgrade_now.charge == 0  # free costs nothing for the rest of the cycle
    assert downgrade_now.credit < 0
    assert [p.plan for p in service.plan_history(subscribed)] == ["starter", "free"]


def test_cycles_follow_the_anchoring_override_and_the_customer_time_zone(
    service: ControlService,
) -> None:
    service.create_customer("cus_b", name="B", timezone="Europe/Berlin")
    sub = service.subscribe("cus_b", "starter", at=JAN_10, anchoring=CycleAnchor.CALENDAR)
    change = service.change_plan(sub.id, "free", at=JAN_20)
    # The 1st of February at midnight in Berlin is 23:00 UTC on January 31st.
    assert change.at == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    active = service.active_plan("cus_b", JAN_20)
    assert active is not None
    assert (active.cycle.start, active.cycle.end) == (JAN_10, change.at)


def test_cancel_now_credits_the_unused_base_price(
    service: ControlService, subscribed: str, catalogue: Catalogue
) -> None:
    sub = service.cancel(subscribed, at_period_end=False, at=JAN_20)
    assert (sub.status, sub.ended_at, sub.cancel_at) == ("canceled", JAN_20, None)
    [change] = service.plan_changes(subscribed)
    cycle = CycleRule(JAN_10).cycle_at(JAN_20)
    assert change.to_plan is None
    assert change.credit == -stretch_amount(
        catalogue.plan("starter").base_price, cycle, JAN_20, cycle.end
    )
    assert service.plan_at(subscribed, JAN_20) is None
    assert service.active_plan("cus_1", JAN_20) is None
    assert service.plan_history(subscribed)[-1].effective_to == JAN_20
    entry = service.audit_entries(entity_id=subscribed)[0]
    assert entry.action == "subscription.cancel"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["status"], entry.after["status"]) == ("active", "canceled")


def test_cancel_at_period_end_keeps_it_active_until_then(
    service: ControlService, subscribed: str
) -> None:
    service.change_plan(subscribed, "free", at=JAN_20)  # dropped: it would never start
    sub = service.cancel(subscribed, at_period_end=True, at=JAN_20)
    assert (sub.status, sub.cancel_at, sub.ended_at) == ("active", FEB_10, None)
    assert sub.active_at(FEB_10 - timedelta(microseconds=1))
    assert not sub.active_at(FEB_10)
    assert service.plan_at(subscribed, FEB_10) is None
    assert [p.plan for p in service.plan_history(subscribed)] == ["starter"]
    [change] = service.plan_changes(subscribed)
    assert (change.to_plan, change.at, change.credit) == (None, FEB_10, 0)
    with pytest.raises(ConflictError, match="already set to end at"):
        service.cancel(subscribed, at_period_end=True, at=JAN_20)
    with pytest.raises(ConflictError, match="would never take effect"):
        service.change_plan(subscribed, "free", at=JAN_20)
    # An upgrade still applies now, until the scheduled end.
    service.change_plan(subscribed, "professional", at=JAN_20)
    assert [(p.plan, p.effective_to) for p in service.plan_history(subscribed)] == [
        ("starter", JAN_20),
        ("professional", FEB_10),
    ]
    assert [c.to_plan for c in service.plan_changes(subscribed)] == ["professional", None]


def test_resubscribing_is_possible_only_after_the_end(
    service: ControlService, subscribed: str
) -> None:
    with pytest.raises(ConflictError, match="already has subscription"):
        service.subscribe("cus_1", "professional", at=JAN_20)
    service.cancel(subscribed, at_period_end=True, at=JAN_20)
    with pytest.raises(ConflictError, match="already has subscription"):
        service.subscribe("cus_1", "professional", at=JAN_20)
    again = service.subscribe("cus_1", "professional", at=FEB_10)
    active = service.active_plan("cus_1", FEB_10)
    assert active is not None
    assert (active.subscription.id, active.plan_name) == (again.id, "professional")


def test_changes_are_refused_with_reasons(
    service: ControlService, subscribed: str, engine: Engine, catalogue: Catalogue
) -> None:
    with pytest.raises(
        UnknownPlanNameError,
        match="no plan named 'gold'; the catalogue has: "
        "enterprise, free, pay_per_use, professional, starter",
    ):
        service.change_plan(subscribed, "gold", at=JAN_20)
    with pytest.raises(ConflictError, match="already on plan 'starter'"):
        service.change_plan(subscribed, "starter", at=JAN_20)
    with pytest.raises(ConflictError, match="starts at"):
        service.change_plan(subscribed, "free", at=JAN_10 - timedelta(days=1))
    with pytest.raises(UnknownSubscriptionError, match="no subscription 'sub_nope'"):
        service.change_plan("sub_nope", "free")
    with pytest.raises(UnknownCustomerError):
        service.subscribe("cus_404", "free")
    service.change_plan(subscribed, "enterprise", at=JAN_20)
    with pytest.raises(ConflictError, match="changes must be recorded in time order"):
        service.change_plan(subscribed, "professional", at=JAN_20 - timedelta(days=1))
    service.cancel(subscribed, at_period_end=False, at=JAN_20 + timedelta(days=1))
    with pytest.raises(ConflictError, match="was canceled at"):
        service.cancel(subscribed, at_period_end=False, at=JAN_20 + timedelta(days=2))
    service.create_customer("cus_e", name="E", currency="eur")
    with pytest.raises(ConflictError, match="priced in usd but customer 'cus_e' is billed in eur"):
        service.subscribe("cus_e", "starter")
    with pytest.raises(ValueError, match="has no time zone"):
        service.subscribe("cus_1", "starter", at=datetime(2026, 3, 1))
    refused = [e for e in service.audit_entries(limit=100) if e.entity_id == "cus_e"]
    assert [e.action for e in refused] == ["customer.create"]


def test_a_change_between_cycle_layouts_is_refused(
    engine: Engine, catalogue: Catalogue, clock: Clock
) -> None:
    yearly = catalogue.plans["professional"].model_copy(update={"interval": Interval.YEAR})
    plans = {**catalogue.plans, "professional_yearly": yearly}
    service = ControlService(
        engine, catalogue.model_copy(update={"plans": plans}), actor="tests:alice", clock=clock
    )
    service.create_customer("cus_1", name="Acme")
    subscription = service.subscribe("cus_1", "starter", at=JAN_10)
    with pytest.raises(ConflictError, match="lay out billing cycles differently"):
        service.change_plan(subscription.id, "professional_yearly", at=JAN_20)
    assert service.plan_at(subscription.id, FEB_10) == "starter"


def test_a_change_already_in_effect_cannot_be_undercut(
    service: ControlService, subscribed: str, clock: Clock
) -> None:
    service.change_plan(subscribed, "free", at=JAN_20)  # scheduled for FEB_10
    clock.advance(timedelta(days=40))  # ... which has now happened
    with pytest.raises(ConflictError, match="changes must be recorded in time order"):
        service.cancel(subscribed, at_period_end=False, at=JAN_20 + timedelta(days=1))


def test_two_concurrent_subscribes_for_one_customer_admit_one(
    engine: Engine, catalogue: Catalogue
) -> None:
    setup = ControlService(engine, catalogue, actor="setup")
    setup.create_customer("cus_race", name="Race")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def subscribe(plan: str) -> None:
        racer = ControlService(engine, catalogue, actor=f"racer:{plan}")
        barrier.wait()
        try:
            racer.subscribe("cus_race", plan, at=JAN_10)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=subscribe, args=(p,)) for p in ("starter", "free")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "ok"]
    assert len(setup.list_subscriptions("cus_race")) == 1

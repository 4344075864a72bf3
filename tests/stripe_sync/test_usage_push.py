"""Usage reaches Stripe's meters exactly once: across re-runs, retries, faults and crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.stripe_sync.conftest import World
from tollgate.stripe_sync.meter_targets import CycleUsage, MeterTarget, meter_targets
from tollgate.stripe_sync.report_ledger import Pending, ReportLedger
from tollgate.stripe_sync.usage_push import PushResult, UsagePusher

CYCLE_START = datetime(2026, 3, 1, tzinfo=UTC)
CYCLE_END = datetime(2026, 4, 1, tzinfo=UTC)
METER_EVENTS = "/v1/billing/meter_events"


def targets(world: World, tokens: str, *, start: datetime = CYCLE_START) -> list[MeterTarget]:
    end = start + (CYCLE_END - CYCLE_START)
    cycle = f"cus_1/{start:%Y-%m-%dT%H:%M:%SZ}"
    row = CycleUsage("cus_1", cycle, start, end, "starter", "ai_tokens", None, Decimal(tokens))
    return meter_targets([row], world.catalogue)


def push(
    world: World, found: list[MeterTarget], stripe_customer: str, attempts: int = 4
) -> PushResult:
    pusher = UsagePusher(
        world.client, ReportLedger(world.engine), attempts=attempts, clock=world.now
    )
    return pusher.push(found, {"cus_1": stripe_customer})


def total(world: World, customer: str) -> int:
    return world.meter_total("tollgate_ai_tokens", customer, CYCLE_START, CYCLE_END)


def test_billable_usage_is_sent_once_and_a_rerun_sends_nothing(world: World) -> None:
    customer = world.stripe_customer("Acme")

    first = push(world, targets(world, "150000"), customer)
    again = push(world, targets(world, "150000"), customer)

    assert first.summary() == {"sent": 1}
    assert again.summary() == {"unchanged": 1}
    assert total(world, customer) == 50_000  # 150,000 used, 100,000 included
    assert world.standin.request_count("POST", METER_EVENTS) == 1


def test_new_usage_sends_only_the_difference(world: World) -> None:
    customer = world.stripe_customer("Acme")
    push(world, targets(world, "150000"), customer)

    result = push(world, targets(world, "162500"), customer)

    assert [(o.status, o.quantity) for o in result.outcomes] == [("sent", Decimal(12_500))]
    assert total(world, customer) == 62_500


@pytest.mark.parametrize(("fault", "requests"), [("429", 3), ("500", 3), ("timeout", 2)])
def test_rate_limits_errors_and_timeouts_are_retried_without_counting_twice(
    world: World, fault: str, requests: int
) -> None:
    customer = world.stripe_customer("Acme")
    world.standin.inject_fault("POST", METER_EVENTS, fault, count=requests - 1, hold_seconds=4)

    result = push(world, targets(world, "150000"), customer)

    assert result.summary() == {"sent": 1}
    assert world.standin.request_count("POST", METER_EVENTS) == requests
    assert total(world, customer) == 50_000


def test_a_response_lost_after_stripe_kept_the_event_is_not_counted_twice(world: World) -> None:
    customer = world.stripe_customer("Acme")
    world.standin.inject_fault("POST", METER_EVENTS, "lost_response", count=1)

    result = push(world, targets(world, "150000"), customer)

    assert result.summary() == {"sent": 1}
    assert world.standin.request_count("POST", METER_EVENTS) == 2
    assert total(world, customer) == 50_000


def test_a_push_that_died_after_stripe_kept_the_event_is_healed_by_the_next(
    world: World,
) -> None:
    customer = world.stripe_customer("Acme")
    # Stripe keeps the event, the answer never arrives, and this push gives up (as a crash
    # would leave it): the ledger still holds the event as pending.
    world.standin.inject_fault("POST", METER_EVENTS, "lost_response", count=1)
    crashed = push(world, targets(world, "150000"), customer, attempts=1)
    assert crashed.summary() == {"failed": 1}

    # By the next run more usage arrived: the pending event goes first, then the rest.
    healed = push(world, targets(world, "170000"), customer)

    assert [(o.status, o.quantity) for o in healed.outcomes] == [
        ("resent", Decimal(50_000)),
        ("sent", Decimal(20_000)),
    ]
    assert total(world, customer) == 70_000


def test_cycles_past_stripes_35_days_are_left_out_after_being_reported_late(
    world: World,
) -> None:
    customer = world.stripe_customer("Acme")
    recent_end = world.now() - timedelta(days=34)  # late (Stripe's invoice is final), listed
    ancient_end = world.now() - timedelta(days=36)  # listed as late by every run until now

    recent = push(world, targets(world, "150000", start=recent_end - timedelta(days=31)), customer)
    ancient = push(
        world, targets(world, "150000", start=ancient_end - timedelta(days=31)), customer
    )

    (late,) = recent.outcomes
    assert (late.status, late.quantity) == ("late", Decimal(50_000))
    assert ancient.outcomes == []
    assert world.standin.request_count("POST", METER_EVENTS) == 0


def test_customers_not_in_stripe_are_reported_not_dropped(world: World) -> None:
    pusher = UsagePusher(world.client, ReportLedger(world.engine), clock=world.now)

    result = pusher.push(targets(world, "150000"), {})

    assert [(o.status, o.quantity) for o in result.outcomes] == [
        ("no_stripe_customer", Decimal(50_000))
    ]


def test_with_a_fifth_of_calls_failing_stripe_ends_up_holding_tollgates_usage_to_the_unit(
    world: World,
) -> None:
    customers = {f"cus_{n}": world.stripe_customer(f"Customer {n}") for n in range(12)}
    rows = [
        CycleUsage(
            customer,
            f"{customer}/2026-03-01T00:00:00Z",
            CYCLE_START,
            CYCLE_END,
            plan,
            feature,
            None,
            Decimal(quantity) + n,
        )
        for n, customer in enumerate(customers)
        for plan in ["professional"]
        for feature, quantity in (
            ("ai_tokens", "612345"),
            ("api_calls", "73001"),
            ("storage", "61.5"),
        )
    ]
    wanted = meter_targets(rows, world.catalogue)
    for kind, seed in (("429", 1), ("500", 2), ("lost_response", 3)):
        world.standin.inject_fault("POST", METER_EVENTS, kind, count=1000, rate=0.07, seed=seed)
    pusher = UsagePusher(world.client, ReportLedger(world.engine), attempts=3, clock=world.now)

    # Pushes as the hourly runs would, until nothing fails (a run may give up on an event
    # after three attempts: the next one resends it).
    for _ in range(5):
        result = pusher.push(wanted, customers)
        if not result.of("failed"):
            break
    world.standin.clear_faults()
    final = pusher.push(wanted, customers)

    assert final.summary() == {"unchanged": len(wanted)}
    requests = world.standin.request_count("POST", METER_EVENTS)
    assert requests > len(wanted)  # faults did happen, and were retried
    for target in wanted:
        held = world.meter_total(
            target.event_name, customers[target.customer_id], CYCLE_START, CYCLE_END
        )
        assert held == target.value, target


def test_usage_for_a_period_stripe_has_already_invoiced_is_reported_late(world: World) -> None:
    customer = world.stripe_customer("Acme")
    # The cycle ended two hours ago: past Stripe's one-hour finalization grace period.
    ended = world.now() - timedelta(hours=2)
    start = ended - (CYCLE_END - CYCLE_START)

    result = push(world, targets(world, "150000", start=start), customer)

    (late,) = result.outcomes
    assert (late.status, late.quantity) == ("late", Decimal(50_000))
    assert "finalization grace period" in late.detail
    assert world.standin.request_count("POST", METER_EVENTS) == 0


def test_an_event_pending_for_over_a_day_is_not_resent_blindly(world: World) -> None:
    customer = world.stripe_customer("Acme")
    world.standin.inject_fault("POST", METER_EVENTS, "lost_response", count=1)
    push(world, targets(world, "150000"), customer, attempts=1)
    world.standin.advance(25 * 3600)  # Stripe may have forgotten the identifier by now

    result = push(world, targets(world, "150000"), customer)

    (stale,) = result.outcomes
    assert (stale.status, stale.quantity) == ("stale_pending", Decimal(50_000))
    assert world.standin.request_count("POST", METER_EVENTS) == 1


def test_a_second_pusher_cannot_claim_a_row_the_first_changed(world: World) -> None:
    ledger = ReportLedger(world.engine)
    key = ("cus_1", "cus_1/2026-03-01T00:00:00Z", "tollgate_ai_tokens")
    seen_by_both = ledger.get(key)
    first = Pending("tg_a", 10, world.now())
    second = Pending("tg_b", 10, world.now())

    assert ledger.hold(key, seen_by_both, first, world.now())
    assert not ledger.hold(key, seen_by_both, second, world.now())
    ledger.accepted(key, "tg_a", world.now())
    ledger.accepted(key, "tg_a", world.now())  # settled twice: counted once

    assert ledger.get(key).reported == 10


def test_when_a_pending_event_turns_late_all_stripe_may_lack_is_reported(world: World) -> None:
    customer = world.stripe_customer("Acme")
    ends_soon = world.now() + timedelta(minutes=30)
    start = ends_soon - (CYCLE_END - CYCLE_START)
    world.standin.inject_fault("POST", METER_EVENTS, "lost_response", count=1)
    push(world, targets(world, "150000", start=start), customer, attempts=1)
    world.standin.advance(2 * 3600)  # the cycle ended, and Stripe's grace hour passed

    result = push(world, targets(world, "170000", start=start), customer)

    (late,) = result.outcomes
    assert (late.status, late.quantity) == ("late", Decimal(70_000))

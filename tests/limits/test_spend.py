"""Spend alerts and budgets in the live limit engine (``tollgate.limits.spend``).

Engine-level tests drive a ``LimitEngine`` directly, on a clock of their own, over a SQLite
control plane (no publication: the cycle's draft is rebuilt from its parts, as the billing
summary does). The last test runs the real app over a real pipeline run, so the spend starts
from a published draft, and holds the engine's figure to ``GET /api/billing/summary``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.billing_api.world import World, running_world
from tests.support.server import wait_until
from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.identifiers import notification_id
from tollgate.billing.pricing import usage_charge
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.limits.engine import BUDGET_EXCEEDED, Admission, LimitEngine, MeteredEvent

CATALOGUE = default_catalogue()
STARTER = CATALOGUE.plan("starter")  # base 2900; 100,000 tokens included, then 0.15 per token
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: START + timedelta(days=1, hours=1))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    control: ControlService
    clock: Clock
    engine: LimitEngine
    seq: int = 1
    stored: list[tuple[MeteredEvent, int, datetime]] = field(default_factory=list)

    def customer(self, plan: str = "starter", **thresholds: Any) -> str:
        customer_id = f"cus_{uuid.uuid4().hex[:8]}"
        self.control.create_customer(customer_id, name=customer_id)
        self.control.subscribe(customer_id, plan, at=START)
        if thresholds:
            self.control.set_spend_thresholds(customer_id, **thresholds)
        return customer_id

    def admit(self, customer_id: str, *events: tuple[str, int]) -> Admission:
        """Admits ``(event type, quantity)`` events, dated now, without committing them."""
        now = self.clock.now
        units = {"ai_tokens": "token", "api_call": "call", "storage": "GB"}
        metered = [
            MeteredEvent(customer_id, kind, units[kind], Decimal(quantity), now, {})
            for kind, quantity in events
        ]
        admission = self.engine.admit(metered, self.seq, now)
        refused = admission.refused_indexes
        self.stored.extend(
            (event, self.seq, now) for i, event in enumerate(metered) if i not in refused
        )
        return admission

    def send(self, customer_id: str, *events: tuple[str, int]) -> Admission:
        admission = self.admit(customer_id, *events)
        self.engine.commit(admission)
        return admission

    def spent(self, customer_id: str) -> int:
        status = self.engine.spend_status(customer_id)
        assert status is not None
        return status.spent

    def restart(self) -> LimitEngine:
        """A new engine counting what was stored, as the server's start-up does."""
        engine = LimitEngine(self.control, CATALOGUE, clock=self.clock)
        engine.terms.preload(self.clock.now)
        engine.load_spend_thresholds()
        for event, seq, received_at in self.stored:
            engine.count_stored(event, seq, received_at)
        engine.queue_crossed_by_live_usage()
        self.engine = engine
        return engine

    def raise_spend(self, customer_id: str) -> int:
        """Records the queued notices; how many new spend notices of the customer that made."""

        def count() -> int:
            return len(self.raised(customer_id, "spend_alert")) + len(
                self.raised(customer_id, "budget_reached")
            )

        before = count()
        self.engine.raise_pending()  # the usage limits' notices too
        return count() - before

    def raised(self, customer_id: str, kind: str) -> list[tuple[datetime, str]]:
        return [
            (n.window_start, n.title)
            for n in self.control.raised_notifications(customer_id)
            if n.notification_type == kind
        ]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    engine = open_control_database(f"sqlite:///{tmp_path / 'control.sqlite'}")
    control = ControlService(engine, CATALOGUE, actor="tests")
    clock = Clock()
    yield Rig(control, clock, LimitEngine(control, CATALOGUE, clock=clock))
    engine.dispose()


def tokens_charge(quantity: int) -> int:
    return usage_charge(STARTER, "ai_tokens", Decimal(quantity)).amount


def test_the_budget_refuses_exactly_the_event_that_would_pass_it(rig: Rig) -> None:
    customer = rig.customer(alerts=[], budget=3000)
    rig.engine.load_spend_thresholds()
    assert rig.spent(customer) == STARTER.base_price == 2900

    admission = rig.send(
        customer,
        ("ai_tokens", 100_000),  # included: free
        ("ai_tokens", 500),  # 75 -> 2975
        ("ai_tokens", 200),  # 30 -> 3005: past the budget, refused
        ("ai_tokens", 100),  # 15 -> 2990
        ("api_call", 9_999),  # included: free
        ("ai_tokens", 67),  # 100,667 tokens: 100.05 -> 100, so 10 more: exactly 3000
        ("api_call", 1),  # the 10,000th call: still included, accepted at the budget
        ("api_call", 1),  # the first billable package (8): refused
    )

    assert admission.refused_indexes == {2, 7}
    assert {r.code for r in admission.refused} == {BUDGET_EXCEEDED}
    first = admission.refused[0]
    assert first.feature == "ai_tokens"
    assert "$30.00" in first.reason
    assert "$29.75" in first.reason
    status = rig.engine.spend_status(customer)
    assert status is not None
    assert first.resets_at == status.cycle_end
    assert status.cycle_end.isoformat().replace("+00:00", "Z") in first.reason
    assert rig.spent(customer) == 3000 == 2900 + tokens_charge(100_667)
    # The same answer from the limit check: cost-free use allowed, billable use not.
    assert rig.engine.check(customer, "ai_tokens", Decimal(1)).allowed  # 100.2 -> 100: free
    refused = rig.engine.check(customer, "ai_tokens", Decimal(10))
    assert not refused.allowed
    assert refused.reason.startswith("budget reached")
    assert not rig.engine.check(customer, "api_calls", Decimal(1)).allowed
    assert rig.engine.check(customer, "storage", Decimal(5)).allowed  # 10 GB included
    # One budget_reached notice, however often the budget refused (beside the usage limits').
    rig.engine.check(customer, "api_calls", Decimal(1))
    rig.send(customer, ("api_call", 1))
    rig.engine.raise_pending()
    [(window_start, title)] = rig.raised(customer, "budget_reached")
    assert window_start == status.cycle_start
    assert title == "Budget of $30.00 reached"


def test_an_alert_fires_once_per_cycle_and_amount_and_again_next_cycle(rig: Rig) -> None:
    customer = rig.customer(alerts=[2950, 5000], budget=None)
    rig.engine.load_spend_thresholds()
    rig.send(customer, ("ai_tokens", 100_000), ("ai_tokens", 300))  # 2945: below
    assert rig.raise_spend(customer) == 0
    rig.send(customer, ("ai_tokens", 100))  # 2960
    rig.send(customer, ("ai_tokens", 100))  # 2975: nothing new
    assert rig.raise_spend(customer) == 1
    rig.send(customer, ("ai_tokens", 10))
    assert rig.raise_spend(customer) == 0
    first = rig.engine.spend_status(customer)
    assert first is not None

    rig.clock.now = first.cycle_end + timedelta(hours=1)
    assert rig.spent(customer) == 2900  # a new cycle: its base fee only
    rig.send(customer, ("ai_tokens", 100_400))

    assert rig.raise_spend(customer) == 1
    second = rig.engine.spend_status(customer)
    assert second is not None
    assert second.cycle_start == first.cycle_end
    assert sorted(rig.raised(customer, "spend_alert")) == [
        (first.cycle_start, "Spend passed $29.50"),
        (second.cycle_start, "Spend passed $29.50"),
    ]


def test_a_restart_or_rebuild_never_fires_twice(rig: Rig) -> None:
    customer = rig.customer(alerts=[2950], budget=3100)
    rig.engine.load_spend_thresholds()
    rig.send(customer, ("ai_tokens", 100_000), ("ai_tokens", 1_000))  # 3050
    assert rig.raise_spend(customer) == 1
    spent = rig.spent(customer)
    assert spent == 2900 + tokens_charge(101_000)

    engine = rig.restart()

    assert rig.spent(customer) == spent
    kinds = [n.notification_type for n in engine.pending_notices()]
    assert [kind for kind in kinds if not kind.startswith("limit_")] == ["spend_alert"]
    assert rig.raise_spend(customer) == 0  # recorded before the restart: the same id
    # A rebuild (new publication) re-queues nothing new either, and keeps the figure.
    engine.use_publication(engine.published)
    assert rig.spent(customer) == spent
    assert rig.raise_spend(customer) == 0
    assert rig.send(customer, ("ai_tokens", 400)).refused  # 60 more -> 3110: past the budget
    assert rig.send(customer, ("ai_tokens", 300)).refused == []  # 45 -> 3095
    assert rig.raise_spend(customer) == 1  # the refusal's budget_reached
    assert len(rig.raised(customer, "spend_alert")) == 1
    rig.restart()
    assert rig.raise_spend(customer) == 0


def test_a_failed_write_takes_its_spend_back(rig: Rig) -> None:
    customer = rig.customer(alerts=[2950], budget=3000)
    rig.engine.load_spend_thresholds()
    rig.send(customer, ("ai_tokens", 100_000))

    admission = rig.admit(customer, ("ai_tokens", 500))  # 2975: would cross the alert
    assert rig.spent(customer) == 2975
    rig.engine.release(admission)

    assert rig.spent(customer) == 2900
    assert rig.raise_spend(customer) == 0
    # The released spend no longer counts against the budget.
    assert rig.send(customer, ("ai_tokens", 600)).refused == []  # 90 -> 2990


def test_an_alert_already_passed_fires_as_soon_as_it_is_set(rig: Rig) -> None:
    customer = rig.customer()
    rig.send(customer, ("ai_tokens", 101_000))  # 3050, unwatched
    assert rig.raise_spend(customer) == 0

    thresholds = rig.control.set_spend_thresholds(customer, alerts=[1000, 3000, 4000], budget=None)
    rig.engine.use_spend_thresholds({customer: thresholds}, [customer])

    status = rig.engine.spend_status(customer)
    assert status is not None
    assert sorted(n.notification_id for n in rig.engine.pending_notices()) == sorted(
        notification_id(customer, "spend_alert", None, status.cycle_start, amount)
        for amount in (1000, 3000)
    )


def test_customers_without_thresholds_keep_the_fast_lane(rig: Rig) -> None:
    plain, watched = rig.customer(), rig.customer(alerts=[10_000], budget=None)
    rig.engine.load_spend_thresholds()
    rig.send(plain, ("ai_tokens", 10))
    rig.send(watched, ("ai_tokens", 10))

    slots = rig.engine._lane.slots  # what the hot path takes
    assert plain in slots
    assert watched not in slots
    # Watching a customer drops its slot at once.
    thresholds = rig.control.set_spend_thresholds(plain, alerts=[10_000], budget=None)
    rig.engine.use_spend_thresholds({plain: thresholds}, [plain])
    assert plain not in slots
    rig.send(plain, ("ai_tokens", 10))
    assert plain not in slots
    assert rig.spent(plain) == rig.spent(watched) == 2900  # all included


# -- against the billing summary, over a real publication ----------------------------------


@pytest.fixture(scope="module")
def billed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("spend") / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'control.sqlite'}"
    with running_world("sqlite", url, data_dir) as world:
        yield world


def _spent(world: World, customer_id: str) -> dict[str, Any]:
    response = world.as_admin("GET", "/spend-thresholds", customer_id)
    assert response.status_code == 200, response.text
    spent: dict[str, Any] = response.json()["spent"]
    return spent


def _so_far(world: World, customer_id: str) -> dict[str, Any]:
    response = world.as_admin("GET", "/summary", customer_id)
    assert response.status_code == 200, response.text
    cost: dict[str, Any] = response.json()["cost"]
    return cost


def _event(customer_id: str, kind: str, quantity: int, **properties: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "customer_id": customer_id,
        "event_type": kind,
        "feature": "tests",
        "quantity": str(quantity),
        "unit": {"ai_tokens": "token", "api_call": "call", "storage": "GB"}[kind],
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": properties,
    }


@pytest.mark.parametrize(
    ("customer_id", "events"),
    [
        # professional: graduated tokens past the 500,000 included, calls past 50,000
        ("acme", [("ai_tokens", 600_000, {}), ("api_call", 10_001, {}), ("ai_tokens", 7, {})]),
        # pay per use: volume prices per model (a dimension), packages of calls
        (
            "pp",
            [
                ("ai_tokens", 1_000_000, {"model": "gpt-4o-mini"}),
                ("ai_tokens", 2_500, {"model": "llama-3-70b"}),
                ("api_call", 1_001, {}),
                ("ai_tokens", 3, {}),
            ],
        ),
    ],
)
def test_a_published_draft_plus_live_events_is_the_summary_s_cost_so_far(
    billed: World, customer_id: str, events: list[tuple[str, int, dict[str, str]]]
) -> None:
    before = _so_far(billed, customer_id)
    assert before["basis"] == "draft_invoice"
    put = billed.as_admin(
        "PUT", "/spend-thresholds", customer_id, json={"alerts": [{"amount": "100000.00"}]}
    )
    assert put.status_code == 200, put.text
    assert put.json()["spent"]["amount"] == before["so_far"]["amount"]

    for kind, quantity, properties in events:
        response = billed.ingest([_event(customer_id, kind, quantity, **properties)])
        assert response.status_code == 200, response.text
        # Watched from the PUT on: each event's marginal charge added to the state built
        # then, held to the summary's figure priced from scratch.
        assert _spent(billed, customer_id) == _so_far(billed, customer_id)["so_far"]

    after = _so_far(billed, customer_id)
    assert after["so_far"]["amount"] > before["so_far"]["amount"]
    # And a state rebuilt from the ledger says the same (thresholds changed: rebuilt).
    billed.as_admin("PUT", "/spend-thresholds", customer_id, json={"alerts": []})
    wait_until(
        lambda: _spent(billed, customer_id) == after["so_far"],
        timeout=5,
        what="the rebuilt spend",
    )

"""Whatever the batches, a hard limit is never passed and every accepted unit is counted."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.billing.catalogue import default_catalogue
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.limits.engine import Admission, LimitEngine, MeteredEvent

NOW = datetime.now(UTC)
CUSTOMERS = ("cus_free", "cus_starter")


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> ControlService:
    path: Path = tmp_path_factory.mktemp("control") / "control.sqlite"
    service = ControlService(
        open_control_database(f"sqlite:///{path}"), default_catalogue(), actor="tests"
    )
    for customer, plan in zip(CUSTOMERS, ("free", "starter"), strict=True):
        service.create_customer(customer, name=customer)
        service.subscribe(customer, plan, at=NOW - timedelta(days=2))
    return service


batches = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(CUSTOMERS),
            st.sampled_from([("api_call", "call"), ("ai_tokens", "token")]),
            st.integers(min_value=0, max_value=4_000),
        ),
        min_size=1,
        max_size=20,
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=80, deadline=None)
@given(
    batches=batches,
    in_flight=st.integers(min_value=1, max_value=3),  # requests waiting on the WAL at once
    per_segment=st.integers(min_value=1, max_value=4),  # requests written to one segment
    wal_fails_at=st.none() | st.integers(min_value=0, max_value=14),  # then every write fails
)
def test_hard_limits_hold_and_accepted_usage_is_counted_exactly(
    control: ControlService,
    batches: list[list[tuple[str, tuple[str, str], int]]],
    in_flight: int,
    per_segment: int,
    wal_fails_at: int | None,
) -> None:
    engine = LimitEngine(control, control.catalogue)
    accepted: dict[tuple[str, str], Decimal] = {}
    waiting: deque[tuple[int, list[MeteredEvent], Admission]] = deque()

    def settle_oldest() -> None:
        number, events, admission = waiting.popleft()
        if wal_fails_at is not None and number >= wal_fails_at:
            engine.release(admission)
            return
        refused = admission.refused_indexes
        for index, event in enumerate(events):
            if index not in refused:
                feature = "api_calls" if event.event_type == "api_call" else "ai_tokens"
                key = (event.customer_id, feature)
                accepted[key] = accepted.get(key, Decimal(0)) + event.quantity
        engine.commit(admission)

    for number, batch in enumerate(batches):
        events = [
            MeteredEvent(customer, event_type, unit, Decimal(quantity), NOW, {})
            for customer, (event_type, unit), quantity in batch
        ]
        admission = engine.admit(events, 1 + number // per_segment, NOW)
        for refusal in admission.refused:
            # Refused only when it would have passed the hard limit (counting requests still
            # in flight: they may yet be written).
            assert refusal.used + events[refusal.index].quantity > refusal.limit
        waiting.append((number, events, admission))
        if len(waiting) == in_flight:
            settle_oldest()
    while waiting:
        settle_oldest()

    for customer in CUSTOMERS:
        for status in engine.statuses(customer):
            used = accepted.get((customer, status.feature), Decimal(0))
            assert status.used == used
            if status.enforcement is not None and status.enforcement.value == "hard":
                assert status.limit is not None
                assert status.used <= status.limit
    raised = [notice.notification_id for notice in engine.pending_notices()]
    assert len(raised) == len(set(raised))  # no notice twice
    for customer in CUSTOMERS:
        # One notice per threshold reached, no more and no fewer.
        expected = sum(
            1
            for status in engine.statuses(customer)
            if status.limit is not None
            for threshold in (75, 90, 100)
            if status.used > 0 and status.used * 100 >= status.limit * threshold
        )
        assert sum(1 for n in engine.pending_notices() if n.customer_id == customer) == expected

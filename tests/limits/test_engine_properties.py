"""Whatever the batches, a hard limit is never passed and every accepted unit is counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.billing.catalogue import default_catalogue
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.limits.engine import LimitEngine, MeteredEvent

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
    st.tuples(
        st.booleans(),  # whether the batch became durable (False: the WAL failed, released)
        st.lists(
            st.tuples(
                st.sampled_from(CUSTOMERS),
                st.sampled_from([("api_call", "call"), ("ai_tokens", "token")]),
                st.integers(min_value=0, max_value=4_000),
            ),
            min_size=1,
            max_size=20,
        ),
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=60, deadline=None)
@given(batches=batches)
def test_hard_limits_hold_and_accepted_usage_is_counted_exactly(
    control: ControlService, batches: list[tuple[bool, list[tuple[str, tuple[str, str], int]]]]
) -> None:
    engine = LimitEngine(control, control.catalogue)
    accepted: dict[tuple[str, str], Decimal] = {}
    for seq, (durable, batch) in enumerate(batches, start=1):
        events = [
            MeteredEvent(customer, event_type, unit, Decimal(quantity), NOW, {})
            for customer, (event_type, unit), quantity in batch
        ]
        admission = engine.admit(events)
        if not durable:
            engine.release(admission)
            continue
        refused = admission.refused_indexes
        for index, event in enumerate(events):
            if index in refused:
                continue
            feature = "api_calls" if event.event_type == "api_call" else "ai_tokens"
            key = (event.customer_id, feature)
            accepted[key] = accepted.get(key, Decimal(0)) + event.quantity
        for refusal in admission.refused:
            event = events[refusal.index]
            # Refused only when it would have passed the hard limit.
            assert refusal.used + event.quantity > refusal.limit
        engine.commit(admission, seq, NOW)

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

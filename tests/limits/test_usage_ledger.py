"""What a publication covers leaves live usage; what it does not, stays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tollgate.billing.catalogue.model import Aggregation
from tollgate.limits.usage import UsageLedger

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
KEY = ("cus_1", "api_calls", START, END)
DAY = date(2026, 11, 24)


def _ledger() -> UsageLedger:
    ledger = UsageLedger()
    received = [
        (7, datetime(2026, 11, 24, 10, 0, 0, 500_000, tzinfo=UTC), "1"),  # in part 7
        (7, datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC), "10"),  # exactly at 10:00:01
        (8, datetime(2026, 11, 24, 10, 0, 1, 1, tzinfo=UTC), "100"),  # just after
        (9, datetime(2026, 11, 24, 9, 59, 0, tzinfo=UTC), "1000"),  # early, in an unloaded part
    ]
    for seq, received_at, quantity in received:
        ledger.add_stored(KEY, None, DAY, seq, received_at, received_at, Decimal(quantity))
    return ledger


def _live(ledger: UsageLedger) -> Decimal:
    period = ledger.find(KEY)
    assert period is not None
    return period.live.on_top_of(Decimal(0), Aggregation.SUM)


def test_a_publication_drops_loaded_events_received_by_its_moment() -> None:
    ledger = _ledger()
    loaded = frozenset({(DAY.toordinal(), 7), (DAY.toordinal(), 8)})

    ledger.rebase(loaded, datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC), drop_before=START)

    # Dropped: part 7's two events (received by 10:00:01). Kept: part 8's (received after)
    # and part 9's (not loaded, however early).
    assert _live(ledger) == Decimal(1100)


def test_a_moment_inside_a_second_keeps_that_second_rather_than_lose_events() -> None:
    ledger = _ledger()
    loaded = frozenset({(DAY.toordinal(), 7), (DAY.toordinal(), 8)})

    ledger.rebase(loaded, datetime(2026, 11, 24, 10, 0, 0, 700_000, tzinfo=UTC), drop_before=START)

    # 10:00:00.5 rounds up to second 10:00:01, which the moment does not complete: kept.
    assert _live(ledger) == Decimal(1111)


def test_periods_that_ended_are_forgotten() -> None:
    ledger = _ledger()

    ledger.rebase(frozenset(), datetime(2026, 12, 2, tzinfo=UTC), drop_before=END)

    assert ledger.find(KEY) is None

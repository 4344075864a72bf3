"""What a publication covers leaves live usage; what it does not, stays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tollgate.billing.catalogue.model import Aggregation
from tollgate.limits.usage import UsageLedger

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
KEY = ("cus_1", "api_calls", START, END)
DAY = date(2026, 11, 24)
AS_OF = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


def _ledger() -> UsageLedger:
    ledger = UsageLedger()
    second = timedelta(seconds=1)
    received = [
        (7, AS_OF - 2 * second, "1"),  # part 7: received wholly by the moment
        (7, AS_OF, "10"),
        (8, AS_OF + second, "100"),  # part 8: wholly after (sealed after the moment)
        (9, AS_OF - 60 * second, "1000"),  # part 9: early, but not loaded by the run
        (10, AS_OF - second, "10000"),  # part 10: across the moment
        (10, AS_OF + second, "100000"),
    ]
    for seq, received_at, quantity in received:
        ledger.add_stored(KEY, None, DAY, seq, received_at, received_at, Decimal(quantity))
    return ledger


def _live(ledger: UsageLedger) -> Decimal:
    period = ledger.find(KEY)
    assert period is not None
    return period.live.on_top_of(Decimal(0), Aggregation.SUM)


def test_a_publication_drops_loaded_parts_received_by_its_moment() -> None:
    ledger = _ledger()
    loaded = frozenset((DAY.toordinal(), seq) for seq in (7, 8, 10))

    straddling = ledger.straddling(loaded, AS_OF)
    ledger.rebase(loaded, AS_OF, drop_before=START)

    assert straddling == {(DAY.toordinal(), 10)}
    # Kept: part 8 (received after the moment) and part 9 (not loaded, however early).
    # Part 10 is dropped whole; its events after the moment are re-read from disk.
    assert _live(ledger) == Decimal(1100)


def test_parts_not_loaded_stay_whatever_their_receipt() -> None:
    ledger = _ledger()

    ledger.rebase(frozenset(), AS_OF + timedelta(hours=1), drop_before=START)

    assert _live(ledger) == Decimal(111111)


def test_periods_that_ended_are_forgotten() -> None:
    ledger = _ledger()

    ledger.rebase(frozenset(), datetime(2026, 12, 2, tzinfo=UTC), drop_before=END)

    assert ledger.find(KEY) is None

"""Usage accepted since the last pipeline publication, per customer, feature and period.

A period is a limit window or a billing cycle (often the same). Each accepted event adds to a
*bucket* named by the events file it is stored in: event date and part number (the WAL
segment's number). A pipeline run counts exactly the events of the files it loaded that were
received by its as-of moment. So when a publication appears (``rebase``), the buckets of loaded
parts whose events were all received by then are dropped, those of other parts stay, and the
few parts received across the moment (``straddling``) are re-read from disk for the events
received after it: nothing is counted twice or missed, and memory grows with parts, not events.

Events are counted when admitted, before they are durable, so concurrent requests can never
both pass a hard limit; the write-ahead log says which segment (part) a request's record will
land in before it is written, so admitted events go straight to their part and are taken back
if the write fails.

Most events are *inline*: a summed feature not split by dimension, far from its limit. For
those only a total and a count matter, so they are kept as plain numbers (``Period.sums`` per
part) rather than as a ``Tally`` each: this is the ingest hot path. The others are held as a
*reservation* of tallies, moved to their buckets once durable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from tollgate.billing.catalogue.model import Aggregation

ZERO = Decimal(0)
# When inline totals became a Tally: never later than a real event, so "last" stays real.
_NO_MOMENT = datetime.min.replace(tzinfo=UTC)

# (dimension value, event date ordinal, part seq)
BucketKey = tuple[str | None, int, int]
Part = tuple[int, int]  # (event date ordinal, part seq): one events file
PeriodKey = tuple[str, str, datetime, datetime]  # customer, feature, start, end


class PartSum:
    """Inline events' usage in one part: a summed feature needs only the total and count."""

    __slots__ = ("count", "ordinal", "seq", "total")

    def __init__(self, ordinal: int, seq: int, total: Decimal, count: int) -> None:
        self.ordinal = ordinal
        self.seq = seq
        self.total = total
        self.count = count


class Tally:
    """One set of events' usage under every aggregation, so any feature's rule can read it."""

    __slots__ = ("count", "last", "last_at", "maximum", "total")

    def __init__(self) -> None:
        self.total = ZERO
        self.count = 0
        self.maximum = ZERO
        self.last = ZERO
        self.last_at: datetime | None = None

    @classmethod
    def of(
        cls, total: Decimal, count: int, maximum: Decimal, last: Decimal, last_at: datetime
    ) -> Tally:
        tally = cls()
        tally.total, tally.count, tally.maximum = total, count, maximum
        tally.last, tally.last_at = last, last_at
        return tally

    def add(self, quantity: Decimal, event_at: datetime) -> None:
        self.total += quantity
        count = self.count
        if count == 0 or quantity > self.maximum:
            self.maximum = quantity
        self.count = count + 1
        last_at = self.last_at
        if last_at is None or event_at >= last_at:
            self.last = quantity
            self.last_at = event_at

    def merge(self, other: Tally) -> None:
        if other.count == 0:
            return
        self.total += other.total
        self.maximum = other.maximum if self.count == 0 else max(self.maximum, other.maximum)
        self.count += other.count
        assert other.last_at is not None
        if self.last_at is None or other.last_at >= self.last_at:
            self.last, self.last_at = other.last, other.last_at

    def on_top_of(self, base: Decimal, aggregation: Aggregation) -> Decimal:
        """``base`` (what the pipeline counted) with these later events added."""
        if self.count == 0:
            return base
        if aggregation is Aggregation.SUM:
            return base + self.total
        if aggregation is Aggregation.COUNT:
            return base + self.count
        if aggregation is Aggregation.MAX:
            return max(base, self.maximum)
        return self.last  # LAST: events accepted since are the newest


@dataclass(slots=True, eq=False)
class Period:
    """Live usage of one feature in one period of one customer."""

    buckets: dict[BucketKey, Tally] = field(default_factory=dict)
    # Inline events per part, durable or not yet (their dimension value is always None).
    sums: dict[Part, PartSum] = field(default_factory=dict)
    # id(tally) -> (dimension, tally) for reservations not yet settled
    reserved: dict[int, tuple[str | None, Tally]] = field(default_factory=dict)
    # Every bucket, part total and reservation merged.
    live: Tally = field(default_factory=Tally)

    def part(self, ordinal: int, seq: int) -> PartSum:
        found = self.sums.get((ordinal, seq))
        if found is None:
            found = self.sums[(ordinal, seq)] = PartSum(ordinal, seq, ZERO, 0)
        return found

    def take_back(self, part: PartSum, quantity: Decimal) -> None:
        """An inline event added to ``part`` whose write failed: it was never accepted."""
        part.total -= quantity
        part.count -= 1
        self.live.total -= quantity
        self.live.count -= 1

    def inline_tally(self) -> Tally:
        total, count = ZERO, 0
        for part in self.sums.values():
            total += part.total
            count += part.count
        return Tally.of(total, count, ZERO, ZERO, _NO_MOMENT)

    def by_dimension(self) -> dict[str | None, Tally]:
        """Live usage per dimension value (computed when asked: only summaries need it)."""
        found: dict[str | None, Tally] = {}
        for (dimension, *_), tally in self.buckets.items():
            found.setdefault(dimension, Tally()).merge(tally)
        for dimension, tally in self.reserved.values():
            found.setdefault(dimension, Tally()).merge(tally)
        inline = self.inline_tally()
        if inline.count:
            found.setdefault(None, Tally()).merge(inline)
        return found

    def recount(self) -> None:
        live = Tally()
        for tally in self.buckets.values():
            live.merge(tally)
        for _, tally in self.reserved.values():
            live.merge(tally)
        live.merge(self.inline_tally())
        self.live = live


@dataclass
class Reservation:
    """What one request's admitted events add, until their WAL write is settled.

    Each event counts in its period's live usage at once (later events of the same request
    see it); it is also kept in a group per period, dimension value and event date, which
    becomes the period's bucket on ``commit`` or is taken back on ``release``.
    """

    groups: dict[tuple[int, str | None, int], tuple[Period, str | None, int, Tally]] = field(
        default_factory=dict
    )

    def add(
        self,
        period: Period,
        dimension: str | None,
        event_date: date,
        event_at: datetime,
        quantity: Decimal,
    ) -> None:
        ordinal = event_date.toordinal()
        key = (id(period), dimension, ordinal)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = (period, dimension, ordinal, Tally())
        group[3].add(quantity, event_at)
        period.live.add(quantity, event_at)

    def hold(self) -> None:
        """Records the groups as their periods' unsettled reservations."""
        for period, dimension, _, tally in self.groups.values():
            period.reserved[id(tally)] = (dimension, tally)


class UsageLedger:
    def __init__(self) -> None:
        self._periods: dict[PeriodKey, Period] = {}
        # part seq -> (first, last) receipt of the events held from it
        self._receipts: dict[int, tuple[datetime, datetime]] = {}

    def period(self, key: PeriodKey) -> Period:
        found = self._periods.get(key)
        if found is None:
            found = self._periods[key] = Period()
        return found

    def find(self, key: PeriodKey) -> Period | None:
        return self._periods.get(key)

    def commit(self, reservation: Reservation, seq: int) -> None:
        """The reservation's events are durable in WAL segment (and later part) ``seq``."""
        for period, dimension, ordinal, tally in reservation.groups.values():
            del period.reserved[id(tally)]
            bucket = (dimension, ordinal, seq)
            existing = period.buckets.get(bucket)
            if existing is None:
                period.buckets[bucket] = tally  # no one else holds it any more
            else:
                existing.merge(tally)
            # live already holds it: moving between reserved and buckets changes no total

    def release(self, reservation: Reservation) -> None:
        """The write failed: the reservation's events were never accepted."""
        touched = {}
        for period, _, _, tally in reservation.groups.values():
            period.reserved.pop(id(tally), None)
            touched[id(period)] = period
        for period in touched.values():
            period.recount()

    def by_dimension(self, key: PeriodKey) -> dict[str | None, Tally]:
        period = self._periods.get(key)
        return {} if period is None else period.by_dimension()

    def add_stored(
        self,
        key: PeriodKey,
        dimension: str | None,
        event_date: date,
        seq: int,
        received_at: datetime,
        event_at: datetime,
        quantity: Decimal,
    ) -> None:
        """An event found on disk at start-up (WAL or Parquet) and not yet published."""
        self.received(seq, received_at)
        period = self.period(key)
        bucket = (dimension, event_date.toordinal(), seq)
        period.buckets.setdefault(bucket, Tally()).add(quantity, event_at)
        period.live.add(quantity, event_at)

    def straddling(self, loaded: frozenset[Part], as_of: datetime) -> set[Part]:
        """Loaded parts held here with events received both by ``as_of`` and after it."""
        found = set()
        for part in self._held_parts():
            first, last = self._receipts.get(part[1], (as_of, as_of))
            if first <= as_of < last and part in loaded:
                found.add(part)
        return found

    def rebase(self, loaded: frozenset[Part], as_of: datetime, drop_before: datetime) -> None:
        """A publication counted the events of ``loaded`` parts received by ``as_of``: forget
        the buckets of loaded parts (the caller re-adds straddling parts' later events); forget
        periods that ended before ``drop_before``."""
        for key in [key for key in self._periods if key[3] <= drop_before]:
            del self._periods[key]
        for period in self._periods.values():
            stale = [b for b in period.buckets if self._covered((b[1], b[2]), loaded, as_of)]
            stale_sums = [part for part in period.sums if self._covered(part, loaded, as_of)]
            if stale or stale_sums:
                for bucket in stale:
                    del period.buckets[bucket]
                for part in stale_sums:
                    del period.sums[part]
                period.recount()
        held = {seq for _, seq in self._held_parts()}
        self._receipts = {seq: span for seq, span in self._receipts.items() if seq in held}

    def _held_parts(self) -> set[Part]:
        parts: set[Part] = set()
        for period in self._periods.values():
            parts.update((ordinal, seq) for _, ordinal, seq in period.buckets)
            parts.update(period.sums)
        return parts

    def _covered(self, part: Part, loaded: frozenset[Part], as_of: datetime) -> bool:
        if part not in loaded:
            return False
        first, _ = self._receipts.get(part[1], (as_of, as_of))
        # Received wholly after the moment: the run counted none of it.
        return first <= as_of

    def received(self, seq: int, received_at: datetime) -> None:
        """Events received at ``received_at`` are (or will be, once durable) in part ``seq``."""
        span = self._receipts.get(seq)
        if span is None:
            self._receipts[seq] = (received_at, received_at)
        elif received_at < span[0] or received_at > span[1]:
            self._receipts[seq] = (min(span[0], received_at), max(span[1], received_at))

    def periods(self) -> Iterable[tuple[PeriodKey, Period]]:
        return self._periods.items()

"""Usage accepted since the last pipeline publication, per customer, feature and period.

A period is a limit window or a billing cycle (often the same). Each accepted event adds to a
*bucket* named by the events file it is stored in: event date and part number (the WAL
segment's number). A pipeline run counts exactly the events of the files it loaded that were
received by its as-of moment. So when a publication appears (``rebase``), the buckets of loaded
parts whose events were all received by then are dropped, those of other parts stay, and the
few parts received across the moment (``straddling``) are re-read from disk for the events
received after it: nothing is counted twice or missed, and memory grows with parts, not events.

Events are counted when admitted, before they are durable (a *reservation*), so concurrent
requests can never both pass a hard limit; a reservation is released if the write fails and
moved to its bucket once the WAL segment holding it is known.

Most events are *inline*: a summed feature not split by dimension, far from its limit. For
those only a total and a count matter, so they are kept as plain numbers (``Period.sums`` per
part, and one ``InlineGroup`` per period and event date per request while in flight) rather
than as a ``Tally`` each: this is the ingest hot path.
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
# One request's inline events of one period and event date: (period, date ordinal, total, count)
InlineGroup = tuple["Period", int, Decimal, int]


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
    # Inline events per part (their dimension value is always None), and the part added to
    # last: a request's events nearly always go to the same part as the one before.
    sums: dict[Part, PartSum] = field(default_factory=dict)
    recent: PartSum | None = None
    # id(tally) -> (dimension, tally) for reservations not yet settled
    reserved: dict[int, tuple[str | None, Tally]] = field(default_factory=dict)
    # Every bucket, part total and reservation merged.
    live: Tally = field(default_factory=Tally)
    # Scratch of the admission in progress: which one last touched this period, and what it
    # added today (``LimitEngine.admit`` turns these into one InlineGroup per period).
    token: int = 0
    open_total: Decimal = ZERO
    open_count: int = 0

    def inline_tally(self, in_flight: Iterable[InlineGroup] = ()) -> Tally:
        total, count = ZERO, 0
        for part in self.sums.values():
            total += part.total
            count += part.count
        for period, _, group_total, group_count in in_flight:
            if period is self:
                total += group_total
                count += group_count
        return Tally.of(total, count, ZERO, ZERO, _NO_MOMENT)

    def by_dimension(self, in_flight: Iterable[InlineGroup] = ()) -> dict[str | None, Tally]:
        """Live usage per dimension value (computed when asked: only summaries need it)."""
        found: dict[str | None, Tally] = {}
        for (dimension, *_), tally in self.buckets.items():
            found.setdefault(dimension, Tally()).merge(tally)
        for dimension, tally in self.reserved.values():
            found.setdefault(dimension, Tally()).merge(tally)
        inline = self.inline_tally(in_flight)
        if inline.count:
            found.setdefault(None, Tally()).merge(inline)
        return found

    def recount(self, in_flight: Iterable[InlineGroup] = ()) -> None:
        live = Tally()
        for tally in self.buckets.values():
            live.merge(tally)
        for _, tally in self.reserved.values():
            live.merge(tally)
        live.merge(self.inline_tally(in_flight))
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
        # id(groups) -> inline groups of a request admitted and not yet settled
        self._in_flight: dict[int, list[InlineGroup]] = {}

    @property
    def periods_by_key(self) -> dict[PeriodKey, Period]:
        return self._periods

    def period(self, key: PeriodKey) -> Period:
        found = self._periods.get(key)
        if found is None:
            found = self._periods[key] = Period()
        return found

    def find(self, key: PeriodKey) -> Period | None:
        return self._periods.get(key)

    def hold(self, inline: list[InlineGroup]) -> None:
        """Inline groups already counted in their periods' live usage, until settled."""
        if inline:
            self._in_flight[id(inline)] = inline

    def commit(
        self,
        reservation: Reservation | None,
        inline: list[InlineGroup],
        seq: int,
        received_at: datetime,
    ) -> None:
        """The admission's events are durable in WAL segment (and later part) ``seq``."""
        self._received(seq, received_at)
        if inline:
            del self._in_flight[id(inline)]
            for period, ordinal, total, count in inline:
                part = period.recent
                if part is None or part.seq != seq or part.ordinal != ordinal:
                    part = period.sums.get((ordinal, seq))
                    if part is None:
                        part = period.sums[(ordinal, seq)] = PartSum(ordinal, seq, ZERO, 0)
                    period.recent = part
                part.total += total
                part.count += count
        if reservation is None:
            return
        for period, dimension, ordinal, tally in reservation.groups.values():
            del period.reserved[id(tally)]
            bucket = (dimension, ordinal, seq)
            existing = period.buckets.get(bucket)
            if existing is None:
                period.buckets[bucket] = tally  # no one else holds it any more
            else:
                existing.merge(tally)
            # live already holds it: moving between reserved and buckets changes no total

    def release(self, reservation: Reservation | None, inline: list[InlineGroup]) -> None:
        """The write failed: the events were never accepted."""
        if inline:
            del self._in_flight[id(inline)]
            for period, _, total, count in inline:
                period.live.total -= total
                period.live.count -= count
        if reservation is None:
            return
        touched = {}
        for period, _, _, tally in reservation.groups.values():
            period.reserved.pop(id(tally), None)
            touched[id(period)] = period
        for period in touched.values():
            period.recount(self.in_flight())

    def in_flight(self) -> list[InlineGroup]:
        return [group for groups in self._in_flight.values() for group in groups]

    def by_dimension(self, key: PeriodKey) -> dict[str | None, Tally]:
        period = self._periods.get(key)
        return {} if period is None else period.by_dimension(self.in_flight())

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
        self._received(seq, received_at)
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
        in_flight = self.in_flight()
        for period in self._periods.values():
            stale = [b for b in period.buckets if self._covered((b[1], b[2]), loaded, as_of)]
            stale_sums = [part for part in period.sums if self._covered(part, loaded, as_of)]
            if stale or stale_sums:
                for bucket in stale:
                    del period.buckets[bucket]
                for part in stale_sums:
                    del period.sums[part]
                period.recent = None
                period.recount(in_flight)
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

    def _received(self, seq: int, received_at: datetime) -> None:
        span = self._receipts.get(seq)
        if span is None:
            self._receipts[seq] = (received_at, received_at)
        elif received_at < span[0] or received_at > span[1]:
            self._receipts[seq] = (min(span[0], received_at), max(span[1], received_at))

    def periods(self) -> Iterable[tuple[PeriodKey, Period]]:
        return self._periods.items()

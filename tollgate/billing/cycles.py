"""Billing cycles: when a subscription's periods start and end.

A cycle is a half-open interval ``[start, end)`` of UTC instants. Boundaries are computed on
the customer's wall clock (their time zone) and converted to UTC, so "renews on the 31st at
09:00 Berlin time" stays true across daylight-saving changes.

Anniversary cycles renew on the anchor's day of month, clamped to the month's length and
always counted from the anchor itself, as Stripe does: anchored on Jan 31 they renew Feb 28
(or 29), then Mar 31, not Mar 28. Calendar cycles start at local midnight on the 1st; a
subscription that starts mid-month has a short first cycle up to the next 1st.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tollgate.billing.catalogue.model import CycleAnchor, Interval, LimitReset


@dataclass(frozen=True, slots=True)
class Cycle:
    start: datetime
    end: datetime
    # The full period this cycle is part of; differs from [start, end) only for a first cycle
    # cut short by a calendar anchor, whose base price is then prorated (see proration.py).
    period_start: datetime
    period_end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def seconds(self) -> int:
        return _seconds(self.start, self.end)

    @property
    def period_seconds(self) -> int:
        return _seconds(self.period_start, self.period_end)


@dataclass(frozen=True, slots=True)
class CycleRule:
    """How one subscription's cycles are laid out."""

    anchor: datetime  # the subscription start, or a billing anchor chosen for it (aware)
    interval: Interval = Interval.MONTH
    anchoring: CycleAnchor = CycleAnchor.ANNIVERSARY
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.anchor.tzinfo is None:
            raise ValueError("a cycle anchor must be timezone-aware")
        ZoneInfo(self.timezone)  # raises for an unknown zone name

    def cycle_at(self, moment: datetime) -> Cycle:
        """The cycle containing ``moment`` (which must not be before the anchor)."""
        _require_aware(moment)
        if moment < self.anchor:
            raise ValueError(f"{moment.isoformat()} is before the cycle anchor")
        if self.anchoring is CycleAnchor.ANNIVERSARY:
            start, end = _around(moment, self._anniversary, self._months)
            return Cycle(start, end, start, end)
        period_start, period_end = _around(moment, self._calendar, self._months)
        start = max(period_start, self.anchor)
        return Cycle(start, period_end, period_start, period_end)

    def cycles(self, since: datetime, until: datetime) -> list[Cycle]:
        """Every cycle overlapping ``[since, until)``, in order."""
        _require_aware(since)
        _require_aware(until)
        found: list[Cycle] = []
        moment = max(since, self.anchor)
        while moment < until:
            cycle = self.cycle_at(moment)
            found.append(cycle)
            moment = cycle.end
        return found

    def _anniversary(self, n: int) -> datetime:
        local = self.anchor.astimezone(ZoneInfo(self.timezone))
        return _to_utc(_shift(local, n * self._months))

    def _calendar(self, n: int) -> datetime:
        zone = ZoneInfo(self.timezone)
        local = self.anchor.astimezone(zone)
        first = datetime(local.year, 1 if self._months == 12 else local.month, 1, tzinfo=zone)
        return _to_utc(_shift(first, n * self._months))

    @property
    def _months(self) -> int:
        return 12 if self.interval is Interval.YEAR else 1


def limit_window(rule: CycleRule, reset: LimitReset, moment: datetime) -> tuple[datetime, datetime]:
    """The window usage counts toward a limit in: the cycle, or the calendar month."""
    if reset is LimitReset.CYCLE:
        cycle = rule.cycle_at(moment)
        return cycle.start, cycle.end
    monthly = CycleRule(rule.anchor, Interval.MONTH, CycleAnchor.CALENDAR, rule.timezone)
    cycle = monthly.cycle_at(moment)
    return cycle.start, cycle.end


def _around(
    moment: datetime, boundary: Callable[[int], datetime], months: int
) -> tuple[datetime, datetime]:
    """The boundaries ``b(n) <= moment < b(n + 1)``, found from an estimate of ``n``."""
    average_period = timedelta(days=30.436875 * months)
    n = max(0, int((moment - boundary(0)) / average_period) - 1)
    while boundary(n) > moment:
        n -= 1
    while boundary(n + 1) <= moment:
        n += 1
    return boundary(n), boundary(n + 1)


def _shift(local: datetime, months: int) -> datetime:
    """``local`` moved by whole months, the day clamped to the target month's length."""
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def _to_utc(local: datetime) -> datetime:
    return local.astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("billing times must be timezone-aware (UTC)")


def _seconds(start: datetime, end: datetime) -> int:
    return (end - start) // timedelta(seconds=1)

"""What the ingest hot path needs to count an ordinary event with a few operations.

An ordinary event is a summed feature in its unit, not split by dimension, dated today inside
its limit window, whose window usage stays below the first alert threshold (or is unlimited).
For such an event nothing is judged: it only adds to its period's total and to its part's. A
*slot* per (customer, event type, unit) holds that period, the part its events went to last,
and how much usage it may reach before events must be judged one by one again (``room``: the
first threshold less the published base).

Slots are derived from the terms, the publication and the day, so they are all dropped when
any of those changes; the engine builds them again from the next event of each customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tollgate.limits.usage import PartSum, Period

NO_LIMIT = Decimal("Infinity")
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True, eq=False)
class Slot:
    event_type: str
    unit: str
    period: Period
    part: PartSum  # today's part the slot's last event went to: the next one nearly always does
    room: Decimal  # window usage (the ledger's live part) below which events need no judgement
    start: datetime  # events dated in [start, end): today, within the window
    end: datetime
    next: Slot | None  # the customer's slot for another event type or unit


class FastLane:
    def __init__(self) -> None:
        # customer -> its slots, chained: keyed by the customer alone, because hashing the
        # event's freshly decoded strings is a large part of an ordinary event's cost.
        self.slots: dict[str, Slot] = {}
        self.day_start = self.day_end = _NEVER  # the first call sets the day
        self.today = 0  # the day's date ordinal: the events file its events go to
        self._expires = _NEVER
        self._terms_version = -1

    def keep_current(self, now: datetime, terms_version: int) -> None:
        """Drops every slot once the day, any slot's terms or the terms book changed."""
        if now < self.day_end and now < self._expires and terms_version == self._terms_version:
            return
        self.slots.clear()
        self.day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.day_end = self.day_start + timedelta(days=1)
        self.today = now.date().toordinal()
        self._expires = self.day_end
        self._terms_version = terms_version

    def clear(self) -> None:
        self.slots.clear()

    def offer(
        self,
        customer_id: str,
        event_type: str,
        unit: str,
        period: Period,
        part: PartSum,
        room: Decimal,
        window_start: datetime,
        window_end: datetime,
        terms_valid_until: datetime,
    ) -> None:
        """Keeps a slot for the customer's events of ``event_type`` in ``unit`` if its window
        overlaps today."""
        start, end = max(window_start, self.day_start), min(window_end, self.day_end)
        if start >= end:
            return
        first = self.slots.get(customer_id)
        others = first
        while others is not None:
            if others.event_type == event_type and others.unit == unit:
                return  # a slot it has already (not used for this event's date)
            others = others.next
        self.slots[customer_id] = Slot(event_type, unit, period, part, room, start, end, first)
        if terms_valid_until < self._expires:
            self._expires = terms_valid_until

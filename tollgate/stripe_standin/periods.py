"""Billing-period arithmetic in UTC, as Stripe anchors it.

A period boundary is always computed from the anchor (``anchor + n intervals``), never by
stepping from the previous boundary, so a subscription anchored on the 31st bills on the last
day of shorter months and returns to the 31st afterwards, as Stripe documents.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

_FIXED = {"day": 86_400, "week": 7 * 86_400}


def shift(anchor: int, interval: str, count: int, steps: int) -> int:
    """The boundary ``steps`` periods of ``count`` x ``interval`` after ``anchor``."""
    if interval in _FIXED:
        return anchor + _FIXED[interval] * count * steps
    months = count * steps * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(anchor, UTC)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    moved = start.replace(year=year, month=month, day=day)
    return int(moved.timestamp())


def next_boundary(anchor: int, interval: str, count: int, after: int) -> int:
    """The first boundary of the anchor's schedule strictly later than ``after``."""
    steps = 0
    while shift(anchor, interval, count, steps) <= after:
        steps += 1
    return shift(anchor, interval, count, steps)

"""Proration of base prices: what part of a cycle's base price a stretch of time is worth.

The rule, to the second: a base price accrues linearly over its full period. The amount
accrued by an instant is rounded once (``money.round_line``), and the amount for any stretch
``[a, b)`` is ``accrued(b) - accrued(a)``. Because every stretch is a difference of the same
rounded running total, the pieces of a cycle always add up to exactly its base price, whatever
seconds it is cut at. A plan change at ``t`` (Stripe's ``create_prorations``) credits the old
plan's unused remainder ``[t, end)`` and charges the new plan's remainder ``[t, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from tollgate.billing.cycles import Cycle
from tollgate.billing.money import PRECISION, round_line


def accrued(base_price: int, cycle: Cycle, moment: datetime) -> int:
    """Minor units of ``base_price`` accrued from the period's start up to ``moment``."""
    with localcontext(prec=PRECISION):
        return round_line(Decimal(base_price) * _elapsed(cycle, moment) / cycle.period_seconds)


def _elapsed(cycle: Cycle, moment: datetime) -> int:
    """Whole seconds from the period start to ``moment``, clamped to the period."""
    if moment.tzinfo is None:
        raise ValueError("billing times must be timezone-aware (UTC)")
    moment = min(max(moment, cycle.period_start), cycle.period_end)
    return (moment - cycle.period_start) // timedelta(seconds=1)


def stretch_amount(base_price: int, cycle: Cycle, start: datetime, end: datetime) -> int:
    """The part of ``base_price`` that ``[start, end)`` of ``cycle`` is worth."""
    if end < start:
        raise ValueError("a stretch cannot end before it starts")
    return accrued(base_price, cycle, end) - accrued(base_price, cycle, start)


def cycle_base_charge(base_price: int, cycle: Cycle) -> int:
    """The base price for a whole cycle: all of it, or its share of a short first cycle."""
    return stretch_amount(base_price, cycle, cycle.start, cycle.end)


@dataclass(frozen=True, slots=True)
class PlanChangeProration:
    at: datetime
    remaining_seconds: int
    period_seconds: int
    # Negative: the old plan's unused time, given back.
    credit: int
    # The new plan's base price for the rest of the cycle.
    charge: int

    @property
    def net(self) -> int:
        return self.credit + self.charge


def prorate_change(
    old_base_price: int, new_base_price: int, cycle: Cycle, at: datetime
) -> PlanChangeProration:
    """Stripe's ``create_prorations`` for a plan change at ``at`` within ``cycle``."""
    _elapsed(cycle, at)  # refuses a naive ``at`` with a clear message
    if at not in cycle:
        raise ValueError(
            f"the change at {at.isoformat()} is outside the cycle "
            f"{cycle.start.isoformat()} .. {cycle.end.isoformat()}"
        )
    return PlanChangeProration(
        at=at,
        # Counted as the amounts are: whole seconds elapsed since the period start.
        remaining_seconds=_elapsed(cycle, cycle.end) - _elapsed(cycle, at),
        period_seconds=cycle.period_seconds,
        credit=-stretch_amount(old_base_price, cycle, at, cycle.end),
        charge=stretch_amount(new_base_price, cycle, at, cycle.end),
    )

"""Proration of base prices, to the second, rounded half-up once (Stripe's create_prorations).

Worked examples carry their arithmetic in comments. The rule being checked: a base price
accrues linearly over its period; the amount accrued by an instant is rounded half-up to a
whole minor unit, and a stretch of time is worth the difference of two such running totals.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.billing.catalogue.model import CycleAnchor, Interval
from tollgate.billing.cycles import Cycle, CycleRule
from tollgate.billing.proration import (
    PlanChangeProration,
    accrued,
    cycle_base_charge,
    prorate_change,
    stretch_amount,
)

DAY = 86_400
HOUR = 3_600
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def month_cycle(anchor: datetime) -> Cycle:
    rule = CycleRule(anchor)
    return rule.cycle_at(anchor)


APRIL = month_cycle(utc(2024, 4, 1))  # 30 days = 2_592_000 seconds
JANUARY = month_cycle(utc(2024, 1, 1))  # 31 days = 2_678_400 seconds
# Starts Mar 15 10:00 UTC on a calendar anchor: a short first cycle of March's period.
SHORT_MARCH = CycleRule(utc(2024, 3, 15, 10), anchoring=CycleAnchor.CALENDAR).cycle_at(
    utc(2024, 3, 15, 10)
)


def test_fixtures_are_the_cycles_the_examples_assume() -> None:
    assert (APRIL.start, APRIL.end, APRIL.seconds) == (utc(2024, 4, 1), utc(2024, 5, 1), 2_592_000)
    assert (JANUARY.start, JANUARY.end, JANUARY.seconds) == (
        utc(2024, 1, 1),
        utc(2024, 2, 1),
        2_678_400,
    )
    assert (SHORT_MARCH.start, SHORT_MARCH.end) == (utc(2024, 3, 15, 10), utc(2024, 4, 1))
    assert (SHORT_MARCH.period_start, SHORT_MARCH.period_seconds) == (utc(2024, 3, 1), 2_678_400)


# --- worked examples --------------------------------------------------------------------------


def test_upgrade_exactly_halfway_through_a_30_day_cycle() -> None:
    # $29 -> $79 at Apr 16 00:00, 15 of 30 days used: credit 2900/2 = 1450, charge 7900/2 = 3950.
    change = prorate_change(2900, 7900, APRIL, utc(2024, 4, 16))
    assert change == PlanChangeProration(
        at=utc(2024, 4, 16),
        remaining_seconds=15 * DAY,
        period_seconds=30 * DAY,
        credit=-1450,
        charge=3950,
    )
    assert change.net == 2500


def test_downgrade_exactly_halfway_gives_a_net_credit() -> None:
    change = prorate_change(7900, 2900, APRIL, utc(2024, 4, 16))
    assert (change.credit, change.charge, change.net) == (-3950, 1450, -2500)


def test_change_after_10_days_of_a_31_day_cycle() -> None:
    # Jan 11 00:00: 10 of 31 days used, 21 left.
    # $29: accrued 2900 * 10/31 = 935.48.. -> 935, so the unused part is 2900 - 935 = 1965.
    # $79: accrued 7900 * 10/31 = 2548.39.. -> 2548, so the rest costs 7900 - 2548 = 5352.
    change = prorate_change(2900, 7900, JANUARY, utc(2024, 1, 11))
    assert change.remaining_seconds == 21 * DAY
    assert (change.credit, change.charge, change.net) == (-1965, 5352, 3387)
    # What the old plan earned for the 10 days plus what it gives back is its whole price.
    assert stretch_amount(2900, JANUARY, JANUARY.start, utc(2024, 1, 11)) == 935
    assert 935 + 1965 == 2900


def test_a_half_minor_unit_is_rounded_up_once_on_the_running_total() -> None:
    # $29.97 halfway through April: accrued 2997/2 = 1498.5 -> 1499 (half-up; half-even would
    # give 1498). The unused half is what remains, 2997 - 1499 = 1498, not a separately
    # rounded 1498.5 -> 1499, which would make the halves add up to 2998.
    halfway = utc(2024, 4, 16)
    assert accrued(2997, APRIL, halfway) == 1499
    change = prorate_change(2997, 2997, APRIL, halfway)
    assert (change.credit, change.charge) == (-1498, 1498)
    assert stretch_amount(2997, APRIL, APRIL.start, halfway) + change.charge == 2997


@pytest.mark.parametrize(
    ("elapsed", "credit"),
    [
        # $86.40 over April's 2_592_000 seconds is exactly one cent per 300 seconds.
        (0, -8640),
        (149, -8640),  # 149/300 = 0.497 cent accrued -> 0
        (150, -8639),  # 0.5 -> 1 (half-up)
        (449, -8639),  # 1.497 -> 1
        (450, -8638),  # 1.5 -> 2
        (750, -8637),  # 2.5 -> 3 (half-up; half-even would give 2)
        (2_592_000 - 300, -1),  # one cent's worth of seconds left
        (2_592_000 - 151, -1),  # 8639.497 accrued -> 8639
        (2_592_000 - 150, 0),  # 8639.5 -> 8640
    ],
)
def test_proration_is_to_the_second(elapsed: int, credit: int) -> None:
    at = APRIL.start + timedelta(seconds=elapsed)
    change = prorate_change(8640, 8640, APRIL, at)
    assert change.credit == credit
    assert change.charge == -credit
    assert change.remaining_seconds == 2_592_000 - elapsed


def test_a_fraction_of_a_second_does_not_count() -> None:
    # Time is counted in whole seconds since the period start, so 149.999999 s is 149 s
    # (0.497 cent accrued -> 0) and 150.5 s is 150 s (0.5 -> 1).
    almost = APRIL.start + timedelta(seconds=150, microseconds=-1)
    assert prorate_change(8640, 8640, APRIL, almost).credit == -8640
    assert accrued(8640, APRIL, APRIL.start + timedelta(seconds=150.5)) == 1


def test_a_change_in_the_last_second() -> None:
    last = APRIL.end - timedelta(seconds=1)
    # $79 over 2_592_000 s is 0.003 cent a second: nothing left to credit or charge.
    assert prorate_change(7900, 2900, APRIL, last) == PlanChangeProration(last, 1, 2_592_000, 0, 0)
    # 6_480_000 over 2_592_000 s is 2.5 a second: accrued 6_479_997.5 -> 6_479_998, so the
    # last second is worth 6_480_000 - 6_479_998 = 2.
    change = prorate_change(6_480_000, 6_480_000, APRIL, last)
    assert (change.credit, change.charge) == (-2, 2)


def test_an_upgrade_at_the_cycle_start_swaps_whole_prices() -> None:
    change = prorate_change(2900, 7900, JANUARY, JANUARY.start)
    assert (change.credit, change.charge, change.remaining_seconds) == (-2900, 7900, 31 * DAY)


def test_yearly_cycle_in_a_leap_year() -> None:
    cycle = CycleRule(utc(2024, 1, 1), Interval.YEAR).cycle_at(utc(2024, 1, 1))
    assert cycle.period_seconds == 366 * DAY
    # Jul 2 is day 183 of 366 (31+29+31+30+31+30 = 182 days to Jul 1, plus Jul 1): halfway.
    change = prorate_change(29_000, 79_000, cycle, utc(2024, 7, 2))
    assert (change.credit, change.charge) == (-14_500, 39_500)


def test_short_first_calendar_cycle_is_prorated() -> None:
    # March has 2_678_400 s; the cycle starts 14 days 10 hours (1_245_600 s) into it, i.e.
    # 173/372 of the month. $29: 2900 * 173/372 = 1348.66 -> 1349 already accrued before the
    # start, so the short cycle costs 2900 - 1349 = 1551. $79: 7900 * 173/372 = 3673.92 -> 3674,
    # so 7900 - 3674 = 4226.
    assert cycle_base_charge(2900, SHORT_MARCH) == 1551
    assert cycle_base_charge(7900, SHORT_MARCH) == 4226
    # Upgrading at its very start swaps those prorated prices.
    change = prorate_change(2900, 7900, SHORT_MARCH, SHORT_MARCH.start)
    assert (change.credit, change.charge) == (-1551, 4226)
    assert change.period_seconds == 2_678_400
    assert change.remaining_seconds == 16 * DAY + 14 * HOUR
    # Mar 24 10:00 is 23 days 10 hours = 2_023_200 s = 281/372 of March.
    # $29: 2900 * 281/372 = 2190.59 -> 2191, credit 2900 - 2191 = 709.
    # $79: 7900 * 281/372 = 5967.47 -> 5967, charge 7900 - 5967 = 1933.
    later = prorate_change(2900, 7900, SHORT_MARCH, utc(2024, 3, 24, 10))
    assert (later.credit, later.charge) == (-709, 1933)
    # The old plan was used for 2191 - 1349 = 842; with the 709 credited that is its 1551.
    assert stretch_amount(2900, SHORT_MARCH, SHORT_MARCH.start, utc(2024, 3, 24, 10)) == 842


def test_cycle_shortened_by_daylight_saving_is_prorated_on_its_real_seconds() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    anchor = datetime(2024, 3, 15, 9, tzinfo=berlin)  # 08:00 UTC
    cycle = CycleRule(anchor, timezone="Europe/Berlin").cycle_at(anchor)
    # Mar 15 09:00 CET .. Apr 15 09:00 CEST: 31 days less the hour lost on Mar 31.
    assert cycle.period_seconds == 31 * DAY - HOUR == 2_674_800
    # Half of that, 1_337_400 s = 15 days 11.5 hours, is Mar 30 19:30 UTC.
    change = prorate_change(2900, 7900, cycle, utc(2024, 3, 30, 19, 30))
    assert (change.credit, change.charge) == (-1450, 3950)
    # The local-calendar midpoint (16 days of 31) is not the halfway point in seconds:
    # at Mar 31 08:00 UTC, 1_382_400 of 2_674_800 s are used = 1152/2229 of the cycle;
    # 2900 * 1152/2229 = 1498.79 -> 1499 accrued, 2900 - 1499 = 1401 unused.
    assert prorate_change(2900, 2900, cycle, utc(2024, 3, 31, 8)).credit == -1401


def test_amounts_beyond_float_precision_stay_exact() -> None:
    big = 2**53 + 1  # 9_007_199_254_740_993: not representable as a float
    assert cycle_base_charge(big, APRIL) == big
    # Halfway: accrued 4_503_599_627_370_496.5 -> ..497, leaving ..496 unused.
    change = prorate_change(big, big, APRIL, utc(2024, 4, 16))
    assert change.credit == -4_503_599_627_370_496
    assert change.charge == 4_503_599_627_370_496


def test_accrual_is_clamped_to_the_period() -> None:
    assert accrued(2900, APRIL, APRIL.start - timedelta(days=3)) == 0
    assert accrued(2900, APRIL, APRIL.end + timedelta(days=3)) == 2900
    assert stretch_amount(2900, APRIL, utc(2024, 1, 1), utc(2025, 1, 1)) == 2900


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cycle", "at"),
    [
        (APRIL, utc(2024, 5, 1)),  # the cycle's end belongs to the next cycle
        (APRIL, utc(2024, 3, 31, 23, 59, 59)),
        (SHORT_MARCH, utc(2024, 3, 10)),  # in the period, but before the subscription started
    ],
)
def test_a_change_outside_the_cycle_is_refused(cycle: Cycle, at: datetime) -> None:
    with pytest.raises(ValueError, match="outside the cycle"):
        prorate_change(2900, 7900, cycle, at)


def test_a_backwards_stretch_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot end before it starts"):
        stretch_amount(2900, APRIL, utc(2024, 4, 10), utc(2024, 4, 9))


def test_naive_datetimes_are_refused() -> None:
    # Refused, not silently read as UTC; Python's own comparison error names the problem.
    naive = datetime(2024, 4, 10)
    with pytest.raises((TypeError, ValueError), match=r"naive|aware"):
        prorate_change(2900, 7900, APRIL, naive)
    with pytest.raises((TypeError, ValueError), match=r"naive|aware"):
        stretch_amount(2900, APRIL, naive, naive + timedelta(days=1))
    with pytest.raises((TypeError, ValueError), match=r"naive|aware"):
        accrued(2900, APRIL, naive)


# --- properties -------------------------------------------------------------------------------

prices = st.integers(min_value=0, max_value=10**13)


@st.composite
def cycles(draw: st.DrawFn) -> Cycle:
    """A cycle of a random rule (whole-second anchor), possibly a short calendar first cycle."""
    anchor = draw(
        st.datetimes(datetime(1995, 1, 1), datetime(2065, 1, 1), timezones=st.just(UTC))
    ).replace(microsecond=0)
    rule = CycleRule(
        anchor,
        draw(st.sampled_from(Interval)),
        draw(st.sampled_from(CycleAnchor)),
        draw(st.sampled_from(ZONES)),
    )
    first = draw(st.booleans())  # the first cycle is the interesting one for calendar anchors
    offset = 0 if first else draw(st.integers(0, 8 * 366 * DAY))
    return rule.cycle_at(anchor + timedelta(seconds=offset))


@st.composite
def second_in(draw: st.DrawFn, cycle: Cycle) -> datetime:
    return cycle.start + timedelta(seconds=draw(st.integers(0, cycle.seconds - 1)))


def exact_share(price: int, cycle: Cycle, start: datetime, end: datetime) -> Fraction:
    return Fraction(price * ((end - start) // timedelta(seconds=1)), cycle.period_seconds)


def half_up(amount: Fraction) -> int:
    return math.floor(amount + Fraction(1, 2))


@settings(deadline=None)
@given(st.data(), cycles(), prices)
def test_an_unchanged_plan_still_costs_the_full_cycle_price(
    data: st.DataObject, cycle: Cycle, price: int
) -> None:
    at = data.draw(second_in(cycle))
    change = prorate_change(price, price, cycle, at)
    assert change.credit + change.charge == 0
    assert change.net == 0
    used = stretch_amount(price, cycle, cycle.start, at)
    assert used + change.charge == cycle_base_charge(price, cycle)
    assert used - change.credit == cycle_base_charge(price, cycle)
    if cycle.start == cycle.period_start:
        assert cycle_base_charge(price, cycle) == price


@settings(deadline=None)
@given(st.data(), cycles(), prices, prices)
def test_credits_are_never_positive_and_charges_never_negative(
    data: st.DataObject, cycle: Cycle, old: int, new: int
) -> None:
    at = data.draw(second_in(cycle))
    change = prorate_change(old, new, cycle, at)
    for amount in (change.credit, change.charge, change.net, change.remaining_seconds):
        assert type(amount) is int
    assert change.credit <= 0 <= change.charge
    assert change.remaining_seconds == (cycle.end - at) // timedelta(seconds=1) > 0
    # Each side is the remaining share of its price, off by less than one minor unit.
    assert abs(-change.credit - exact_share(old, cycle, at, cycle.end)) < 1
    assert abs(change.charge - exact_share(new, cycle, at, cycle.end)) < 1


@settings(deadline=None)
@given(st.data(), cycles(), prices)
def test_any_partition_of_a_cycle_adds_up_to_its_base_price(
    data: st.DataObject, cycle: Cycle, price: int
) -> None:
    # Cut points anywhere, microseconds included.
    micros = int((cycle.end - cycle.start) / timedelta(microseconds=1))
    cuts = data.draw(st.lists(st.integers(0, micros), max_size=12))
    points = [cycle.start + timedelta(microseconds=cut) for cut in sorted(cuts)]
    edges = [cycle.start, *points, cycle.end]
    pieces = [stretch_amount(price, cycle, a, b) for a, b in pairwise(edges)]
    assert all(type(piece) is int and piece >= 0 for piece in pieces)
    assert sum(pieces) == cycle_base_charge(price, cycle)


@settings(deadline=None)
@given(st.data(), cycles(), prices)
def test_each_stretch_is_its_share_of_the_price_within_a_minor_unit(
    data: st.DataObject, cycle: Cycle, price: int
) -> None:
    a, b = sorted([data.draw(second_in(cycle)), data.draw(second_in(cycle))])
    assert abs(stretch_amount(price, cycle, a, b) - exact_share(price, cycle, a, b)) < 1
    # The running total at a whole second is its exact share rounded half-up.
    elapsed = exact_share(price, cycle, cycle.period_start, b)
    assert accrued(price, cycle, b) == half_up(elapsed)


@settings(deadline=None)
@given(st.data(), cycles(), prices)
def test_a_later_change_never_charges_more(data: st.DataObject, cycle: Cycle, price: int) -> None:
    earlier, later = sorted([data.draw(second_in(cycle)), data.draw(second_in(cycle))])
    first = prorate_change(price, price, cycle, earlier)
    second = prorate_change(price, price, cycle, later)
    assert first.charge >= second.charge
    assert first.credit <= second.credit


@settings(deadline=None)
@given(cycles(), prices, prices)
def test_an_upgrade_at_the_cycle_start_credits_and_charges_whole_prices(
    cycle: Cycle, old: int, new: int
) -> None:
    change = prorate_change(old, new, cycle, cycle.start)
    assert change.credit == -cycle_base_charge(old, cycle)
    assert change.charge == cycle_base_charge(new, cycle)
    if cycle.start == cycle.period_start:
        assert (change.credit, change.charge) == (-old, new)


@settings(deadline=None)
@given(cycles(), prices, prices)
def test_a_change_in_the_last_second_is_worth_at_most_a_second(
    cycle: Cycle, old: int, new: int
) -> None:
    change = prorate_change(old, new, cycle, cycle.end - timedelta(seconds=1))
    assert change.remaining_seconds == 1
    per_second_old = Fraction(old, cycle.period_seconds)
    per_second_new = Fraction(new, cycle.period_seconds)
    assert 0 <= change.charge <= math.ceil(per_second_new)
    assert 0 <= -change.credit <= math.ceil(per_second_old)
    assert math.floor(per_second_new) <= change.charge


@settings(deadline=None)
@given(st.data(), cycles(), st.lists(prices, min_size=2, max_size=6))
def test_successive_plan_changes_bill_each_plan_for_its_own_time(
    data: st.DataObject, cycle: Cycle, plan_prices: list[int]
) -> None:
    changes_at = sorted(data.draw(second_in(cycle)) for _ in plan_prices[1:])
    # Billed: the first plan's cycle price up front, then each change's credit and charge.
    billed = cycle_base_charge(plan_prices[0], cycle)
    for (old, new), at in zip(pairwise(plan_prices), changes_at, strict=True):
        billed += prorate_change(old, new, cycle, at).net
    # Which must be exactly each plan's stretch of the cycle.
    edges = [cycle.start, *changes_at, cycle.end]
    used = sum(
        stretch_amount(price, cycle, a, b)
        for price, (a, b) in zip(plan_prices, pairwise(edges), strict=True)
    )
    assert billed == used
    exact = sum(
        (
            exact_share(price, cycle, a, b)
            for price, (a, b) in zip(plan_prices, pairwise(edges), strict=True)
        ),
        Fraction(0),
    )
    assert abs(billed - exact) < len(plan_prices)


@settings(deadline=None)
@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
    st.sampled_from(Interval),
    prices,
)
def test_a_calendar_start_mid_period_charges_the_prorated_share(
    start: datetime, zone: str, interval: Interval, price: int
) -> None:
    rule = CycleRule(start.replace(microsecond=0), interval, CycleAnchor.CALENDAR, zone)
    first, second = rule.cycles(rule.anchor, rule.cycle_at(rule.anchor).end + timedelta(seconds=1))
    charge = cycle_base_charge(price, first)
    # One rounding only (the running total before the start): within half a minor unit.
    share = Fraction(price * first.seconds, first.period_seconds)
    assert abs(charge - share) <= Fraction(1, 2)
    assert charge == price - half_up(Fraction(price) - share)
    assert 0 <= charge <= price
    # The cycles after it are whole periods at the whole price.
    assert second.start == second.period_start
    assert cycle_base_charge(price, second) == price

"""Billing cycles: anniversary and calendar anchoring, month ends, leap days, time zones, DST.

Expected boundaries below are worked out by hand from a calendar and the zones' DST rules, not
from the implementation: Europe/Berlin switched to CEST (UTC+2) on 2024-03-31 at 01:00 UTC and
back to CET (UTC+1) on 2024-10-27 at 01:00 UTC; America/New_York to EDT on 2024-03-10 and back
to EST on 2024-11-03; Australia/Lord_Howe keeps UTC+11 in its summer and UTC+10:30 from
2024-04-07 to 2024-10-06; Asia/Kathmandu is UTC+5:45 all year.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.billing.catalogue.model import CycleAnchor, Interval, LimitReset
from tollgate.billing.cycles import Cycle, CycleRule, limit_window

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
KATHMANDU = "Asia/Kathmandu"
ZONES = ["UTC", BERLIN, NEW_YORK, LORD_HOWE, KATHMANDU]

DAY = 86_400
HOUR = 3_600


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def starts(rule: CycleRule, until: datetime) -> list[datetime]:
    return [cycle.start for cycle in rule.cycles(rule.anchor, until)]


# --- anniversary cycles: month ends and leap days, as Stripe does ---------------------------


def test_month_end_anchor_renews_on_the_last_day_then_back_on_the_31st() -> None:
    rule = CycleRule(utc(2024, 1, 31, 12))
    # Jan 31 -> Feb 29 (2024 is a leap year) -> Mar 31, not Mar 29: always counted from the
    # anchor, never from the previous (clamped) renewal. 2025 is not a leap year: Feb 28.
    assert starts(rule, utc(2025, 4, 1)) == [
        utc(2024, 1, 31, 12),
        utc(2024, 2, 29, 12),
        utc(2024, 3, 31, 12),
        utc(2024, 4, 30, 12),
        utc(2024, 5, 31, 12),
        utc(2024, 6, 30, 12),
        utc(2024, 7, 31, 12),
        utc(2024, 8, 31, 12),
        utc(2024, 9, 30, 12),
        utc(2024, 10, 31, 12),
        utc(2024, 11, 30, 12),
        utc(2024, 12, 31, 12),
        utc(2025, 1, 31, 12),
        utc(2025, 2, 28, 12),
        utc(2025, 3, 31, 12),
    ]


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        # The 30th: clamped in February only.
        (
            utc(2025, 1, 30),
            [utc(2025, 1, 30), utc(2025, 2, 28), utc(2025, 3, 30), utc(2025, 4, 30)],
        ),
        # The 29th in a non-leap year: Feb 28, then the 29th again.
        (
            utc(2023, 1, 29),
            [utc(2023, 1, 29), utc(2023, 2, 28), utc(2023, 3, 29), utc(2023, 4, 29)],
        ),
        # The 29th in a leap year: Feb 29 exists.
        (
            utc(2024, 1, 29),
            [utc(2024, 1, 29), utc(2024, 2, 29), utc(2024, 3, 29), utc(2024, 4, 29)],
        ),
        # Anchored on Feb 28: the 28th every month, never moved to a month's end.
        (
            utc(2023, 2, 28),
            [utc(2023, 2, 28), utc(2023, 3, 28), utc(2023, 4, 28), utc(2023, 5, 28)],
        ),
        # A year boundary.
        (
            utc(2024, 11, 30),
            [utc(2024, 11, 30), utc(2024, 12, 30), utc(2025, 1, 30), utc(2025, 2, 28)],
        ),
    ],
)
def test_anniversary_days_clamp_to_month_length(anchor: datetime, expected: list[datetime]) -> None:
    rule = CycleRule(anchor)
    assert starts(rule, expected[-1] + timedelta(seconds=1)) == expected


def test_yearly_cycle_anchored_on_a_leap_day() -> None:
    rule = CycleRule(utc(2024, 2, 29, 8, 30), Interval.YEAR)
    # Feb 28 in non-leap years, Feb 29 again in the next leap year (2028).
    assert starts(rule, utc(2030, 1, 1)) == [
        utc(2024, 2, 29, 8, 30),
        utc(2025, 2, 28, 8, 30),
        utc(2026, 2, 28, 8, 30),
        utc(2027, 2, 28, 8, 30),
        utc(2028, 2, 29, 8, 30),
        utc(2029, 2, 28, 8, 30),
    ]
    cycle = rule.cycle_at(utc(2027, 12, 25))
    # 2027-02-28 .. 2028-02-29: 365 days of 2027's remainder plus the leap day = 366 days.
    assert (cycle.start, cycle.end) == (utc(2027, 2, 28, 8, 30), utc(2028, 2, 29, 8, 30))
    assert cycle.seconds == 366 * DAY


def test_cycle_at_finds_the_half_open_cycle_around_a_moment() -> None:
    rule = CycleRule(utc(2024, 1, 31))
    cycle = rule.cycle_at(utc(2024, 3, 15, 17, 45))
    assert cycle == Cycle(utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 2, 29), utc(2024, 3, 31))
    assert cycle.seconds == 31 * DAY  # Feb 29 .. Mar 31
    assert cycle.period_seconds == 31 * DAY
    # A boundary belongs to the cycle it starts, not the one it ends.
    assert rule.cycle_at(utc(2024, 2, 29)).start == utc(2024, 2, 29)
    assert rule.cycle_at(utc(2024, 2, 29) - timedelta(microseconds=1)).start == utc(2024, 1, 31)
    assert rule.cycle_at(utc(2024, 1, 31)).seconds == 29 * DAY  # Jan 31 .. Feb 29
    assert utc(2024, 3, 31) not in cycle
    assert utc(2024, 2, 29) in cycle


def test_cycle_at_far_from_the_anchor() -> None:
    rule = CycleRule(utc(2024, 1, 31, 6))
    # 100 years on; 2124 is a leap year, and the day is still counted from the anchor.
    cycle = rule.cycle_at(utc(2124, 3, 1))
    assert (cycle.start, cycle.end) == (utc(2124, 2, 29, 6), utc(2124, 3, 31, 6))
    yearly = CycleRule(utc(2024, 2, 29), Interval.YEAR).cycle_at(utc(2100, 6, 1))
    # 2100 is not a leap year (divisible by 100, not 400).
    assert (yearly.start, yearly.end) == (utc(2100, 2, 28), utc(2101, 2, 28))


def test_cycle_at_before_the_anchor_is_refused() -> None:
    rule = CycleRule(utc(2024, 5, 1))
    with pytest.raises(ValueError, match="before the cycle anchor"):
        rule.cycle_at(utc(2024, 4, 30, 23, 59, 59))


def test_cycles_lists_every_cycle_overlapping_the_range() -> None:
    rule = CycleRule(utc(2024, 1, 31))
    found = rule.cycles(utc(2024, 3, 15), utc(2024, 5, 31))
    # The range ends at May 31 exclusive, so the cycle starting May 31 is not included.
    assert [(c.start, c.end) for c in found] == [
        (utc(2024, 2, 29), utc(2024, 3, 31)),
        (utc(2024, 3, 31), utc(2024, 4, 30)),
        (utc(2024, 4, 30), utc(2024, 5, 31)),
    ]
    # A range starting before the anchor starts at the anchor; one ending at it is empty.
    assert rule.cycles(utc(2023, 1, 1), utc(2024, 2, 1))[0].start == utc(2024, 1, 31)
    assert rule.cycles(utc(2023, 1, 1), utc(2024, 1, 31)) == []
    assert rule.cycles(utc(2024, 3, 1), utc(2024, 3, 1)) == []


# --- calendar cycles -------------------------------------------------------------------------


def test_calendar_anchor_mid_month_gives_a_short_first_cycle() -> None:
    rule = CycleRule(utc(2024, 3, 15, 10), anchoring=CycleAnchor.CALENDAR)
    first, second, third = rule.cycles(rule.anchor, utc(2024, 5, 15))
    assert (first.start, first.end) == (utc(2024, 3, 15, 10), utc(2024, 4, 1))
    assert (first.period_start, first.period_end) == (utc(2024, 3, 1), utc(2024, 4, 1))
    # Mar 15 10:00 .. Apr 1 00:00 = 16 days 14 hours; March = 31 days.
    assert first.seconds == 16 * DAY + 14 * HOUR == 1_432_800
    assert first.period_seconds == 31 * DAY == 2_678_400
    assert second == Cycle(utc(2024, 4, 1), utc(2024, 5, 1), utc(2024, 4, 1), utc(2024, 5, 1))
    assert third.start == utc(2024, 5, 1)
    assert third.end == utc(2024, 6, 1)


def test_calendar_cycles_start_at_local_midnight_in_the_customer_zone() -> None:
    rule = CycleRule(utc(2024, 3, 15, 10), anchoring=CycleAnchor.CALENDAR, timezone=BERLIN)
    first = rule.cycle_at(rule.anchor)
    # Mar 1 00:00 CET = Feb 29 23:00 UTC; Apr 1 00:00 CEST (DST began Mar 31) = Mar 31 22:00.
    assert (first.period_start, first.end) == (utc(2024, 2, 29, 23), utc(2024, 3, 31, 22))
    assert first.start == utc(2024, 3, 15, 10)
    assert first.period_seconds == 31 * DAY - HOUR  # the night of Mar 31 was an hour short
    assert first.seconds == 16 * DAY + 12 * HOUR  # Mar 15 10:00 .. Mar 31 22:00 UTC
    nxt = rule.cycle_at(first.end)
    assert (nxt.start, nxt.end) == (utc(2024, 3, 31, 22), utc(2024, 4, 30, 22))
    assert nxt.period_start == nxt.start


def test_calendar_anchor_on_the_local_first_gives_a_full_first_cycle() -> None:
    # Feb 29 23:00 UTC is Mar 1 00:00 in Berlin: no short cycle.
    rule = CycleRule(utc(2024, 2, 29, 23), anchoring=CycleAnchor.CALENDAR, timezone=BERLIN)
    first = rule.cycle_at(rule.anchor)
    assert first.start == first.period_start == utc(2024, 2, 29, 23)
    assert first.end == first.period_end == utc(2024, 3, 31, 22)


def test_calendar_month_is_the_customers_month_not_utcs() -> None:
    # 23:30 UTC on Mar 31 is already 01:30 on Apr 1 in Berlin: the first cycle is April's.
    berlin = CycleRule(utc(2024, 3, 31, 23, 30), anchoring=CycleAnchor.CALENDAR, timezone=BERLIN)
    cycle = berlin.cycle_at(berlin.anchor)
    assert (cycle.period_start, cycle.start, cycle.end) == (
        utc(2024, 3, 31, 22),
        utc(2024, 3, 31, 23, 30),
        utc(2024, 4, 30, 22),
    )
    # For a UTC customer the same instant is the last half hour of March.
    in_utc = CycleRule(utc(2024, 3, 31, 23, 30), anchoring=CycleAnchor.CALENDAR)
    short = in_utc.cycle_at(in_utc.anchor)
    assert (short.start, short.end) == (utc(2024, 3, 31, 23, 30), utc(2024, 4, 1))
    assert short.seconds == 30 * 60
    # Kathmandu is UTC+5:45: its months start at 18:15 UTC the day before.
    kathmandu = CycleRule(utc(2024, 3, 10), anchoring=CycleAnchor.CALENDAR, timezone=KATHMANDU)
    cycle = kathmandu.cycle_at(utc(2024, 4, 10))
    assert (cycle.start, cycle.end) == (utc(2024, 3, 31, 18, 15), utc(2024, 4, 30, 18, 15))


def test_calendar_yearly_cycles_run_from_january_first() -> None:
    rule = CycleRule(utc(2024, 5, 10), Interval.YEAR, CycleAnchor.CALENDAR)
    first, second = rule.cycles(rule.anchor, utc(2025, 6, 1))
    assert (first.start, first.end) == (utc(2024, 5, 10), utc(2025, 1, 1))
    assert (first.period_start, first.period_end) == (utc(2024, 1, 1), utc(2025, 1, 1))
    assert first.period_seconds == 366 * DAY  # 2024 is a leap year
    assert (second.start, second.end) == (utc(2025, 1, 1), utc(2026, 1, 1))
    assert second.seconds == 365 * DAY


# --- time zones and daylight saving ----------------------------------------------------------


def test_berlin_monthly_boundaries_keep_the_local_wall_clock_across_dst() -> None:
    zone = ZoneInfo(BERLIN)
    anchor = datetime(2024, 1, 15, 9, tzinfo=zone)  # 08:00 UTC (CET)
    rule = CycleRule(anchor, timezone=BERLIN)
    found = rule.cycles(anchor, utc(2025, 1, 16))
    assert len(found) == 13
    for cycle in found:
        local = cycle.start.astimezone(zone)
        assert (local.day, local.hour, local.minute) == (15, 9, 0)
    # 09:00 local is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    assert [c.start.hour for c in found] == [8, 8, 8, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8]
    by_month = {c.start.month: c for c in found if c.start.year == 2024}
    # Mar 15 .. Apr 15 loses the hour of Mar 31; Oct 15 .. Nov 15 gains the hour of Oct 27.
    assert by_month[3].seconds == 31 * DAY - HOUR
    assert by_month[10].seconds == 31 * DAY + HOUR
    assert by_month[6].seconds == 30 * DAY


def test_boundaries_falling_on_dst_change_days() -> None:
    zone = ZoneInfo(BERLIN)
    rule = CycleRule(datetime(2024, 1, 31, 9, tzinfo=zone), timezone=BERLIN)
    # Mar 31 2024, the day CEST began: 09:00 CEST = 07:00 UTC.
    assert rule.cycle_at(utc(2024, 3, 20)).end == utc(2024, 3, 31, 7)
    on_the_27th = CycleRule(datetime(2024, 1, 27, 9, tzinfo=zone), timezone=BERLIN)
    # Oct 27 2024, the day CET came back: 09:00 CET = 08:00 UTC; Sep 27 was still CEST.
    cycle = on_the_27th.cycle_at(utc(2024, 10, 1))
    assert (cycle.start, cycle.end) == (utc(2024, 9, 27, 7), utc(2024, 10, 27, 8))
    assert cycle.seconds == 30 * DAY + HOUR


def test_new_york_and_lord_howe_boundaries_follow_their_own_dst() -> None:
    new_york = CycleRule(datetime(2024, 1, 10, 12, tzinfo=ZoneInfo(NEW_YORK)), timezone=NEW_YORK)
    # 12:00 EST = 17:00 UTC; from Mar 10 (EDT began that morning) 12:00 EDT = 16:00 UTC.
    assert starts(new_york, utc(2024, 12, 1))[1:3] == [utc(2024, 2, 10, 17), utc(2024, 3, 10, 16)]
    assert new_york.cycle_at(utc(2024, 11, 10, 16, 30)).start == utc(2024, 10, 10, 16)
    assert new_york.cycle_at(utc(2024, 11, 10, 17)).start == utc(2024, 11, 10, 17)
    # Lord Howe moves by half an hour: 09:00 at UTC+11 is 22:00 UTC the day before, at
    # UTC+10:30 (Apr 7 .. Oct 6, 2024) it is 22:30 UTC.
    lord_howe = CycleRule(datetime(2024, 1, 15, 9, tzinfo=ZoneInfo(LORD_HOWE)), timezone=LORD_HOWE)
    assert starts(lord_howe, utc(2024, 11, 1)) == [
        utc(2024, 1, 14, 22),
        utc(2024, 2, 14, 22),
        utc(2024, 3, 14, 22),
        utc(2024, 4, 14, 22, 30),
        utc(2024, 5, 14, 22, 30),
        utc(2024, 6, 14, 22, 30),
        utc(2024, 7, 14, 22, 30),
        utc(2024, 8, 14, 22, 30),
        utc(2024, 9, 14, 22, 30),
        utc(2024, 10, 14, 22),
    ]


def test_a_renewal_time_that_does_not_exist_locally_moves_past_the_gap() -> None:
    # 02:30 on Jan 31 in Berlin exists; on Mar 31 2024 clocks jumped from 02:00 to 03:00, so
    # that renewal happens at 01:30 UTC (03:30 CEST, the same UTC time as the winter ones);
    # April's is back at 02:30 local (00:30 UTC).
    rule = CycleRule(datetime(2024, 1, 31, 2, 30, tzinfo=ZoneInfo(BERLIN)), timezone=BERLIN)
    assert starts(rule, utc(2024, 5, 1)) == [
        utc(2024, 1, 31, 1, 30),
        utc(2024, 2, 29, 1, 30),
        utc(2024, 3, 31, 1, 30),
        utc(2024, 4, 30, 0, 30),
    ]


def test_the_anchor_may_be_given_in_any_zone() -> None:
    # The same instant written in two zones makes the same rule's cycles.
    in_utc = CycleRule(utc(2024, 1, 31, 8), timezone=BERLIN)
    in_tokyo = CycleRule(utc(2024, 1, 31, 8).astimezone(ZoneInfo("Asia/Tokyo")), timezone=BERLIN)
    moment = utc(2024, 7, 4)
    assert in_utc.cycle_at(moment) == in_tokyo.cycle_at(moment)
    assert in_utc.cycle_at(moment).start == utc(2024, 6, 30, 7)


# --- limits -----------------------------------------------------------------------------------


def test_limit_window_per_cycle_or_per_calendar_month() -> None:
    rule = CycleRule(utc(2024, 1, 15, 12))
    moment = utc(2024, 3, 20)
    assert limit_window(rule, LimitReset.CYCLE, moment) == (
        utc(2024, 3, 15, 12),
        utc(2024, 4, 15, 12),
    )
    assert limit_window(rule, LimitReset.CALENDAR_MONTH, moment) == (
        utc(2024, 3, 1),
        utc(2024, 4, 1),
    )
    # In the first month, the calendar window starts when the subscription does.
    assert limit_window(rule, LimitReset.CALENDAR_MONTH, utc(2024, 1, 20)) == (
        utc(2024, 1, 15, 12),
        utc(2024, 2, 1),
    )


def test_limit_window_calendar_month_of_a_yearly_plan_in_the_customer_zone() -> None:
    rule = CycleRule(utc(2024, 1, 15), Interval.YEAR, timezone=NEW_YORK)
    moment = utc(2024, 3, 20)
    assert limit_window(rule, LimitReset.CYCLE, moment) == (utc(2024, 1, 15), utc(2025, 1, 15))
    # Mar 1 00:00 EST = 05:00 UTC; Apr 1 00:00 EDT = 04:00 UTC.
    assert limit_window(rule, LimitReset.CALENDAR_MONTH, moment) == (
        utc(2024, 3, 1, 5),
        utc(2024, 4, 1, 4),
    )


# --- refusals ---------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CycleRule(datetime(2024, 1, 1))
    rule = CycleRule(utc(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        rule.cycle_at(datetime(2024, 2, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        limit_window(rule, LimitReset.CALENDAR_MONTH, datetime(2024, 2, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        rule.cycles(datetime(2024, 2, 1), utc(2024, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        rule.cycles(utc(2024, 2, 1), datetime(2024, 3, 1))


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        CycleRule(utc(2024, 1, 1), timezone="Mars/Olympus_Mons")


# --- properties -------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2070, 1, 1),
    timezones=st.just(UTC),
)
rules = st.builds(
    CycleRule,
    anchor=instants,
    interval=st.sampled_from(Interval),
    anchoring=st.sampled_from(CycleAnchor),
    timezone=st.sampled_from(ZONES),
)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12 * 366))


def _bounds(rule: CycleRule) -> tuple[timedelta, timedelta]:
    """Shortest and longest a full cycle can be (DST moves a boundary by at most an hour)."""
    if rule.interval is Interval.YEAR:
        return timedelta(days=365, hours=-1), timedelta(days=366, hours=1)
    return timedelta(days=28, hours=-1), timedelta(days=31, hours=1)


@settings(deadline=None)
@given(rule=rules, offset=offsets, span=st.timedeltas(timedelta(0), timedelta(days=1000)))
def test_cycles_tile_time_without_gaps_or_overlaps(
    rule: CycleRule, offset: timedelta, span: timedelta
) -> None:
    since = rule.anchor + offset
    until = since + span
    found = rule.cycles(since, until)
    if span == timedelta(0):
        assert found == []
        return
    assert found[0].start <= since < found[0].end
    assert found[-1].start < until <= found[-1].end
    for earlier, later in pairwise(found):
        assert earlier.end == later.start
    shortest, longest = _bounds(rule)
    for cycle in found:
        assert cycle.start < cycle.end == cycle.period_end
        assert cycle.period_start <= cycle.start
        assert shortest <= cycle.period_end - cycle.period_start <= longest
        if cycle.start != rule.anchor:
            # Only a first cycle cut short by a calendar anchor differs from its period.
            assert cycle.start == cycle.period_start
            assert shortest <= cycle.end - cycle.start <= longest
        assert rule.cycle_at(cycle.start) == cycle
        assert rule.cycle_at(cycle.end - timedelta(microseconds=1)) == cycle
    if rule.anchoring is CycleAnchor.ANNIVERSARY:
        assert rule.cycle_at(rule.anchor).start == rule.anchor


@settings(deadline=None)
@given(rule=rules, offset=offsets)
def test_cycle_at_contains_the_moment(rule: CycleRule, offset: timedelta) -> None:
    moment = rule.anchor + offset
    cycle = rule.cycle_at(moment)
    assert moment in cycle
    assert cycle.start <= moment < cycle.end
    assert rule.cycle_at(cycle.end).start == cycle.end


@settings(deadline=None)
@given(
    anchor=instants,
    interval=st.sampled_from(Interval),
    zone_name=st.sampled_from(ZONES),
    span=st.timedeltas(timedelta(0), timedelta(days=3000)),
)
def test_anniversary_renewals_keep_the_anchor_day_and_wall_clock(
    anchor: datetime, interval: Interval, zone_name: str, span: timedelta
) -> None:
    rule = CycleRule(anchor, interval, CycleAnchor.ANNIVERSARY, zone_name)
    zone = ZoneInfo(zone_name)
    local_anchor = anchor.astimezone(zone)
    step = 12 if interval is Interval.YEAR else 1
    found = rule.cycles(anchor, anchor + span + timedelta(seconds=1))
    for n, cycle in enumerate(found):
        local = cycle.start.astimezone(zone)
        # The n-th renewal is n steps of months from the anchor, never from a clamped renewal.
        index = local_anchor.month - 1 + n * step
        year, month = local_anchor.year + index // 12, index % 12 + 1
        day = min(local_anchor.day, calendar.monthrange(year, month)[1])
        assert (local.year, local.month, local.day) == (year, month, day)
        wall = local_anchor.replace(year=year, month=month, day=day, tzinfo=None)
        if _exists(wall, zone):
            assert local.replace(tzinfo=None) == wall
        else:  # skipped by a DST gap: moved forward by the gap (at most an hour)
            assert timedelta(0) < local.replace(tzinfo=None) - wall <= timedelta(hours=1)


@settings(deadline=None)
@given(rule=rules, span=st.timedeltas(timedelta(0), timedelta(days=3000)))
def test_calendar_cycles_start_on_local_firsts(rule: CycleRule, span: timedelta) -> None:
    rule = CycleRule(rule.anchor, rule.interval, CycleAnchor.CALENDAR, rule.timezone)
    zone = ZoneInfo(rule.timezone)
    found = rule.cycles(rule.anchor, rule.anchor + span + timedelta(seconds=1))
    assert found[0].start == rule.anchor
    for cycle in found:
        for boundary in (cycle.period_start, cycle.end):
            local = boundary.astimezone(zone)
            assert (local.day, local.hour, local.minute, local.second) == (1, 0, 0, 0)
            if rule.interval is Interval.YEAR:
                assert local.month == 1


@settings(deadline=None)
@given(rule=rules, offset=offsets)
def test_limit_windows_contain_the_moment(rule: CycleRule, offset: timedelta) -> None:
    moment = rule.anchor + offset
    cycle = rule.cycle_at(moment)
    assert limit_window(rule, LimitReset.CYCLE, moment) == (cycle.start, cycle.end)
    start, end = limit_window(rule, LimitReset.CALENDAR_MONTH, moment)
    assert start <= moment < end
    zone = ZoneInfo(rule.timezone)
    local_end = end.astimezone(zone)
    assert (local_end.day, local_end.hour, local_end.minute) == (1, 0, 0)
    local_start = start.astimezone(zone)
    if start != rule.anchor:
        assert (local_start.day, local_start.hour, local_start.minute) == (1, 0, 0)
    assert end - start <= timedelta(days=31, hours=1)


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive local time ``wall`` happens in ``zone`` (it does not in a DST gap)."""
    there_and_back = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return there_and_back.replace(tzinfo=None) == wall

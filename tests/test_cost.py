"""Tests for agent.cost: hand-calculated money and the users calendar across DST and holidays."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.helpers import english_working_days

from agent.cost import (
    UsersCalendar,
    cost_of,
    direct_cost_of,
    hourly_cost_per_user,
    staff_cost_rate,
)
from agent.model import UsersSchedule, UsersWindow

LONDON = "Europe/London"
HOUR = 3600.0
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """POSIX seconds of a London wall time (fold=0)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(LONDON)).timestamp()


def midnight(day: dt.date) -> float:
    return local(day.year, day.month, day.day)


def window(days: frozenset[int], start: str, end: str, users: float) -> UsersWindow:
    return UsersWindow(days, dt.time.fromisoformat(start), dt.time.fromisoformat(end), users)


def office(holidays: str | None = None) -> UsersCalendar:
    """Mon-Fri 08:00-18:00 2000 users, 100 otherwise, in London."""
    schedule = UsersSchedule(100.0, (window(WEEKDAYS, "08:00", "18:00", 2000.0),), holidays)
    return UsersCalendar(schedule, LONDON)


def user_hours(calendar: UsersCalendar, start: float, end: float) -> float:
    return calendar.user_seconds(start, end) / HOUR


# --- money ------------------------------------------------------------------------------------


def test_hourly_cost_is_annual_cost_over_working_hours() -> None:
    assert hourly_cost_per_user(25000.0) == 12.993762993762994


def test_hourly_cost_rejects_zero_working_hours() -> None:
    with pytest.raises(ValueError, match="positive"):
        hourly_cost_per_user(25000.0, 0.0)


def test_two_thousand_users_cost_25987_53_an_hour() -> None:
    rate = staff_cost_rate(2000.0, hourly_cost_per_user(25000.0), users_share=1.0, impact=1.0)
    assert round(rate, 2) == 25987.53


def test_system_wide_outage_of_21_55_hours_costs_560031() -> None:
    # By hand: 2000 users x 25000 / 1924 per hour = 25,987.526 an hour; x 21.55 h = 560,031.19.
    calendar = UsersCalendar(UsersSchedule(2000.0), "UTC")
    start = 1_767_225_600.0  # 2026-01-01T00:00Z
    user_seconds = calendar.user_seconds(start, start + 21.55 * HOUR)
    cost = cost_of(user_seconds, hourly_cost_per_user(25000.0), weight=1.0)
    assert abs(cost - 560_031.19) < 1.0


def test_staff_cost_scales_with_share_and_impact() -> None:
    # 1000 users x £20 x 0.25 of them x half their work lost = £2,500 an hour.
    assert staff_cost_rate(1000.0, 20.0, users_share=0.25, impact=0.5) == 2500.0


def test_direct_cost_is_pro_rata_by_the_hour() -> None:
    assert direct_cost_of(1800.0, 1000.0) == 500.0


# --- the users calendar -------------------------------------------------------------------


def test_monday_17_to_19_is_an_office_hour_and_an_evening_hour() -> None:
    # 2026-03-02 is a Monday: 1 h x 2000 + 1 h x 100 = 2100 user-hours.
    assert user_hours(office(), local(2026, 3, 2, 17), local(2026, 3, 2, 19)) == 2100.0


def test_money_is_users_times_the_hourly_cost() -> None:
    # Monday 17:00-19:00 at £20 an hour: (2000 + 100) user-hours x £20 = £42,000.
    schedule = UsersSchedule(100.0, (window(WEEKDAYS, "08:00", "18:00", 2000.0),))
    calendar = UsersCalendar(schedule, LONDON, hourly=20.0)
    assert calendar.money_seconds(local(2026, 3, 2, 17), local(2026, 3, 2, 19)) / HOUR == 42000.0
    assert calendar.cost_rate_at(local(2026, 3, 2, 17, 30)) == 40000.0
    assert calendar.peak_cost_rate() == 40000.0


def test_a_shift_rate_window_costs_its_own_rate() -> None:
    # Nights of 40 people at a £30 premium rate, days of 2,000 at the group's £20.
    night = UsersWindow(EVERY_DAY, dt.time(22), dt.time(6), 40.0, hourly_cost_per_user=30.0)
    schedule = UsersSchedule(0.0, (window(EVERY_DAY, "08:00", "18:00", 2000.0), night))
    calendar = UsersCalendar(schedule, "UTC", hourly=20.0)
    day = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    # 00:00-06:00 40 x £30 x 6 h; 08:00-18:00 2000 x £20 x 10 h; 22:00-24:00 40 x £30 x 2 h.
    expected = 40 * 30 * 6 + 2000 * 20 * 10 + 40 * 30 * 2
    assert calendar.money_seconds(day, day + 24 * HOUR) / HOUR == expected
    assert calendar.cost_rate_at(day + 23 * HOUR) == 1200.0
    assert calendar.peak_cost_rate() == 40000.0
    assert calendar.user_seconds(day, day + 24 * HOUR) / HOUR == 40 * 8 + 2000 * 10


def test_window_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    # Friday 22:00 - Saturday 06:00, 50 users; default 10. 2026-03-06 is a Friday.
    friday = frozenset({4})
    calendar = UsersCalendar(UsersSchedule(10.0, (window(friday, "22:00", "06:00", 50.0),)), LONDON)
    assert calendar.users_at(local(2026, 3, 7, 3)) == 50.0  # Saturday, not in days
    assert calendar.users_at(local(2026, 3, 8, 3)) == 10.0  # Sunday: Saturday has no window
    # Friday 20:00 - Saturday 08:00: 2 h x 10 + 8 h x 50 + 2 h x 10 = 440 user-hours.
    assert user_hours(calendar, local(2026, 3, 6, 20), local(2026, 3, 7, 8)) == 440.0


def test_midnight_to_midnight_is_the_whole_day() -> None:
    saturday = frozenset({5})
    calendar = UsersCalendar(UsersSchedule(0.0, (window(saturday, "00:00", "00:00", 7.0),)), LONDON)
    assert user_hours(calendar, local(2026, 3, 7), local(2026, 3, 8)) == 24 * 7.0
    assert calendar.users_at(local(2026, 3, 8, 0)) == 0.0


@pytest.mark.parametrize(
    ("windows", "at_ten", "office_day"),
    [
        # 08-09 2000, 09-12 500, 12-18 2000: 1 x 2000 + 3 x 500 + 6 x 2000 = 15500.
        pytest.param(
            (
                window(WEEKDAYS, "09:00", "12:00", 500.0),
                window(WEEKDAYS, "08:00", "18:00", 2000.0),
            ),
            500.0,
            15500.0,
            id="narrow-first-wins",
        ),
        pytest.param(
            (
                window(WEEKDAYS, "08:00", "18:00", 2000.0),
                window(WEEKDAYS, "09:00", "12:00", 500.0),
            ),
            2000.0,
            20000.0,
            id="wide-first-hides-narrow",
        ),
    ],
)
def test_overlapping_windows_first_listed_wins(
    windows: tuple[UsersWindow, ...], at_ten: float, office_day: float
) -> None:
    calendar = UsersCalendar(UsersSchedule(100.0, windows), LONDON)
    assert calendar.users_at(local(2026, 3, 2, 10)) == at_ten
    assert user_hours(calendar, local(2026, 3, 2, 8), local(2026, 3, 2, 18)) == office_day


@pytest.mark.parametrize(
    "day",
    [
        pytest.param(dt.date(2026, 12, 25), id="christmas-friday"),
        pytest.param(dt.date(2026, 12, 28), id="boxing-day-substitute-monday"),
        pytest.param(dt.date(2026, 8, 31), id="summer-bank-holiday"),
        pytest.param(dt.date(2026, 4, 3), id="good-friday"),
    ],
)
def test_bank_holiday_uses_default_all_day(day: dt.date) -> None:
    start, end = midnight(day), midnight(day + dt.timedelta(days=1))
    assert user_hours(office("GB-ENG"), start, end) == 24 * 100.0
    # Without holidays the same weekday is 14 h x 100 + 10 h x 2000.
    assert user_hours(office(), start, end) == 21400.0


def test_working_day_after_holidays_is_normal() -> None:
    # The first working day after Christmas 2026: Tuesday the 29th.
    day = english_working_days(dt.date(2026, 12, 25), dt.date(2027, 1, 31))[0]
    start = midnight(day)
    assert user_hours(office("GB-ENG"), start, start + 24 * HOUR) == 21400.0


def test_night_shift_started_before_a_holiday_runs_into_it() -> None:
    # Christmas 2026: Thursday 22:00 - Christmas 06:00 applies; Christmas night's shift does not.
    holiday = last_holiday_after_a_working_day(2026)
    nights = window(WEEKDAYS, "22:00", "06:00", 300.0)
    calendar = UsersCalendar(UsersSchedule(10.0, (nights,), "GB-ENG"), LONDON)
    assert calendar.users_at(local(holiday.year, holiday.month, holiday.day, 3)) == 300.0
    assert calendar.users_at(local(holiday.year, holiday.month, holiday.day, 23)) == 10.0


def last_holiday_after_a_working_day(year: int) -> dt.date:
    """The year's last weekday bank holiday in England whose eve is a working day, by the
    holidays package's list: Christmas, a Friday, in 2026."""
    working = english_working_days(dt.date(year, 1, 1), dt.date(year, 12, 31))
    after = [day + dt.timedelta(days=1) for day, then in itertools.pairwise(working)
             if (then - day).days > 1]
    return max(day for day in after if day.weekday() < 5)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        pytest.param(dt.date(2026, 3, 29), 23, id="spring-forward"),
        pytest.param(dt.date(2026, 10, 25), 25, id="fall-back"),
        pytest.param(dt.date(2026, 3, 28), 24, id="ordinary"),
    ],
)
def test_constant_users_over_a_dst_day_follow_its_length(day: dt.date, hours: int) -> None:
    start, end = midnight(day), midnight(day + dt.timedelta(days=1))
    calendar = UsersCalendar(UsersSchedule(100.0), LONDON)
    assert user_hours(calendar, start, end) == 100.0 * hours


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        pytest.param(dt.date(2026, 3, 29), 23, id="spring-forward"),
        pytest.param(dt.date(2026, 10, 25), 25, id="fall-back"),
    ],
)
def test_office_window_on_a_dst_day_still_lasts_ten_hours(day: dt.date, hours: int) -> None:
    every_day = UsersSchedule(100.0, (window(EVERY_DAY, "08:00", "18:00", 2000.0),))
    calendar = UsersCalendar(every_day, LONDON)
    start, end = midnight(day), midnight(day + dt.timedelta(days=1))
    assert calendar.business_seconds(start, end) == 10 * HOUR
    assert user_hours(calendar, start, end) == 10 * 2000.0 + (hours - 10) * 100.0


@pytest.mark.parametrize(
    ("start", "end", "window_hours"),
    [
        # 01:30 does not exist; fold=0 reads it as 01:30 GMT = 02:30 BST; 03:00 BST: 30 min.
        pytest.param("01:30", "03:00", 0.5, id="start-in-gap"),
        # 00:30 GMT to 01:30 GMT (= 02:30 BST): one real hour.
        pytest.param("00:30", "01:30", 1.0, id="end-in-gap"),
        # 01:45 GMT is after 02:15 "BST" (01:15 GMT): empty, never negative.
        pytest.param("01:45", "02:15", 0.0, id="both-in-gap-inverted"),
    ],
)
def test_boundary_in_spring_gap_gives_no_negative_or_doubled_piece(
    start: str, end: str, window_hours: float
) -> None:
    sunday = frozenset({6})
    schedule = UsersSchedule(0.0, (window(sunday, start, end, 1.0),))
    calendar = UsersCalendar(schedule, LONDON)
    day_start, day_end = local(2026, 3, 29), local(2026, 3, 30)
    pieces = calendar.business_spans(day_start, day_end)
    assert all(a < b for a, b in pieces)
    assert calendar.user_seconds(day_start, day_end) == window_hours * HOUR
    assert calendar.business_seconds(day_start, day_end) == window_hours * HOUR


def test_boundary_in_repeated_autumn_hour_is_its_first_occurrence() -> None:
    # 01:30-01:45 on 2026-10-25 happens twice; the window covers the first (BST) only.
    sunday = frozenset({6})
    calendar = UsersCalendar(UsersSchedule(0.0, (window(sunday, "01:30", "01:45", 1.0),)), LONDON)
    day_start, day_end = local(2026, 10, 25), local(2026, 10, 26)
    assert calendar.user_seconds(day_start, day_end) == 15 * 60
    first_0130 = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).timestamp()
    assert calendar.users_at(first_0130) == 1.0
    assert calendar.users_at(first_0130 + HOUR) == 0.0  # the second 01:30, in GMT


def test_week_equals_the_sum_of_its_days() -> None:
    calendar = office("GB-ENG")
    days = [midnight(dt.date(2026, 3, 30) + dt.timedelta(days=k)) for k in range(8)]
    week = calendar.user_seconds(days[0], days[-1])
    assert week == sum(calendar.user_seconds(a, b) for a, b in itertools.pairwise(days))
    # Mon-Thu office days, Good Friday and the weekend at default: 4 x 10 h x 1900 + 168 h x 100.
    office_days = english_working_days(dt.date(2026, 3, 30), dt.date(2026, 4, 5))
    assert week / HOUR == len(office_days) * 10 * 1900 + 168 * 100  # 92,800


def test_date_the_zone_skipped_adds_nothing() -> None:
    # Samoa jumped from 2011-12-29 to 2011-12-31: two 24 h days of 10 h x 10 + 14 h x 1.
    apia = ZoneInfo("Pacific/Apia")
    every_day = UsersSchedule(1.0, (window(EVERY_DAY, "08:00", "18:00", 10.0),))
    calendar = UsersCalendar(every_day, "Pacific/Apia")
    start = dt.datetime(2011, 12, 29, tzinfo=apia).timestamp()
    end = dt.datetime(2012, 1, 1, tzinfo=apia).timestamp()
    assert end - start == 48 * HOUR
    assert user_hours(calendar, start, end) == 2 * (10 * 10.0 + 14 * 1.0)


def test_business_seconds_skip_holidays() -> None:
    # The week of Good Friday 2026-04-03 has four office days of 10 hours.
    week = (local(2026, 3, 30), local(2026, 4, 6))
    office_days = english_working_days(dt.date(2026, 3, 30), dt.date(2026, 4, 5))
    assert dt.date(2026, 4, 3) not in office_days
    assert office("GB-ENG").business_seconds(*week) == len(office_days) * 10 * HOUR
    assert office().business_seconds(*week) == 50 * HOUR


def test_schedule_without_windows_counts_every_hour_as_business() -> None:
    calendar = UsersCalendar(UsersSchedule(100.0), LONDON)
    assert calendar.business_seconds(0.0, 7 * 24 * HOUR) == 7 * 24 * HOUR


@pytest.mark.parametrize(
    "method",
    [
        UsersCalendar.user_seconds,
        UsersCalendar.business_seconds,
    ],
)
def test_empty_or_reversed_range_is_zero(method: object) -> None:
    calendar = office()
    assert method(calendar, 10.0, 10.0) == 0.0  # type: ignore[operator]
    assert method(calendar, 10.0, 5.0) == 0.0  # type: ignore[operator]
    assert calendar.business_spans(10.0, 5.0) == []
    assert calendar.money_seconds(10.0, 5.0) == 0.0


def test_peak_users_is_the_largest_window_or_default() -> None:
    assert office().peak_users() == 2000.0
    assert UsersCalendar(UsersSchedule(300.0)).peak_users() == 300.0


# --- properties -------------------------------------------------------------------------------

SHIFTS = UsersSchedule(
    100.0,
    (
        window(WEEKDAYS, "08:00", "18:00", 2000.0),
        window(frozenset({4}), "22:00", "06:00", 50.0),
        window(frozenset({5}), "00:00", "00:00", 300.0),
        window(EVERY_DAY, "01:30", "02:30", 7.0),  # crosses both DST changes
    ),
    "GB-ENG",
)
PROPERTY_CALENDAR = UsersCalendar(SHIFTS, LONDON)
# 2025-12-01 to 2027-02-01 in seconds: two DST changes each way, Christmas twice.
times = st.floats(min_value=1_764_547_200.0, max_value=1_801_440_000.0)


@settings(max_examples=150, deadline=None)
@given(st.lists(times, min_size=3, max_size=3))
def test_user_seconds_are_additive(points: list[float]) -> None:
    a, b, c = sorted(points)
    whole = PROPERTY_CALENDAR.user_seconds(a, c)
    parts = PROPERTY_CALENDAR.user_seconds(a, b) + PROPERTY_CALENDAR.user_seconds(b, c)
    assert math.isclose(whole, parts, rel_tol=1e-6, abs_tol=1e-6)


SHIFT_PAY = UsersSchedule(
    100.0,
    (
        window(WEEKDAYS, "08:00", "18:00", 2000.0),
        UsersWindow(frozenset({4}), dt.time(22), dt.time(6), 50.0, hourly_cost_per_user=31.0),
        window(EVERY_DAY, "01:30", "02:30", 7.0),  # crosses both DST changes
    ),
    "GB-ENG",
)
PAY_CALENDAR = UsersCalendar(SHIFT_PAY, LONDON, hourly=20.0)


@settings(max_examples=150, deadline=None)
@given(st.lists(times, min_size=3, max_size=3))
def test_money_seconds_are_additive_and_follow_the_rate_in_force(points: list[float]) -> None:
    a, b, c = sorted(points)
    whole = PAY_CALENDAR.money_seconds(a, c)
    parts = PAY_CALENDAR.money_seconds(a, b) + PAY_CALENDAR.money_seconds(b, c)
    assert math.isclose(whole, parts, rel_tol=1e-9, abs_tol=1e-6)
    # without shift rates, money is user-seconds times the hourly cost
    plain = UsersCalendar(SHIFTS, LONDON, hourly=20.0)
    assert math.isclose(plain.money_seconds(a, c), 20.0 * PROPERTY_CALENDAR.user_seconds(a, c),
                        rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=150, deadline=None)
@given(st.lists(times, min_size=2, max_size=2))
def test_business_spans_lie_inside_windows_and_add_up(points: list[float]) -> None:
    start, end = sorted(points)
    spans = PROPERTY_CALENDAR.business_spans(start, end)
    assert all(start <= a < b <= end for a, b in spans)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
    assert math.isclose(math.fsum(b - a for a, b in spans),
                        PROPERTY_CALENDAR.business_seconds(start, end), rel_tol=1e-9,
                        abs_tol=1e-6)

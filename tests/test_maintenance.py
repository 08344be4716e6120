"""Tests for agent.maintenance: crontab(5) parsing and merged planned periods across DST."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from agent.maintenance import MaintenanceCalendar, cron_error
from agent.model import Maintenance

LONDON = "Europe/London"
HOUR = 3600.0


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: str = LONDON
) -> float:
    """POSIX seconds of a local wall time (fold=0)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return local(year, month, day, hour, minute, tz="UTC")


def weekly(cron: str = "0 22 * * sun", hours: float = 2.0, tz: str = LONDON) -> MaintenanceCalendar:
    return MaintenanceCalendar((Maintenance(cron=cron, duration=hours * HOUR),), tz)


def one_off(start: float, end: float) -> Maintenance:
    return Maintenance(
        start=dt.datetime.fromtimestamp(start, dt.UTC), end=dt.datetime.fromtimestamp(end, dt.UTC)
    )


# --- cron_error ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param(
            "0 22 * * sun 2026",
            "cron: expected 5 fields (minute hour day-of-month month day-of-week), "
            "got 6 in '0 22 * * sun 2026'",
            id="six-fields",
        ),
        pytest.param(
            "",
            "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 0 in ''",
            id="empty",
        ),
        pytest.param("61 * * * *", "cron: minute 61 out of range 0-59", id="minute-61"),
        pytest.param("0 22 * * 9", "cron: day-of-week 9 out of range 0-7", id="day-of-week-9"),
        pytest.param("0 0 0 * *", "cron: day-of-month 0 out of range 1-31", id="day-of-month-0"),
        pytest.param(
            "0 0 * * funday", "cron: day-of-week 'funday' is not a number or name", id="bad-name"
        ),
        pytest.param("0 0 * mon *", "cron: month 'mon' is not a number or name", id="day-as-month"),
        pytest.param("0 0 * * 5-1", "cron: day-of-week range '5-1' runs backwards", id="backwards"),
        pytest.param(
            "*/0 * * * *", "cron: minute step '0' is not a positive number", id="zero-step"
        ),
        pytest.param(
            "5/15 * * * *", "cron: minute step needs a range or '*', got '5/15'", id="bare-step"
        ),
        pytest.param("1,,2 * * * *", "cron: empty list item in minute '1,,2'", id="empty-item"),
        pytest.param("@reboot", "cron: expected 5 fields", id="reboot-has-no-calendar"),
        # cronsim's extensions, which crontab(5) does not have: refused before cronsim sees them.
        pytest.param("0 0 22 * * sun", "cron: expected 5 fields", id="cronsim-seconds-field"),
        pytest.param("0 0 L * *", "cron: day-of-month 'L' is not a number or name", id="last-day"),
        pytest.param("0 0 LW * *", "cron: day-of-month 'LW' is not", id="last-weekday"),
        pytest.param("0 0 * * 5L", "cron: day-of-week '5L' is not", id="last-friday"),
        pytest.param("0 0 * * 1#2", "cron: day-of-week '1#2' is not", id="second-monday"),
    ],
)
def test_invalid_expression_gives_a_message(expr: str, message: str) -> None:
    error = cron_error(expr)
    assert error is not None and error.startswith(message)


@pytest.mark.parametrize(
    "expr",
    [
        "0 22 * * sun",
        "*/15 * * * *",
        "0 9-17/2 * JAN-mar mon-fri",
        "0 3 1,15 * *",
        "0 0 * * 5-7",
        "0 0 * * mon-sun",
        "@daily",
        "@Weekly",
        "0 0 31 2 *",  # cronsim refuses a day no month of it has; crontab(5) takes it
    ],
)
def test_valid_expression_gives_none(expr: str) -> None:
    assert cron_error(expr) is None


# --- recurring windows -------------------------------------------------------------------


def test_active_on_sunday_evening() -> None:
    # 2026-10-25 is a Sunday (and the autumn DST change, already over by 22:00).
    calendar = weekly()
    assert calendar.active(local(2026, 10, 25, 22, 30)) == (
        local(2026, 10, 25, 22),
        local(2026, 10, 26, 0),
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param((2026, 10, 25, 22, 0), True, id="start-inclusive"),
        pytest.param((2026, 10, 25, 23, 59), True, id="last-minute"),
        pytest.param((2026, 10, 26, 0, 0), False, id="end-exclusive-monday-midnight"),
        pytest.param((2026, 10, 25, 21, 59), False, id="before"),
        pytest.param((2026, 10, 24, 22, 30), False, id="saturday"),
    ],
)
def test_active_boundaries(when: tuple[int, int, int, int, int], expected: bool) -> None:
    assert (weekly().active(local(*when)) is not None) is expected


def test_periods_across_autumn_dst_keep_local_time_and_duration() -> None:
    periods = weekly().periods(local(2026, 10, 18), local(2026, 11, 2))
    assert periods == [
        (utc(2026, 10, 18, 21), utc(2026, 10, 18, 23)),  # 22:00 BST
        (utc(2026, 10, 25, 22), utc(2026, 10, 26, 0)),  # 22:00 GMT
        (utc(2026, 11, 1, 22), utc(2026, 11, 2, 0)),
    ]


def test_periods_are_clipped_to_the_range() -> None:
    start, end = local(2026, 10, 25, 23), local(2026, 10, 26, 12)
    assert weekly().periods(start, end) == [(start, local(2026, 10, 26, 0))]


@pytest.mark.parametrize("expr", ["0 22 * * 7", "0 22 * * sun", "0 22 * * SUN", "0 22 * * 0-0"])
def test_sunday_spellings_match_day_zero(expr: str) -> None:
    month = (local(2026, 10, 1), local(2026, 11, 1))
    assert weekly(expr).periods(*month) == weekly("0 22 * * 0").periods(*month)


def fire_days(expr: str) -> list[int]:
    """Days of June 2026 (and 1 July) the expression fires on, in UTC."""
    periods = weekly(expr, hours=1 / 60, tz="UTC").periods(utc(2026, 6, 1), utc(2026, 7, 2))
    return [dt.datetime.fromtimestamp(s, dt.UTC).day for s, _ in periods]


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        # June 2026: Mondays are 1, 8, 15, 22, 29; 1 July is a Wednesday.
        pytest.param("0 3 1 * mon", [1, 8, 15, 22, 29, 1], id="both-restricted-or"),
        pytest.param("0 3 1 * *", [1, 1], id="day-of-month-only"),
        pytest.param("0 3 * * mon", [1, 8, 15, 22, 29], id="day-of-week-only"),
        # A field starting with '*' counts as unrestricted, so the fields AND (Vixie cron).
        pytest.param("0 3 */2 * mon", [1, 15, 29], id="star-step-ands"),
    ],
)
def test_day_of_month_or_day_of_week(expr: str, days: list[int]) -> None:
    assert fire_days(expr) == days


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        # June 2026: Fridays are 5, 12, 19, 26; Sundays 7, 14, 21, 28.
        pytest.param("0 3 * * mon-sun", [*range(1, 31), 1], id="sun-ends-a-range-as-7"),
        pytest.param("0 3 * * fri-sun", [5, 6, 7, 12, 13, 14, 19, 20, 21, 26, 27, 28],
                     id="names"),
        pytest.param("0 3 * * 5-7", [5, 6, 7, 12, 13, 14, 19, 20, 21, 26, 27, 28],
                     id="numbers"),
        pytest.param("0 3 */10 jun-Jul *", [1, 11, 21, 1], id="star-step-and-month-names"),
    ],
)
def test_day_names_and_ranges(expr: str, days: list[int]) -> None:
    assert fire_days(expr) == days


def test_gap_time_fires_once_after_spring_forward() -> None:
    # 01:30 and 02:30 on 2026-03-29 both read as 01:30 UTC: one period, not two.
    calendar = weekly("30 1,2 * * *", hours=0.25)
    assert calendar.periods(local(2026, 3, 29), local(2026, 3, 30)) == [
        (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 45))
    ]


def test_repeated_time_fires_once_on_autumn_day() -> None:
    calendar = weekly("30 1 * * *", hours=0.25)
    assert calendar.periods(local(2026, 10, 25), local(2026, 10, 26)) == [
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 45))  # 01:30 BST, the first
    ]


# --- one-off windows and merging --------------------------------------------------------------


def test_one_off_window_is_start_inclusive_end_exclusive() -> None:
    start, end = utc(2026, 5, 1, 9), utc(2026, 5, 1, 17)
    calendar = MaintenanceCalendar((one_off(start, end),))
    assert calendar.active(start) == (start, end)
    assert calendar.active(end - 1) == (start, end)
    assert calendar.active(end) is None
    assert calendar.active(start - 1) is None


def test_one_off_needs_aware_datetimes() -> None:
    naive = Maintenance(start=dt.datetime(2026, 5, 1, 9), end=dt.datetime(2026, 5, 1, 17))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        MaintenanceCalendar((naive,))


def test_overlapping_and_touching_windows_merge() -> None:
    # Sunday 22:00-00:00 recurring, 23:00-00:30 and 00:30-01:00 one-offs: one period.
    sunday_22, monday_1 = local(2026, 10, 25, 22), local(2026, 10, 26, 1)
    overlap = one_off(local(2026, 10, 25, 23), local(2026, 10, 26, 0, 30))
    touching = one_off(local(2026, 10, 26, 0, 30), monday_1)
    windows = (Maintenance(cron="0 22 * * sun", duration=2 * HOUR), overlap, touching)
    calendar = MaintenanceCalendar(windows, LONDON)
    assert calendar.active(local(2026, 10, 25, 22, 30)) == (sunday_22, monday_1)
    assert calendar.periods(local(2026, 10, 25), local(2026, 10, 27)) == [(sunday_22, monday_1)]


@pytest.mark.parametrize(
    "calendar",
    [
        pytest.param(MaintenanceCalendar(()), id="no-windows"),
        pytest.param(weekly("0 0 31 2 *"), id="never-fires"),
        pytest.param(MaintenanceCalendar((one_off(0.0, 60.0),)), id="one-off-in-the-past"),
    ],
)
def test_nothing_is_planned(calendar: MaintenanceCalendar) -> None:
    assert calendar.active(utc(2026, 1, 1)) is None
    assert calendar.periods(utc(2026, 1, 1), utc(2027, 1, 1)) == []


def test_leap_day_window_fires_only_on_leap_days() -> None:
    calendar = weekly("0 0 29 2 *", tz="UTC")
    assert calendar.periods(utc(2026, 1, 1), utc(2028, 1, 1)) == []
    assert calendar.periods(utc(2028, 1, 1), utc(2029, 1, 1)) == [
        (utc(2028, 2, 29), utc(2028, 2, 29, 2))]


def test_endless_chain_is_bounded() -> None:
    # Every minute for a minute is maintenance for ever: the search stops, quickly.
    calendar = weekly("* * * * *", hours=1 / 60, tz="UTC")
    t = utc(2026, 1, 1)
    began = time.perf_counter()
    found = calendar.active(t)
    assert found is not None and found[0] <= t < found[1]
    assert time.perf_counter() - began < 1.0

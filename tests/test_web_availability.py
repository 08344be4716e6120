"""The status page's daily availability, against hand-calculated day fractions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from agent.days import day_bounds
from agent.web.availability import (
    DayAvailability,
    MinuteCache,
    StateSpan,
    daily_availability,
    overall,
)

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
H = 3600.0


def at(text: str, tz: ZoneInfo = UTC) -> float:
    """A local wall-clock time in `tz` as POSIX seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def one_day(spans: list[StateSpan], day: str, tz: ZoneInfo = UTC, now: float | None = None,
            first_seen: float | None = 0.0) -> DayAvailability:
    date = dt.date.fromisoformat(day)
    end = day_bounds(date, tz)[1]
    [found] = daily_availability(spans, [date], tz, end + H if now is None else now,
                                 first_seen)
    return found


def test_an_hour_down_in_a_utc_day_leaves_23_of_24_hours():
    day = one_day([StateSpan("down", at("2026-06-10T09:00"), at("2026-06-10T10:00"))], "2026-06-10")
    assert day.watched == 24 * H and day.down == H
    assert day.availability == pytest.approx(23 / 24)


def test_the_dst_spring_day_has_23_hours_so_an_hour_down_leaves_22_of_23():
    start, end = day_bounds(dt.date(2026, 3, 29), LONDON)
    assert end - start == 23 * H
    down = StateSpan("down", at("2026-03-29T12:00", LONDON), at("2026-03-29T13:00", LONDON))
    day = one_day([down], "2026-03-29", LONDON)
    assert day.watched == 23 * H
    assert day.availability == pytest.approx(22 / 23)


def test_the_dst_autumn_day_has_25_hours():
    start, end = day_bounds(dt.date(2026, 10, 25), LONDON)
    assert end - start == 25 * H
    down = StateSpan("down", at("2026-10-25T00:30", LONDON), at("2026-10-25T05:30", LONDON))
    day = one_day([down], "2026-10-25", LONDON)
    assert day.down == 6 * H  # 00:30 to 05:30 local includes the repeated hour
    assert day.availability == pytest.approx(19 / 25)


def test_a_window_across_local_midnight_counts_on_both_days():
    spans = [StateSpan("down", at("2026-06-10T23:00", LONDON), at("2026-06-11T02:00", LONDON))]
    days = [dt.date(2026, 6, 10), dt.date(2026, 6, 11)]
    first, second = daily_availability(spans, days, LONDON, at("2026-06-12T00:00"), 0.0)
    assert (first.down, second.down) == (H, 2 * H)
    assert first.availability == pytest.approx(23 / 24)
    assert second.availability == pytest.approx(22 / 24)


def test_maintenance_and_unknown_time_is_left_out_of_the_day():
    spans = [
        StateSpan("maintenance", at("2026-06-10T00:00"), at("2026-06-10T02:00")),
        StateSpan("unknown", at("2026-06-10T20:00"), at("2026-06-10T22:00")),
        StateSpan("down", at("2026-06-10T10:00"), at("2026-06-10T11:00")),
    ]
    day = one_day(spans, "2026-06-10")
    assert (day.excluded, day.counted, day.down) == (4 * H, 20 * H, H)
    assert day.availability == pytest.approx(19 / 20)


def test_down_time_inside_maintenance_does_not_count_twice():
    spans = [StateSpan("maintenance", at("2026-06-10T10:00"), at("2026-06-10T12:00")),
             StateSpan("down", at("2026-06-10T11:00"), at("2026-06-10T13:00"))]
    day = one_day(spans, "2026-06-10")
    assert (day.excluded, day.down) == (2 * H, H)
    assert day.availability == pytest.approx(1 - 1 / 22)


def test_degraded_time_counts_as_available_but_is_reported():
    day = one_day([StateSpan("degraded", at("2026-06-10T10:00"), at("2026-06-10T13:00"))],
                  "2026-06-10")
    assert (day.degraded, day.down, day.availability) == (3 * H, 0.0, 1.0)


def test_only_the_time_since_the_system_was_first_seen_counts():
    spans = [StateSpan("down", at("2026-06-10T13:00"), at("2026-06-10T14:00"))]
    day = one_day(spans, "2026-06-10", first_seen=at("2026-06-10T12:00"))
    assert day.watched == 12 * H
    assert day.availability == pytest.approx(11 / 12)


def test_days_before_first_seen_or_never_seen_have_no_availability():
    days = [dt.date(2026, 6, 9), dt.date(2026, 6, 10)]
    before, seen = daily_availability([], days, UTC, at("2026-06-11T00:00"),
                                      at("2026-06-10T00:00"))
    assert before.availability is None and seen.availability == 1.0
    [never] = daily_availability([], days[:1], UTC, at("2026-06-11T00:00"), None)
    assert never.availability is None


def test_today_counts_until_now_and_an_open_window_runs_until_now():
    now = at("2026-06-10T12:00")
    spans = [StateSpan("down", at("2026-06-10T11:00"), None)]
    day = one_day(spans, "2026-06-10", now=now)
    assert (day.watched, day.down) == (12 * H, H)
    assert day.availability == pytest.approx(11 / 12)


def test_a_day_wholly_in_maintenance_has_no_availability():
    spans = [StateSpan("maintenance", at("2026-06-10T00:00"), at("2026-06-11T00:00"))]
    assert one_day(spans, "2026-06-10").availability is None


def test_overall_availability_is_weighted_by_counted_time():
    days = [DayAvailability(dt.date(2026, 6, 9), 24 * H, 0.0, 0.0, 0.0),
            DayAvailability(dt.date(2026, 6, 10), 24 * H, 6 * H, 0.0, 12 * H),
            DayAvailability(dt.date(2026, 6, 11), 0.0, 0.0, 0.0, 0.0)]
    assert overall(days) == pytest.approx(1 - 6 / 36)
    assert overall(days[2:]) is None


def test_the_minute_cache_answers_until_the_minute_turns():
    now = [120.0]
    cache = MinuteCache(lambda: now[0])
    cache.put("k", "answer")
    now[0] = 179.9
    assert cache.get("k") == "answer"
    now[0] = 180.0
    assert cache.get("k") is None


def test_an_imported_window_is_watched_for_its_own_span_only():
    # Found by review: windows imported for days before the agent first ran made those days
    # count as watched and up (1.0 of 86,400 s). Someone else observed the imported window's
    # own span; the rest of those days nobody watched.
    imported = StateSpan("down", at("2026-06-05T09:00"), at("2026-06-05T10:00"), imported=True)
    days = [dt.date(2026, 6, d) for d in (5, 6, 10)]
    on_it, after, watched = daily_availability([imported], days, UTC, at("2026-06-11T00:00"),
                                               at("2026-06-10T12:00"))
    assert (on_it.counted, on_it.down, on_it.availability) == (H, H, 0.0)
    assert (after.counted, after.availability) == (0.0, None)
    assert (watched.counted, watched.availability) == (12 * H, 1.0)

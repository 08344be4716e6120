"""agent.days: local midnights, against dates worked out by hand (DST days included)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from agent.days import day_bounds, last_days, local_days

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
H = 3600.0


def at(text: str, tz: ZoneInfo = UTC) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_a_day_runs_from_local_midnight_to_the_next():
    assert day_bounds(dt.date(2026, 6, 10), LONDON) == (at("2026-06-09T23:00"),
                                                        at("2026-06-10T23:00"))


def test_dst_days_last_23_and_25_hours():
    spring = day_bounds(dt.date(2026, 3, 29), LONDON)
    autumn = day_bounds(dt.date(2026, 10, 25), LONDON)
    assert spring[1] - spring[0] == 23 * H
    assert autumn[1] - autumn[0] == 25 * H


def test_a_range_splits_at_local_midnights_clipped_to_the_range():
    start, end = at("2026-03-28T22:00"), at("2026-03-30T01:00")  # across the spring change
    assert local_days(start, end, LONDON) == [
        ("2026-03-28", start, at("2026-03-29T00:00")),
        ("2026-03-29", at("2026-03-29T00:00"), at("2026-03-29T23:00")),  # 23 h: BST from 1 am
        ("2026-03-30", at("2026-03-29T23:00"), end),
    ]


def test_an_empty_range_has_no_days():
    assert local_days(at("2026-06-10T12:00"), at("2026-06-10T12:00"), UTC) == []


def test_the_last_days_end_today_in_the_timezone_oldest_first():
    now = at("2026-06-10T23:30")  # already 11 June in London (BST)
    assert last_days(now, 3, LONDON) == [dt.date(2026, 6, 9), dt.date(2026, 6, 10),
                                        dt.date(2026, 6, 11)]
    assert last_days(now, 1, UTC) == [dt.date(2026, 6, 10)]

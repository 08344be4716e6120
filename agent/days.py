"""Calendar days of a time zone as POSIX seconds: one home for local midnights, so the books,
reports and the status page all split time at the same instants. A day with a DST change
lasts 23 or 25 hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

Bounds = tuple[float, float]
MAX_DAYS_SPLIT = 100_000  # about 270 years: a bound on the loop, never reached by a real range


def day_bounds(day: dt.date, zone: ZoneInfo) -> Bounds:
    """Local midnight to the next local midnight."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.timestamp(), end.timestamp()


def local_date(at: float, zone: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(at, zone).date()


def local_days(start: float, end: float, zone: ZoneInfo) -> list[tuple[str, float, float]]:
    """Given a range, return its calendar days as ("YYYY-MM-DD", from, to), clipped to the
    range."""
    days: list[tuple[str, float, float]] = []
    day, a = local_date(start, zone), start
    for _ in range(MAX_DAYS_SPLIT):
        if a >= end:
            break
        b = min(end, day_bounds(day, zone)[1])
        days.append((day.isoformat(), a, b))
        day, a = day + dt.timedelta(days=1), b
    return days


def last_days(now: float, count: int, zone: ZoneInfo) -> list[dt.date]:
    """The `count` calendar days ending with today, oldest first."""
    today = local_date(now, zone)
    return [today - dt.timedelta(days=back) for back in range(count - 1, -1, -1)]

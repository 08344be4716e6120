"""Daily availability for the status page's bars, from the ledger's windows.

A day is a calendar day of `cost.timezone`, so it lasts 23 or 25 hours on a DST change. Of
the part of the day the system was watched (from when an agent first saw it until now, and
the span of each window imported for it: what someone else observed), time in
`maintenance` or `unknown` windows is excluded; `down` time counts against availability;
`degraded` time counts as available but is reported, as public status pages show a
partial outage.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from agent import spans as timespans
from agent.days import day_bounds

EXCLUDED = ("maintenance", "unknown")
Interval = timespans.Span
MAX_DAYS = 366


@dataclass(frozen=True)
class StateSpan:
    """A window as the availability arithmetic needs it: end None while still open."""

    state: str
    start: float
    end: float | None
    imported: bool = False  # observed by someone else: its own span counts as watched


@dataclass(frozen=True)
class DayAvailability:
    day: dt.date
    watched: float  # seconds of the day the system was watched, excluded time included
    down: float  # seconds down, outside excluded time
    degraded: float  # seconds degraded, outside excluded time
    excluded: float  # seconds in maintenance or unknown

    @property
    def counted(self) -> float:
        return max(0.0, self.watched - self.excluded)

    @property
    def availability(self) -> float | None:
        """The available share of the counted time; None when nothing of the day counts."""
        if self.counted <= 0:
            return None
        return max(0.0, 1.0 - self.down / self.counted)


@dataclass(frozen=True)
class History:
    """Availability on the days before today, and when each system was first seen."""

    days: dict[str, list[DayAvailability]]
    first_seen: dict[str, float]


def _outside(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    """The parts of `intervals` outside every hole."""
    return [part for span in intervals for part in timespans.subtract(span, holes)]


def _inside(intervals: list[Interval], lo: float, hi: float) -> float:
    """Seconds of `intervals` inside [lo, hi)."""
    return timespans.total(c for span in intervals if (c := timespans.clip(span, lo, hi)))


def daily_availability(
    spans: Iterable[StateSpan], days: Sequence[dt.date], tz: ZoneInfo, now: float,
    first_seen: float | None,
) -> list[DayAvailability]:
    """Given one system's windows, return its availability on each of `days` in `tz`.

    Only [first_seen, now) (when an agent first saw it) and the spans of imported windows
    are watched: a day with neither, or in the future, has no counted time and so no
    availability. Open windows run until `now`.
    """
    by_state: dict[str, list[Interval]] = {}
    observed = [(first_seen, now)] if first_seen is not None and first_seen < now else []
    for span in spans:
        end = now if span.end is None else min(span.end, now)
        by_state.setdefault(span.state, []).append((span.start, end))
        if span.imported and span.start < end:
            observed.append((span.start, end))
    watched = timespans.merge(observed)
    excluded = timespans.merge(i for state in EXCLUDED for i in by_state.get(state, []))
    down = _outside(timespans.merge(by_state.get("down", [])), excluded)
    degraded = _outside(_outside(timespans.merge(by_state.get("degraded", [])), excluded), down)
    result = []
    for day in days:
        start, end = _day_bounds(day, tz)
        seen = [c for span in watched if (c := timespans.clip(span, start, min(end, now)))]
        if not (down or degraded or excluded):  # most systems, most days: nothing to clip
            result.append(DayAvailability(day, timespans.total(seen), 0.0, 0.0, 0.0))
            continue
        result.append(DayAvailability(
            day=day, watched=timespans.total(seen), down=_within(down, seen),
            degraded=_within(degraded, seen), excluded=_within(excluded, seen)))
    return result


# Every system asks for the same days' bounds: worked out once each, not 10,000 times.
_day_bounds = functools.lru_cache(maxsize=1024)(day_bounds)


def _within(intervals: list[Interval], seen: list[Interval]) -> float:
    """Seconds of `intervals` inside the (disjoint) spans `seen`."""
    return sum(_inside(intervals, lo, hi) for lo, hi in seen)


def overall(days: Sequence[DayAvailability]) -> float | None:
    """Availability over several days, weighted by counted time; None if none counts."""
    counted = sum(d.counted for d in days)
    if counted <= 0:
        return None
    return max(0.0, 1.0 - sum(d.down for d in days) / counted)


def day_json(day: DayAvailability) -> dict[str, object]:
    share = day.availability
    return {
        "date": day.day.isoformat(),
        "availability": None if share is None else round(share, 6),
        "down_seconds": round(day.down, 3), "degraded_seconds": round(day.degraded, 3),
        "excluded_seconds": round(day.excluded, 3), "counted_seconds": round(day.counted, 3),
    }


def system_json(name: str, days: Sequence[DayAvailability]) -> dict[str, object]:
    """A system's availability over `days`, with the counted time it is a share of: a system
    watched for a day of the 90 has a day's figure, and says so."""
    share = overall(days)
    return {"name": name, "availability": None if share is None else round(share, 6),
            "down_seconds": round(sum(d.down for d in days), 3),
            "counted_seconds": round(sum(d.counted for d in days), 3),
            "days": [day_json(d) for d in days]}


class MinuteCache:
    """Keep one answer per key for the rest of the clock's current minute."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._answers: dict[object, tuple[int, object]] = {}

    def get(self, key: object) -> object | None:
        minute = int(self.clock() // 60)
        found = self._answers.get(key)
        if found is None or found[0] != minute:
            return None
        return found[1]

    def put(self, key: object, answer: object) -> None:
        minute = int(self.clock() // 60)
        self._answers = {k: v for k, v in self._answers.items() if v[0] == minute}
        self._answers[key] = (minute, answer)

"""Planned maintenance windows: when a system is expected to be down and costs nothing.

Recurring windows are crontab(5) expressions evaluated in the cost timezone, each firing a
period [fire, fire + duration); one-off windows are [start, end). Overlapping or touching
periods merge, so the agent sees one continuous planned period rather than a flicker.

Cron is matched by cronsim (healthchecks.io's), which reads crontab(5) as cron does: day-of-week
0 and 7 are Sunday, and the two day fields OR when both are restricted (APScheduler's
CronTrigger reads 0 as Monday and ANDs them). An expression is first checked here against
crontab(5)'s grammar, for two reasons: cronsim's errors name only the field ("Bad minute"),
where ours say what is wrong with it; and cronsim also takes what crontab(5) does not (a
seconds field, L, W, #, a step after a single number), which would let a config through that
cron itself refuses. The check hands cronsim the expression with names turned into numbers.

cronsim walks naive local wall times here, each then read in the zone with fold=0 (see
`_Recurring._compute_fires_on`). Given an aware time, cronsim would follow Debian's cron instead:
a wall time skipped in spring fires at the change, and an expression with `*` for its minute or
hour fires in both of autumn's repeated hours. The planned periods are what reports and the
ledger already hold, so they stay as they were.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from agent.days import local_date
from agent.model import Maintenance
from agent.spans import merge

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# crontab(5) shorthands; @reboot has no meaning for a calendar and is rejected.
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    _Field("day-of-week", 0, 7, {n: i for i, n in enumerate(_DAYS)}),
)


class CronError(ValueError):
    """An expression that crontab(5) would reject; the message is ready for the user."""


def cron_error(expr: str) -> str | None:
    """Given a crontab(5) expression, return why it is invalid, or None when it is valid."""
    try:
        parse_cron(expr)
    except CronError as err:
        return str(err)
    return None


def parse_cron(expr: str) -> str:
    """Given a 5-field crontab(5) expression, return it as cronsim is to read it (five fields
    of numbers, "*" and steps: "0 22 * * sun" -> "0 22 * * 0"); raise CronError if invalid."""
    parts = _ALIASES.get(expr.strip().lower(), expr).split()
    if len(parts) != 5:
        raise CronError(
            f"cron: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(parts)} in {expr!r}"
        )
    return " ".join(_field(text, field) for text, field in zip(parts, _FIELDS, strict=True))


def _field(text: str, field: _Field) -> str:
    """Given one field ("1-5/2,sat"), return it in numbers ("1-5/2,6"); raise CronError."""
    items = text.split(",")
    if "" in items:
        raise CronError(f"cron: empty list item in {field.name} {text!r}")
    return ",".join(_item(item, field) for item in items)


def _item(item: str, field: _Field) -> str:
    """Given one list item ("*", "5", "mon-fri", "*/15", "1-10/3"), return it in numbers."""
    span, slash, step = item.partition("/")
    if slash:
        if not _is_number(step) or int(step) == 0:
            raise CronError(f"cron: {field.name} step {step!r} is not a positive number")
        if span != "*" and "-" not in span:
            raise CronError(f"cron: {field.name} step needs a range or '*', got {item!r}")
    if span == "*":
        return item
    first, dash, last = span.partition("-")
    low = _value(first, field, end=False)
    high = _value(last, field, end=True) if dash else low
    if high < low:
        raise CronError(f"cron: {field.name} range {span!r} runs backwards")
    return f"{low}-{high}{slash}{step}" if dash else str(low)


def _value(text: str, field: _Field, end: bool) -> int:
    """Given a number or name, return its value; "sun" ends a range as 7 so "mon-sun" works."""
    name = text.lower()
    if name in field.names:
        value = field.names[name]
        return 7 if end and field.name == "day-of-week" and value == 0 else value
    if not text:
        raise CronError(f"cron: {field.name} range is missing a number")
    if not _is_number(text):
        raise CronError(f"cron: {field.name} {text!r} is not a number or name")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"cron: {field.name} {value} out of range {field.low}-{field.high}")
    return value


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _firing(expr: str) -> str | None:
    """Given a valid expression, return it as cronsim reads it, or None if it never fires:
    cronsim refuses a day of the month that none of its months has ("0 0 31 2 *"), which
    crontab(5) takes (and never runs)."""
    text = parse_cron(expr)
    try:
        CronSim(text, dt.datetime(2000, 1, 1))  # noqa: DTZ001 - wall times, no zone
    except CronSimError:
        return None
    return text


# --- the calendar ---------------------------------------------------------------------------

_DAY = 86400.0
# How far either side of t a chain of touching planned periods is followed. Beyond it the
# chain is reported as found: planned work running for weeks is a misconfiguration, and
# following "* * * * *" with a 1-minute duration for ever would never end.
_MERGE_HORIZON = 8 * _DAY

Period = tuple[float, float]


class _Recurring:
    """One cron window: fire times in a timezone, each opening [fire, fire + duration)."""

    def __init__(self, cron: str | None, duration: float, zone: ZoneInfo):
        self.cron = cron  # as cronsim reads it; None: it never fires
        self.duration = duration
        self.zone = zone
        # Cached per local date: active() runs on every evaluation of every system.
        self._fires_on = lru_cache(maxsize=256)(self._compute_fires_on)

    def _walls(self, day: dt.date) -> Iterator[dt.datetime]:
        """Given a local date, return the wall times it fires at from that day on, in order
        (cronsim gives up after 50 years without one)."""
        if self.cron is None:
            return iter(())
        return CronSim(self.cron, dt.datetime.combine(day, dt.time()) - dt.timedelta(seconds=1))

    def _compute_fires_on(self, day: dt.date) -> tuple[float, ...]:
        """Given a local date, return its fire times as POSIX seconds, in order.

        A wall time in the spring-forward gap or the repeated autumn hour is read with
        fold=0 (zoneinfo's default): a gap time fires at the same distance past the
        transition, a repeated time fires once, at its first occurrence. The set drops the
        duplicate a gap time can make with a real time ("30 1,2 * * *").
        """
        walls = itertools.takewhile(lambda wall: wall.date() == day, self._walls(day))
        return tuple(sorted({wall.replace(tzinfo=self.zone).timestamp() for wall in walls}))

    def fires(self, lo: float, hi: float) -> list[float]:
        """Given lo < hi, return the fire times in (lo, hi], in order."""
        found = [f for day in _local_days(lo, hi, self.zone) for f in self._fires_on(day)]
        return sorted(f for f in found if lo < f <= hi)

    def periods(self, lo: float, hi: float) -> list[Period]:
        """Given lo <= hi, return the periods touching [lo, hi] (start <= hi, end >= lo)."""
        if self.duration <= 0:
            return []
        return [(f, f + self.duration) for f in self.fires(lo - self.duration - 1.0, hi)]


def next_fire(cron: str, zone: ZoneInfo, after: float) -> float | None:
    """Given a crontab(5) expression, return the first time it fires after `after` in `zone`
    (as planned maintenance reads it), or None if it fires in none of the next eight years
    (a leap day's is up to eight years off; "0 0 31 2 *" never)."""
    recurring = _Recurring(_firing(cron), 0.0, zone)
    lo = after
    for span in (2 * _DAY, 40 * _DAY, 400 * _DAY, 2923 * _DAY):
        fires = recurring.fires(lo, after + span)
        if fires:
            return fires[0]
        lo = after + span
    return None


class MaintenanceCalendar:
    """The merged planned periods of one system, from its recurring and one-off windows."""

    def __init__(self, windows: tuple[Maintenance, ...], timezone: str = "UTC"):
        """Given validated windows, build the calendar; raise ValueError if one is invalid."""
        zone = ZoneInfo(timezone)
        self._recurring: list[_Recurring] = []
        self._one_off: list[Period] = []
        for window in windows:
            if window.cron is not None:
                self._recurring.append(
                    _Recurring(_firing(window.cron), window.duration or 0.0, zone)
                )
            elif window.start is not None and window.end is not None:
                self._one_off.append(_one_off(window.start, window.end))
            else:
                raise ValueError("maintenance: needs cron and duration, or start and end")
        self._longest = max((r.duration for r in self._recurring), default=0.0)
        self._last: Period | None = None  # the last complete period found: a cheap repeat

    def active(self, t: float) -> Period | None:
        """Given t, return the merged planned period containing it (start <= t < end)."""
        last = self._last
        if last is not None and last[0] <= t < last[1]:
            return last
        return self._find(t)

    def _find(self, t: float) -> Period | None:
        """Widen the search around t until the period containing t ends inside it."""

        reach = self._longest + _DAY
        while True:
            found = _containing(merge(self._raw(t - reach, t + reach)), t)
            if found is None:
                return None
            if t - reach < found[0] and found[1] < t + reach:
                self._last = found
                return found
            if reach >= _MERGE_HORIZON:
                return found
            reach = min(2 * reach, _MERGE_HORIZON)

    def periods(self, start: float, end: float) -> list[Period]:
        """Given a range, return the merged planned periods overlapping it, clipped to it."""
        if end <= start:
            return []
        clipped = [(max(s, start), min(e, end)) for s, e in merge(self._raw(start, end))]
        return [(s, e) for s, e in clipped if s < e]

    def _raw(self, lo: float, hi: float) -> list[Period]:
        """Given lo <= hi, return every unmerged period touching [lo, hi]."""
        found = [(s, e) for s, e in self._one_off if s <= hi and e >= lo]
        for recurring in self._recurring:
            found += [(s, e) for s, e in recurring.periods(lo, hi) if s <= hi and e >= lo]
        return found


def _one_off(start: dt.datetime, end: dt.datetime) -> Period:
    """Given aware datetimes, return the period; naive ones would silently use the host zone."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("maintenance: start and end must carry a timezone")
    return (start.timestamp(), end.timestamp())


def _containing(periods: list[Period], t: float) -> Period | None:
    return next(((s, e) for s, e in periods if s <= t < e), None)


def _local_days(lo: float, hi: float, zone: ZoneInfo) -> Iterator[dt.date]:
    """Given lo <= hi, return the local dates that can hold a fire in (lo, hi], with a margin."""
    day = local_date(lo, zone) - dt.timedelta(days=1)
    last = local_date(hi, zone) + dt.timedelta(days=1)
    while day <= last:
        yield day
        day += dt.timedelta(days=1)

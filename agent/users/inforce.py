"""Users in force at time t: the measured figure as a step function between readings, the
schedule (the fallback) wherever no fresh reading is. Pure, and the one definition the live
books and the reports both cost with, so they agree to the penny.

A reading taken at t applies from t until the next reading, or until three of its source's
periods have passed (it is stale then), whichever comes first. A reading that failed (no
value) puts the fallback in force from its time. Before the first reading, the fallback.
Readings only ever join at the end, at or after the books' horizon, so nothing the books
have already counted changes (agent.users.duty dates them so).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterator

from agent.cost import UsersCalendar

STALE_PERIODS = 3  # a reading older than this many periods of its source is not used
# No source measures more people than this: a reading above it is refused (the fallback is
# in force), whatever its `max`, so users x any hourly cost stays a finite sum of money.
MAX_USERS = 10_000_000.0


class Readings:
    """One group's readings, oldest first, in compact arrays (a month at one a minute is
    43,200 of them). NaN stands for a failed reading."""

    def __init__(self) -> None:
        self._at = array("d")
        self._value = array("d")
        self._until = array("d")  # where each stops applying if no later reading comes

    def __len__(self) -> int:
        return len(self._at)

    @property
    def latest(self) -> float | None:
        """The time of the latest reading, if any."""
        return self._at[-1] if self._at else None

    def add(self, at: float, value: float | None, period: float) -> None:
        """Append a reading from `at`; raise ValueError if it is dated before the latest."""
        if self._at and at < self._at[-1]:
            raise ValueError(f"users reading at {at} before the latest, {self._at[-1]}")
        if self._at and at == self._at[-1]:  # the later of two at one instant stands
            self._value[-1], self._until[-1] = _stored(value), at + STALE_PERIODS * period
            return
        self._at.append(at)
        self._value.append(_stored(value))
        self._until.append(at + STALE_PERIODS * period)

    def forget(self, before: float) -> None:
        """Drop readings that stop applying before `before`: nothing will ask about them."""
        cut = bisect.bisect_left(self._at, before) - 1
        if cut > 0:
            del self._at[:cut], self._value[:cut], self._until[:cut]

    def value_at(self, t: float) -> float | None:
        """The measured users in force at t, or None where the fallback is."""
        i = bisect.bisect_right(self._at, t) - 1
        if i < 0 or t >= self._until[i]:
            return None
        return _loaded(self._value[i])

    def pieces(self, start: float, end: float) -> Iterator[tuple[float, float, float | None]]:
        """Given start < end, yield (a, b, measured users or None for the fallback) covering
        [start, end) in order."""
        i = bisect.bisect_right(self._at, start) - 1
        a = start
        while a < end:
            nxt = self._at[i + 1] if i + 1 < len(self._at) else end
            if i >= 0 and a < self._until[i]:
                b = min(self._until[i], nxt, end)
                yield a, b, _loaded(self._value[i])
            else:
                b = min(nxt, end)
                yield a, b, None
            a = b
            if b >= nxt:
                i += 1


class MeasuredCalendar:
    """A group's users calendar with readings laid over it: U(t) is the reading in force, the
    schedule where none is. Measured users cost the group's hourly cost per user (a window's
    shift rate belongs to the schedule, so it applies while the schedule is in force)."""

    def __init__(self, fallback: UsersCalendar, readings: Readings, hourly: float) -> None:
        self.fallback = fallback
        self.readings = readings
        self._hourly = hourly

    def users_at(self, t: float) -> float:
        measured = self.readings.value_at(t)
        return self.fallback.users_at(t) if measured is None else measured

    def cost_rate_at(self, t: float) -> float:
        measured = self.readings.value_at(t)
        return self.fallback.cost_rate_at(t) if measured is None else measured * self._hourly

    def user_seconds(self, start: float, end: float) -> float:
        if end <= start:
            return 0.0
        return sum(self.fallback.user_seconds(a, b) if u is None else u * (b - a)
                   for a, b, u in self.readings.pieces(start, end))

    def money_seconds(self, start: float, end: float) -> float:
        """The exact integral of U(t) x hourly(t) over [start, end), piece by piece."""
        if end <= start:
            return 0.0
        return sum(self.fallback.money_seconds(a, b) if u is None else u * self._hourly * (b - a)
                   for a, b, u in self.readings.pieces(start, end))

    def measured_money_seconds(self, start: float, end: float) -> float:
        """The part of `money_seconds` where a reading was in force."""
        if end <= start:
            return 0.0
        return sum(u * self._hourly * (b - a)
                   for a, b, u in self.readings.pieces(start, end) if u is not None)

    # Business hours and peaks are the schedule's: a reading says who is on, not when work is.

    def business_spans(self, start: float, end: float) -> list[tuple[float, float]]:
        return self.fallback.business_spans(start, end)

    def business_seconds(self, start: float, end: float) -> float:
        return self.fallback.business_seconds(start, end)

    def peak_users(self) -> float:
        return self.fallback.peak_users()

    def peak_cost_rate(self) -> float:
        return self.fallback.peak_cost_rate()


class MeasuredPart:
    """The rate of a measured calendar where readings were in force, nothing elsewhere: the
    books over it say what share of a report's cost measured users carry."""

    def __init__(self, calendar: MeasuredCalendar) -> None:
        self._calendar = calendar

    def money_seconds(self, start: float, end: float) -> float:
        return self._calendar.measured_money_seconds(start, end)


def usable(value: float | None) -> bool:
    """Whether `value` can be costed as users: finite, not negative, at most MAX_USERS."""
    return value is not None and math.isfinite(value) and 0 <= value <= MAX_USERS


def _stored(value: float | None) -> float:
    # Anything that cannot be costed (a ledger written before the bound, say) is a failed
    # reading, so no NaN or infinity from a source ever reaches the books.
    return value if value is not None and usable(value) else float("nan")


def _loaded(value: float) -> float | None:
    return None if value != value else value  # NaN: a failed reading

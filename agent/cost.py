"""The money: outage time x concurrent users affected x their hourly cost.

The cost of a user-hour comes from `hourly_cost_per_user`; U(t), the concurrent users of a
group of people, from the users calendar, whose windows may carry their own hourly rate (a
night shift). How the time lost to systems that are down at once combines, and is shared out
among them, is agent.loss; the exact integration over time is agent.books.

Times are POSIX seconds; local time appears only inside the calendar, which converts every
schedule boundary to UTC per date so DST days are 23 h or 25 h long and integrals stay exact.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from agent.model import UsersSchedule, UsersWindow

_ONE_DAY = dt.timedelta(days=1)


def hourly_cost_per_user(annual_cost: float, working_hours_per_year: float = 1924.0) -> float:
    """Given a yearly cost of one user and their working hours, return the cost of an hour.

    1924 h = 52 weeks x 37 h; raise ValueError if the hours are not positive.
    """
    if working_hours_per_year <= 0:
        raise ValueError("working hours per year must be positive")
    return annual_cost / working_hours_per_year


def staff_cost_rate(
    users: float, hourly_cost_per_user: float, users_share: float, impact: float
) -> float:
    """Given concurrent users and a system's share and impact, return its staff cost per hour."""
    return users * hourly_cost_per_user * users_share * impact


def cost_of(user_seconds: float, hourly_cost_per_user: float, weight: float) -> float:
    """Given the integral of U(t) over an interval, return the staff cost of that interval."""
    return user_seconds / 3600.0 * hourly_cost_per_user * weight


def direct_cost_of(seconds: float, direct_cost_per_hour: float) -> float:
    """Given seconds down, return the direct cost (lost sales, penalties) of that time."""
    return seconds / 3600.0 * direct_cost_per_hour


# --- bank holidays --------------------------------------------------------------------------


def _split_holidays(spec: str) -> tuple[str, str | None]:
    """Given "GB-ENG", return ("GB", "ENG"); the subdivision is after the first '-'."""
    country, _, subdiv = spec.partition("-")
    return country, subdiv or None


@lru_cache(maxsize=256)
def _holiday_dates(spec: str, year: int) -> frozenset[dt.date]:
    """Given a spec and a year, return its bank holidays; cached as building them is slow."""
    country, subdiv = _split_holidays(spec)
    found = holidays_lib.country_holidays(country, subdiv=subdiv, years=year)
    return frozenset(found.keys())


# --- the users calendar ---------------------------------------------------------------------


# (rank, start, end, users, hourly rate); the lowest rank wins
_Span = tuple[int, float, float, float, float]


@dataclass(frozen=True)
class _Day:
    """One local date as pieces of constant users: bounds[i] to bounds[i + 1] has users[i].

    money[i] is users[i] x the hourly rate there (per hour); busy[i] is 1.0 inside a window
    that applies, else 0.0; cum_* are running integrals from bounds[0], so any integral
    inside the day is two lookups.
    """

    date: dt.date
    bounds: tuple[float, ...]
    users: tuple[float, ...]
    money: tuple[float, ...]
    busy: tuple[float, ...]
    cum_users: tuple[float, ...]
    cum_money: tuple[float, ...]
    cum_busy: tuple[float, ...]

    def user_area(self, a: float, b: float) -> float:
        return _area(self.bounds, self.users, self.cum_users, a, b)

    def money_area(self, a: float, b: float) -> float:
        return _area(self.bounds, self.money, self.cum_money, a, b)

    def busy_area(self, a: float, b: float) -> float:
        return _area(self.bounds, self.busy, self.cum_busy, a, b)


def _area(
    bounds: tuple[float, ...], rates: tuple[float, ...], cum: tuple[float, ...], a: float, b: float
) -> float:
    """Given a <= b inside one day, return the integral of the piecewise-constant rate."""
    last = len(rates) - 1
    i = min(bisect_right(bounds, a) - 1, last)
    j = min(bisect_right(bounds, b) - 1, last)
    if i == j:
        return rates[i] * (b - a)
    return cum[j] + rates[j] * (b - bounds[j]) - cum[i] - rates[i] * (a - bounds[i])


def _running(bounds: list[float], rates: list[float]) -> tuple[float, ...]:
    total = [0.0]
    for k, rate in enumerate(rates):
        total.append(total[-1] + rate * (bounds[k + 1] - bounds[k]))
    return tuple(total)


class UsersCalendar:
    """U(t): concurrent users by time of day in a timezone, with bank holidays; and, given
    the cost of a user-hour, the cost per hour of all of them, U(t) x hourly(t), where a
    window with its own `hourly_cost_per_user` (a shift rate) overrides `hourly`.

    Windows are local wall-clock times. A window belongs to the weekday it starts on and may
    cross midnight (22:00-06:00; an end <= start ends the next day, so 00:00-00:00 is the
    whole day). Where windows overlap the first listed wins; outside them U is the default.
    On a bank holiday windows starting that day do not apply, but a window that started the
    evening before still runs into it: the night shift was already at work.

    Local times convert with zoneinfo's fold=0: a boundary in the spring-forward gap lands
    as far past the transition as it was written past the hour (01:30 becomes 02:30 BST);
    one in the repeated autumn hour is its first occurrence. A window whose end falls before
    its start that way is empty, never negative.
    """

    def __init__(self, schedule: UsersSchedule, timezone: str = "UTC", hourly: float = 0.0):
        self._schedule = schedule
        self._zone = ZoneInfo(timezone)
        self._windows = schedule.windows
        self._hourly = hourly
        self._flat = all(w.hourly_cost_per_user is None for w in self._windows)
        # Dates are built once: this runs on every metrics scrape for every system.
        self._day = lru_cache(maxsize=1024)(self._build_day)
        self._last: _Day | None = None  # the date of the last lookup: the usual next one

    def users_at(self, t: float) -> float:
        """Given t, return the concurrent users at t."""
        if not self._windows:
            return self._schedule.default
        day = self._day_at(t)
        return day.users[min(bisect_right(day.bounds, t) - 1, len(day.users) - 1)]

    def user_seconds(self, start: float, end: float) -> float:
        """Given a range, return the exact integral of U(t) dt over it; 0 if end <= start."""
        if end <= start:
            return 0.0
        if not self._windows:
            return self._schedule.default * (end - start)
        day = self._day_at(start)
        if end <= day.bounds[-1]:
            return day.user_area(start, end)
        return self._integrate(start, end, _Day.user_area)

    def money_seconds(self, start: float, end: float) -> float:
        """Given a range, return the exact integral of U(t) x hourly(t) dt over it: divided
        by 3600, what everyone's time in it costs; 0 if end <= start."""
        if end <= start:
            return 0.0
        if self._flat:
            return self.user_seconds(start, end) * self._hourly
        day = self._day_at(start)
        if end <= day.bounds[-1]:
            return day.money_area(start, end)
        return self._integrate(start, end, _Day.money_area)

    def cost_rate_at(self, t: float) -> float:
        """Given t, return U(t) x hourly(t): what everyone's time costs per hour at t."""
        if self._flat:
            return self.users_at(t) * self._hourly
        day = self._day_at(t)
        return day.money[min(bisect_right(day.bounds, t) - 1, len(day.money) - 1)]

    def peak_cost_rate(self) -> float:
        """Return the largest U x hourly the default or any window can give."""
        return max([self._schedule.default * self._hourly,
                    *(w.users * self._rate(w) for w in self._windows)])

    def business_spans(self, start: float, end: float) -> list[tuple[float, float]]:
        """Given a range, return the pieces of it inside windows on non-holidays, in order."""
        if end <= start:
            return []
        if not self._windows:
            return [(start, end)]
        out: list[tuple[float, float]] = []
        for a, b, busy in self._pieces(start, end):
            if not busy:
                continue
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        return out

    def business_seconds(self, start: float, end: float) -> float:
        """Given a range, return the seconds in it inside windows on non-holidays.

        This is the denominator of "availability in business hours". A schedule with no
        windows has no notion of business hours, so every hour counts and business
        availability equals 24x7 availability.
        """
        if end <= start:
            return 0.0
        if not self._windows:
            return end - start
        return self._integrate(start, end, _Day.busy_area)

    def peak_users(self) -> float:
        """Return the largest U the default or any window can give: the most U(t) can be."""
        return max([self._schedule.default, *(w.users for w in self._windows)])

    def _integrate(
        self, start: float, end: float, area: Callable[[_Day, float, float], float]
    ) -> float:
        """Given a range, return the sum of a per-day integral over the dates it spans."""
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError("users calendar: range must be finite")
        total = 0.0
        day = self._day_at(start)
        a = start
        while True:
            hi = day.bounds[-1]
            total += area(day, a, min(end, hi))
            if end <= hi:
                return total
            a = hi
            day = self._day(day.date + _ONE_DAY)

    def _pieces(self, start: float, end: float) -> Iterator[tuple[float, float, float]]:
        """Given a finite range, yield (a, b, busy) for the day pieces overlapping it,
        clipped, in order."""
        day = self._day_at(start)
        while True:
            for k, busy in enumerate(day.busy):
                a, b = max(start, day.bounds[k]), min(end, day.bounds[k + 1])
                if a < b:
                    yield a, b, busy
            if end <= day.bounds[-1]:
                return
            day = self._day(day.date + _ONE_DAY)

    def _day_at(self, t: float) -> _Day:
        """Given t, return the day whose [first, last bound) holds it."""
        last = self._last
        if last is not None and last.bounds[0] <= t < last.bounds[-1]:
            return last
        day = self._day(dt.datetime.fromtimestamp(t, self._zone).date())
        # A repeated or skipped local midnight can put t in a neighbouring day.
        while t < day.bounds[0]:
            day = self._day(day.date - _ONE_DAY)
        while t >= day.bounds[-1]:
            day = self._day(day.date + _ONE_DAY)
        self._last = day
        return day

    def _build_day(self, date: dt.date) -> _Day:
        """Given a local date, return its pieces from local midnight to the next one."""
        lo, hi = self._instant(date, dt.time()), self._instant(date + _ONE_DAY, dt.time())
        spans = self._window_spans(date - _ONE_DAY) + self._window_spans(date)
        clipped = [
            (rank, max(a, lo), min(b, hi), u, m) for rank, a, b, u, m in spans
            if a < hi and b > lo
        ]
        default = (self._schedule.default, self._schedule.default * self._hourly)
        bounds, users, money, busy = _flatten(clipped, lo, hi, default)
        return _Day(
            date=date,
            bounds=tuple(bounds),
            users=tuple(users),
            money=tuple(money),
            busy=tuple(busy),
            cum_users=_running(bounds, users),
            cum_money=_running(bounds, money),
            cum_busy=_running(bounds, busy),
        )

    def _window_spans(self, date: dt.date) -> list[_Span]:
        """Given a local date, return (rank, start, end, users, users x rate) of the windows
        starting on it."""
        if self._is_holiday(date):
            return []
        return [
            (rank, *self._span(date, window), window.users, window.users * self._rate(window))
            for rank, window in enumerate(self._windows)
            if date.weekday() in window.days
        ]

    def _rate(self, window: UsersWindow) -> float:
        rate = window.hourly_cost_per_user
        return self._hourly if rate is None else rate

    def _span(self, date: dt.date, window: UsersWindow) -> tuple[float, float]:
        """Given a window starting on a date, return its UTC span, empty rather than negative."""
        end_date = date if window.end > window.start else date + _ONE_DAY
        a = self._instant(date, window.start)
        return a, max(a, self._instant(end_date, window.end))

    def _instant(self, date: dt.date, time: dt.time) -> float:
        """Given a local date and wall time, return POSIX seconds, reading it with fold=0."""
        local = dt.datetime.combine(date, time.replace(fold=0, tzinfo=None), tzinfo=self._zone)
        return local.timestamp()

    def _is_holiday(self, date: dt.date) -> bool:
        spec = self._schedule.holidays
        return spec is not None and date in _holiday_dates(spec, date.year)


def _flatten(
    spans: list[_Span], lo: float, hi: float, default: tuple[float, float]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Given window spans inside [lo, hi] and the (users, money) outside them, return
    bounds, users, money and busy flags of the pieces.

    Neighbouring pieces with the same users, money and flag merge, so a day has few pieces.
    """
    cuts = sorted({lo, hi, *(s[1] for s in spans), *(s[2] for s in spans)})
    bounds: list[float] = [lo]
    pieces: list[tuple[float, float, float]] = []  # (users, money, busy)
    for a, b in itertools.pairwise(cuts):
        covering = [s for s in spans if s[1] <= a and s[2] >= b]
        piece = (*min(covering)[3:], 1.0) if covering else (*default, 0.0)
        if pieces and pieces[-1] == piece:
            bounds[-1] = b
        else:
            bounds.append(b)
            pieces.append(piece)
    if not pieces:  # a date the zone skipped altogether (Pacific/Apia 2011-12-30)
        return [lo, lo], [default[0]], [default[1]], [0.0]
    users, money, busy = (list(column) for column in zip(*pieces, strict=True))
    return bounds, users, money, busy

"""The money of recorded windows, worked out again the way the live counters were: one sweep
through time over the same books (agent.books), with the cost basis in force at each instant.

A report holds windows the engine never saw together (imported history, a corrected root
cause, a void that frees what another window was attributed), so it costs them all again
together: each stretch of a window that counts is a member of the books from its start to
its end, its users' lost time combined per group with everything else down at the time and
attributed to its root cause's window. For live windows with no change of basis this is the
same arithmetic, in the same order of events, as the live counters.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from agent.basis import CostBasis
from agent.books import Books, Rate, Weights
from agent.days import local_days
from agent.loss import NOTHING, weight_of
from agent.records import Basis
from agent.users.inforce import MeasuredCalendar, MeasuredPart

Era = tuple[float, CostBasis]  # a cost basis and when it came into force


@dataclass(frozen=True, slots=True)
class Stretch:
    """A piece of a window that counts: `system` loses its users' time, for `payee`."""

    window: int  # the window's id
    payee: int  # the id of its root cause's window (its own if it is one)
    system: str
    state: str  # down | degraded
    start: float
    end: float
    impact: float | None = None  # the window's own (imported with one); None: the basis's
    recorded: Basis | None = None  # the window's stored basis: for a system the basis lacks


@dataclass(slots=True)
class Money:
    """What one window comes to: staff time attributed to it as a root cause, and its own
    direct costs, in all and by local day."""

    staff: float = 0.0
    direct: float = 0.0
    days: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    staff_days: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    measured: float = 0.0  # the part of `staff` costed with measured users (agent.users)


def eras_in_force(bases: Sequence[Era], start: float, stop: float) -> list[Era]:
    """Given every recorded basis (oldest first), return those in force in [start, stop),
    the first from `start`: instants before the earliest recorded one use the earliest."""
    if not bases:
        raise ValueError("no cost basis")
    ordered = sorted(bases, key=lambda era: era[0])
    before = [era for era in ordered if era[0] <= start]
    # Before the earliest recorded basis, the earliest holds: it is the first era, not a
    # second one (one start after the range began recorded one basis, in force throughout).
    current = before[-1] if before else ordered[0]
    eras = [(start, current[1])]
    for since, basis in ordered:
        if start < since < stop and basis.digest != eras[-1][1].digest:
            eras.append((since, basis))
    return eras


class _Sweep:
    """The books over a range, through every change of basis."""

    def __init__(self, eras: Sequence[Era], zone: ZoneInfo, start: float, stop: float):
        self.eras = list(eras)
        self.names = list(dict.fromkeys(g.name for _, b in eras for g in b.groups))
        self.days = local_days(start, stop, zone)
        self.midnights = [a for _, a, _ in self.days]
        self.era = 0
        self.books = Books(self._rates(self.eras[0][1]), start)
        # The same books over measured users alone, where any group is measured: what part
        # of each figure rests on readings rather than the schedule.
        measured = any(b.readings for _, b in self.eras)
        self.measured = Books(self._measured(self.eras[0][1]), start) if measured else None
        self.money: dict[int, Money] = defaultdict(Money)

    def _rates(self, basis: CostBasis) -> list[Rate | None]:
        by_name = dict(zip((g.name for g in basis.groups), basis.calendars, strict=True))
        return [by_name.get(name) for name in self.names]

    def _measured(self, basis: CostBasis) -> list[Rate | None]:
        return [MeasuredPart(c) if isinstance(c, MeasuredCalendar) else None
                for c in self._rates(basis)]

    def join(self, weights: Weights, at: float) -> None:
        for books in self._books():
            books.join(weights, at)

    def leave(self, weights: Weights, at: float) -> None:
        for books in self._books():
            books.leave(weights, at)

    def set_rates(self, basis: CostBasis, at: float) -> None:
        self.books.set_rates(self._rates(basis), at)
        if self.measured is not None:
            self.measured.set_rates(self._measured(basis), at)

    def _books(self) -> list[Books]:
        return [self.books] if self.measured is None else [self.books, self.measured]

    def weights(self, stretch: Stretch) -> tuple[Weights, float]:
        """A stretch's weight in each group and direct cost per hour, under the basis now."""
        basis = self.eras[self.era][1]
        known = basis.systems.get(stretch.system)
        if known is None and stretch.recorded is not None:  # no longer configured
            first = basis.groups[0].name
            impact = stretch.recorded.impact if stretch.impact is None else stretch.impact
            shares = {first: stretch.recorded.users_share}
            direct = stretch.recorded.direct_cost_per_hour
        else:
            impact = basis.impact(stretch.system, stretch.state) if stretch.impact is None else (
                stretch.impact)
            shares = dict(known.shares) if known is not None else {}
            direct = basis.direct_rate(stretch.system)
        weights = tuple(weight_of(shares.get(name, 0.0) * impact) if name in shares else NOTHING
                        for name in self.names)
        return weights, direct if stretch.state == "down" else 0.0

    def settle(self, stretch: Stretch, weights: Weights, direct: float, a: float,
               b: float) -> None:
        for x, y, day in self._pieces(a, b):
            payee = self.money[stretch.payee]
            payee.staff += (staff := self.books.staff(weights, x, y))
            payee.days[day] += staff
            payee.staff_days[day] += staff
            if self.measured is not None:
                payee.measured += self.measured.staff(weights, x, y)
            own = direct * (y - x) / 3600.0
            self.money[stretch.window].direct += own
            self.money[stretch.window].days[day] += own

    def _pieces(self, a: float, b: float) -> list[tuple[float, float, str]]:
        """[a, b) split at local midnights: (x, y, "YYYY-MM-DD")."""
        first = max(0, bisect.bisect_right(self.midnights, a) - 1)
        out = []
        for name, x, y in self.days[first:]:
            if x >= b:
                break
            lo, hi = max(a, x), min(b, y)
            if lo < hi:
                out.append((lo, hi, name))
        return out


_CLOSE, _ERA, _OPEN = 0, 1, 2  # at one instant: what ends, then a new basis, then what starts


def cost_stretches(stretches: Iterable[Stretch], eras: Sequence[Era], zone: ZoneInfo,
                   start: float, stop: float) -> dict[int, Money]:
    """Given the stretches that count inside [start, stop) and the bases in force over it
    (`eras_in_force`), return the money of each window by id."""
    sweep = _Sweep(eras, zone, start, stop)
    order = itertools.count()
    events: list[tuple[float, int, int, int, Stretch | None]] = []  # (at, kind, order, key, s)
    for key, stretch in enumerate(stretches):
        a, b = max(stretch.start, start), min(stretch.end, stop)
        if a < b:
            events.append((a, _OPEN, next(order), key, stretch))
            events.append((b, _CLOSE, next(order), key, stretch))
    events += [(since, _ERA, next(order), -1, None) for since, _ in eras[1:]]
    events.sort()
    active: dict[int, tuple[Stretch, Weights, float, float]] = {}  # key -> (s, w, direct, mark)
    for at, kind, _, key, given in events:
        if kind == _ERA:
            _switch(sweep, active, at)
        elif kind == _OPEN and given is not None:
            weights, direct = sweep.weights(given)
            sweep.join(weights, at)
            active[key] = (given, weights, direct, at)
        else:
            stretch, weights, direct, mark = active.pop(key)
            sweep.settle(stretch, weights, direct, mark, at)
            sweep.leave(weights, at)
            if key % _PRUNE_EVERY == 0:  # marks no member can be settled from: a year's
                oldest = min((m for *_, m in active.values()), default=at)  # 200,000 of
                for books in sweep._books():  # them made every look-up slower, and stayed
                    books.prune(oldest)
    return dict(sweep.money)


_PRUNE_EVERY = 1024  # stretches: how often the sweep forgets marks behind every member


def _switch(sweep: _Sweep, active: dict[int, tuple[Stretch, Weights, float, float]],
            at: float) -> None:
    """A new basis from `at`: settle everyone under the old one, then re-weigh them."""
    for key, (stretch, weights, direct, mark) in active.items():
        sweep.settle(stretch, weights, direct, mark, at)
        sweep.leave(weights, at)
        active[key] = (stretch, weights, direct, at)
    sweep.era += 1
    sweep.set_rates(sweep.eras[sweep.era][1], at)
    for key, (stretch, _, _, _) in list(active.items()):
        weights, direct = sweep.weights(stretch)
        sweep.join(weights, at)
        active[key] = (stretch, weights, direct, at)

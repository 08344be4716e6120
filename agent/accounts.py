"""The live money: windows of systems that are down, as members of the books, brought
forward in time order up to the horizon.

A window counts from its start to its end, but both are often dated back: an outage starts
at the first failed probe of the streak that confirmed it, and ends at the first good probe
of the streak that confirmed recovery. So nothing is credited past the horizon: the earliest
time a change still in doubt (a run of probes not yet confirmed, a window resumed after a
restart and not yet seen again) could be dated back to. Up to there, who was down when is
final, the money is exact (agent.books), and no figure ever has to be taken back: the live
counters equal what a report computes from the same windows afterwards.

The horizon trails the present only while a change is in doubt (a few seconds; half the flap
window while a flapping system's recovery is held back). The burn rate and affected users are
of the present, from every window confirmed so far.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.books import Books, Rate, Weights
from agent.loss import NOTHING, Weight, attributed, loss_ratio

DayPieces = Callable[[float, float], list[tuple[float, float, str]]]


@dataclass(eq=False)
class Member:
    """One window's part in the books: its own time and direct costs, and the staff cost of
    its weights, which belongs to `payee` (its root cause's window; itself if it is one)."""

    window: Any
    payee: Any
    weights: Weights
    direct: float  # direct cost per hour
    down: bool
    degraded: bool
    start: float
    end: float | None = None
    mark: float = field(init=False)  # credited up to here

    def __post_init__(self) -> None:
        self.mark = self.start


Credit = Callable[[Member, str, float, float, float], None]  # member, day, staff, direct, s
Lost = Callable[[str, tuple[float, ...]], None]  # day, what each group lost


class Accounts:
    def __init__(self, rates: Sequence[Rate | None], start: float, day_pieces: DayPieces,
                 credit: Credit, lost: Lost) -> None:
        self.books = Books(rates, start)
        self.horizon = start
        self._day_pieces = day_pieces
        self._credit = credit
        self._lost = lost
        self._queue: list[tuple[float, int, bool, Member]] = []  # (t, order, opens, member)
        self._order = itertools.count()
        self.members: dict[int, Member] = {}  # in the books now, by id
        # The present: every confirmed window, whether or not the books have reached it.
        self.present: Weights = tuple(NOTHING for _ in rates)
        self._payees: dict[int, tuple[Weights, int]] = {}

    # --- what the engine tells it ------------------------------------------------------------

    def open(self, member: Member) -> None:
        """A window counts from member.start (>= the horizon)."""
        member.start = member.mark = max(member.start, self.horizon)
        self._push(member.start, True, member)
        self.present = _add(self.present, member.weights, 1)
        weights, count = self._payees.get(id(member.payee), (self._none(), 0))
        self._payees[id(member.payee)] = (_add(weights, member.weights, 1), count + 1)

    def close(self, member: Member, end: float) -> None:
        """The window stops counting at `end` (>= its start and the horizon)."""
        member.end = max(end, member.start, self.horizon)
        self._push(member.end, False, member)
        self.present = _add(self.present, member.weights, -1)
        weights, count = self._payees.pop(id(member.payee))
        if count > 1:
            self._payees[id(member.payee)] = (_add(weights, member.weights, -1), count - 1)
        if not self._payees:
            self.present = self._none()  # nobody down: no rounding left over

    def advance(self, to: float, hold: float | None) -> None:
        """Bring the books to min(to, hold), never back: apply the windows that opened or
        closed before then, in time order, and credit the members that did."""
        target = max(self.horizon, to if hold is None else min(to, hold))
        touched: list[Member] = []
        while self._queue and self._queue[0][0] <= target:
            at, _, opens, member = heapq.heappop(self._queue)
            self._lose(at)
            if opens:
                self.books.join(member.weights, at)
                self.members[id(member)] = member
                touched.append(member)
            else:
                self._settle(member, at)
                self.books.leave(member.weights, at)
                self.members.pop(id(member), None)
        self._lose(target)
        for member in touched:
            if id(member) in self.members:
                self._settle(member, target)

    def settle_all(self) -> None:
        """Credit every member up to the horizon; forget what no member needs any more."""
        for member in self.members.values():
            self._settle(member, self.horizon)
        self.books.prune(self.horizon)

    # --- the present ------------------------------------------------------------------------------

    def shares(self, payee: Any) -> tuple[float, ...]:
        """The share of each group's time attributed now to the root cause whose window is
        `payee`: its weight (with its dependants') over each group's total."""
        found = self._payees.get(id(payee))
        if found is None:
            return tuple(0.0 for _ in self.present)
        return tuple(attributed(w, total) for w, total in zip(found[0], self.present,
                                                               strict=True))

    def loss_ratios(self) -> tuple[float, ...]:
        return tuple(loss_ratio(total) for total in self.present)

    @property
    def busy(self) -> bool:
        """Whether anything is counted or waits to be."""
        return bool(self.members or self._queue)

    # --- inside ----------------------------------------------------------------------------

    def _push(self, at: float, opens: bool, member: Member) -> None:
        heapq.heappush(self._queue, (at, next(self._order), opens, member))

    def _settle(self, member: Member, to: float) -> None:
        if to <= member.mark:
            return
        for a, b, day in self._day_pieces(member.mark, to):
            staff = self.books.staff(member.weights, a, b)
            self._credit(member, day, staff, member.direct * (b - a) / 3600.0, b - a)
        member.mark = to

    def _lose(self, to: float) -> None:
        """Move the horizon to `to`, counting what each group lost on the way."""
        if to <= self.horizon:
            return
        if any(self.books.totals):
            for a, b, day in self._day_pieces(self.horizon, to):
                self._lost(day, self.books.lost(a, b))
        self.horizon = to

    def _none(self) -> Weights:
        return tuple(NOTHING for _ in self.present)


def _add(total: Weights, weights: Weights, sign: int) -> Weights:
    return tuple(Weight(max(0.0, t.w + sign * w.w), max(0, t.total + sign * w.total))
                 for t, w in zip(total, weights, strict=True))

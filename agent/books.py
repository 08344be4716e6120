"""Exact integration of the loss over time, shared by the live counters and the reports.

For each group of people g, with S_g(t) the summed weight (agent.loss) of the systems down in
it at t and c_g(t) = U_g(t) x hourly_g(t) / 3600 what its people's time costs per second,
the books keep three running integrals:

    A_g(t) = integral of c_g x f(S_g),   B_g(t) = integral of c_g x k(S_g),
    T_g(t) = integral of c_g x L(S_g)    (what the group has lost)

where (f, k) = agent.loss.share_factors. A member (a window of a system that is down) of
weight (w, total) in g, constant over [a, b], is attributed w (A(b) - A(a)) + total (B(b) -
B(a)) of it: a few look-ups, however many systems are down, and the attributions of all
members sum to T exactly. U and hourly are piecewise constant, so the integrals are exact
across schedule changes, bank holidays and DST; S only changes when a member joins or
leaves, which is where the books put a mark.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.loss import NOTHING, Weight, loss_ratio, share_factors


class Rate(Protocol):
    def money_seconds(self, start: float, end: float) -> float: ...


Weights = tuple[Weight, ...]  # one per group, in the books' order of groups


@dataclass(frozen=True)
class _Mark:
    """The integrals at `at` and what holds from `at` on: each group's summed weight and
    calendar (None: a group nobody is in, under the basis in force)."""

    at: float
    values: tuple[tuple[float, float, float], ...]  # (A, B, T) per group
    totals: Weights
    rates: tuple[Rate | None, ...]


class Books:
    """The running integrals of every group; marks are kept back to the oldest a member may
    still be settled from (see `prune`)."""

    def __init__(self, rates: Sequence[Rate | None], start: float) -> None:
        zero = tuple((0.0, 0.0, 0.0) for _ in rates)
        self.marks = [_Mark(start, zero, tuple(NOTHING for _ in rates), tuple(rates))]
        self._cache: dict[float, tuple[tuple[float, float, float], ...]] = {}
        self._members = [0 for _ in rates]  # members with weight in each group now

    @property
    def now(self) -> float:
        """The time of the latest change: members join and leave at this time or later."""
        return self.marks[-1].at

    @property
    def totals(self) -> Weights:
        return self.marks[-1].totals

    def join(self, weights: Weights, t: float) -> None:
        """A member of `weights` counts from t (t >= now)."""
        if any(weights):
            self._mark(t, tuple(a + b for a, b in zip(self.totals, weights, strict=True)))
            self._members = _counted(self._members, weights, 1)

    def leave(self, weights: Weights, t: float) -> None:
        """A member that joined with `weights` stops counting at t (t >= now). A group
        left with nobody in it is reset to nothing, so rounding cannot build up."""
        if any(weights):
            members = _counted(self._members, weights, -1)
            self._mark(t, tuple(_less(a, b) if n > 0 else NOTHING for a, b, n in
                                zip(self.totals, weights, members, strict=True)))
            self._members = members

    def set_rates(self, rates: Sequence[Rate | None], t: float) -> None:
        """From t on, each group's people cost what `rates` say (another cost basis)."""
        mark = self._mark(t, self.totals)
        self.marks[-1] = _Mark(mark.at, mark.values, mark.totals, tuple(rates))

    def staff(self, weights: Weights, a: float, b: float) -> float:
        """The staff cost attributed to a member of constant `weights` over [a, b]."""
        if b <= a:
            return 0.0
        before, after = self.values_at(a), self.values_at(b)
        return sum(w.w * (y[0] - x[0]) + w.total * (y[1] - x[1])
                   for w, x, y in zip(weights, before, after, strict=True) if w)

    def lost(self, a: float, b: float) -> tuple[float, ...]:
        """What each group lost over [a, b], in money."""
        before, after = self.values_at(a), self.values_at(b)
        return tuple(y[2] - x[2] for x, y in zip(before, after, strict=True))

    def values_at(self, t: float) -> tuple[tuple[float, float, float], ...]:
        """(A, B, T) of each group at t, which may lie before `now` (back to the oldest mark
        kept) or after it (with the weights that hold now)."""
        known = self._cache.get(t)
        if known is not None:
            return known
        index = max(0, bisect.bisect_right(self.marks, t, key=lambda m: m.at) - 1)
        mark = self.marks[index]
        values = _extend(mark, t) if t > mark.at else mark.values
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[t] = values
        return values

    def prune(self, before: float) -> None:
        """Forget marks no longer needed: every member is settled to `before` or later."""
        cut = bisect.bisect_right(self.marks, before, key=lambda m: m.at) - 1
        if cut > 0:
            del self.marks[:cut]

    def _mark(self, t: float, totals: Weights) -> _Mark:
        if t < self.now:
            raise ValueError(f"books: a change at {t} before the latest, {self.now}")
        values = self.values_at(t)
        mark = _Mark(t, values, totals, self.marks[-1].rates)
        if self.marks[-1].at == t:
            self.marks[-1] = mark
        else:
            self.marks.append(mark)
        self._cache.clear()  # values after t change with the new totals
        return mark


def _extend(mark: _Mark, t: float) -> tuple[tuple[float, float, float], ...]:
    """The integrals at t > mark.at, with the mark's totals holding in between."""
    out = []
    for (a, b, lost), total, rate in zip(mark.values, mark.totals, mark.rates, strict=True):
        if rate is None or not total:
            out.append((a, b, lost))
            continue
        money = rate.money_seconds(mark.at, t) / 3600.0
        f, k = share_factors(total)
        out.append((a + money * f, b + money * k, lost + money * loss_ratio(total)))
    return tuple(out)


def _counted(members: list[int], weights: Weights, step: int) -> list[int]:
    return [n + step if w else n for n, w in zip(members, weights, strict=True)]


def _less(total: Weight, gone: Weight) -> Weight:
    return Weight(max(0.0, total.w - gone.w), max(0, total.total - gone.total))

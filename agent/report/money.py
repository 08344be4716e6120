"""Staff-time cost of windows that overlap, under the organisation cap, for reports.

Live, the engine caps staff-time cost as it accrues. A report has to apply the cap again,
because it can hold windows the engine never saw together: imported history, a window whose
root cause a person corrected, or a void that frees the share another window was scaled to.
So it recomputes every window's staff cost from its stored basis, stretch by stretch: on each
stretch of constant membership, a window costs U(t) x hourly x users_share x impact, and where
the weights of the windows costing at once add up to more than 1, each is scaled by 1 / sum,
exactly as live. Nobody loses more than all of their time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.cost import cap_factor, cost_of

UserSeconds = Callable[[float, float], float]  # the integral of U(t) over [a, b)


@dataclass(frozen=True)
class CostSpan:
    """A stretch of one window that costs staff time: weight = users_share x impact."""

    key: int
    start: float
    end: float
    weight: float
    hourly: float


@dataclass(frozen=True)
class Piece:
    key: int
    start: float
    end: float
    staff: float


def share_out(
    spans: Iterable[CostSpan], user_seconds: UserSeconds, cuts: Iterable[float] = ()
) -> list[Piece]:
    """Given the stretches of windows that cost staff time, return their staff cost in pieces,
    split wherever a window starts or ends and at each of `cuts` (e.g. local midnights), with
    the organisation cap applied to every piece of time where they overlap."""
    costing = sorted((s for s in spans if s.weight > 0 and s.end > s.start),
                     key=lambda s: s.start)
    if not costing:
        return []
    first, last = costing[0].start, max(s.end for s in costing)
    bounds = sorted({first, last, *(s.start for s in costing), *(s.end for s in costing),
                     *(c for c in cuts if first < c < last)})
    pieces: list[Piece] = []
    active: list[CostSpan] = []
    upcoming = iter(costing)
    following = next(upcoming, None)
    for a, b in itertools.pairwise(bounds):
        while following is not None and following.start <= a:
            active.append(following)
            following = next(upcoming, None)
        active = [s for s in active if s.end > a]
        if not active:
            continue
        area = user_seconds(a, b)
        scale = cap_factor(s.weight for s in active)
        pieces += [Piece(s.key, a, b, cost_of(area, s.hourly, s.weight, scale)) for s in active]
    return pieces

"""The organisation-wide clock of staff-time cost, so the cap costs O(1) per system.

With W the summed weight (users_share x impact) of the systems accruing staff-time cost, each
one's rate is U(t) x hourly x weight x min(1, 1/W). Keeping G(t) = integral of U x min(1, 1/W)
lets any system's staff cost over [a, b] be hourly x weight x (G(b) - G(a)) without walking
every other system, and H(t) = integral of U x min(1, W) is what the whole organisation has
been charged so far (in user-seconds), which bounds what a backdated part may still add.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Protocol

from agent.cost import cap_factor


class Calendar(Protocol):
    def user_seconds(self, start: float, end: float) -> float: ...


@dataclass(frozen=True)
class Mark:
    """The accumulators at one instant, and the summed weight that holds after it."""

    at: float
    g: float
    h: float
    weight: float


def cap(weight: float) -> float:
    """The share of each accruing system's staff cost that is charged at summed `weight`."""
    return cap_factor((weight,))


class OrgAccrual:
    """G and H over time; marks are kept for `keep` seconds so backdating can look back."""

    def __init__(self, calendar: Calendar, start: float, keep: float = 6 * 3600) -> None:
        self.calendar = calendar
        self.keep = keep
        self.marks: list[Mark] = [Mark(start, 0.0, 0.0, 0.0)]
        self._weights: dict[str, float] = {}
        # Backdated charges (user-seconds) in BUCKET-second buckets: they are not in H.
        self._charges: dict[int, float] = {}
        # (G, H) by time while the marks stay as they are: a checkpoint settles every
        # accruing system from the same mark to the same time, so most look-ups repeat.
        self._values: dict[float, tuple[float, float]] = {}
        self._own: dict[str, list[tuple[float, float, float]]] = {}  # each key's last charges

    @property
    def weight(self) -> float:
        return self.marks[-1].weight

    def values_at(self, t: float) -> tuple[float, float]:
        """Return (G, H) at `t`, which may be in the past (as far back as marks are kept)."""
        known = self._values.get(t)
        if known is not None:
            return known
        index = max(0, bisect.bisect_right(self.marks, t, key=lambda m: m.at) - 1)
        mark = self.marks[index]
        span = self.calendar.user_seconds(mark.at, t) if t > mark.at else 0.0
        values = mark.g + span * cap(mark.weight), mark.h + span * min(1.0, mark.weight)
        if len(self._values) >= 1024:
            self._values.clear()
        self._values[t] = values
        return values

    def set_weight(self, key: str, weight: float, t: float) -> None:
        """Set one system's weight from `t` on (0 removes it)."""
        t = max(t, self.marks[-1].at)
        old = self._weights.pop(key, 0.0)
        if weight > 0:
            self._weights[key] = weight
        # A running sum keeps this O(1); an empty set resets it, so rounding cannot build up.
        summed = self.weight - old + max(weight, 0.0) if self._weights else 0.0
        g, h = self.values_at(t)
        new = Mark(t, g, h, max(summed, 0.0))
        if self.marks[-1].at == t:
            self.marks[-1] = new
        else:
            self.marks.append(new)
        self._values.clear()  # a new weight from t changes every value after t
        self._prune(t)

    def _prune(self, now: float) -> None:
        cut = bisect.bisect_left(self.marks, now - self.keep, key=lambda m: m.at)
        if cut > 1:
            del self.marks[: cut - 1]

    def headroom(self, start: float, end: float, key: str = "") -> float:
        """User-seconds of the organisation's time not yet charged to anyone else in
        [start, end). `key`'s own earlier charges are left out: a system's backdated parts
        never overlap each other, so counting them would only be bucket rounding."""
        if end <= start:
            return 0.0
        _, h_start = self.values_at(start)
        _, h_end = self.values_at(end)
        own = sum(_spread(self._charges_of(a, b, u), start, end)
                  for a, b, u in self._own.get(key, ()))
        charged = h_end - h_start + _spread(self._charges, start, end) - own
        return max(0.0, self.calendar.user_seconds(start, end) - charged)

    def charge(self, start: float, end: float, user_seconds: float, key: str = "") -> None:
        """Record a backdated charge over [start, end), spread evenly, for later headroom."""
        for bucket, amount in self._charges_of(start, end, user_seconds).items():
            self._charges[bucket] = self._charges.get(bucket, 0.0) + amount
        own = self._own.setdefault(key, [])
        own.append((start, end, user_seconds))
        del own[:-4]  # a new backfill can only touch the buckets of the last few
        horizon = int((end - self.keep) // BUCKET)
        if len(self._charges) > 4 * self.keep / BUCKET:
            self._charges = {b: v for b, v in self._charges.items() if b >= horizon}

    @staticmethod
    def _charges_of(start: float, end: float, user_seconds: float) -> dict[int, float]:
        return {bucket: user_seconds * share for bucket, share in _buckets(start, end)}


def _spread(charges: dict[int, float], start: float, end: float) -> float:
    """Charged user-seconds in [start, end), pro rata within the edge buckets."""
    return sum(charges[bucket] * share * (end - start) / BUCKET
               for bucket, share in _buckets(start, end) if bucket in charges)


BUCKET = 1.0


def _buckets(start: float, end: float) -> list[tuple[int, float]]:
    """Split [start, end) into BUCKET-second buckets: (bucket number, share of the span)."""
    span = end - start
    if span <= 0:
        return []
    out = []
    first, last = int(start // BUCKET), int((end - 1e-9) // BUCKET)
    for bucket in range(first, min(last, first + 100_000) + 1):
        lo, hi = max(start, bucket * BUCKET), min(end, (bucket + 1) * BUCKET)
        out.append((bucket, (hi - lo) / span))
    return out

"""The agent's clock: wall time that never steps.

Durations and money are integrated over this clock, so a wall-clock step (an NTP correction,
a VM resumed from a snapshot, an operator's `date -s`) can neither inflate nor shrink an
outage. It starts at the wall time and then advances with CLOCK_MONOTONIC (which NTP slews
but never steps), so it tracks the wall clock except across a step. When the wall clock has
stepped, `rebase()` realigns it; the agent does that only while no outage is being timed,
and never back before what it has recorded (`run_from`): while the wall clock is behind the
ledger, this clock runs on from the latest record, so durations and money stay true and the
dates are late rather than out of order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

STEP_SECONDS = 1.0  # a wall-clock jump larger than this is a step, not NTP's slewing


class SteadyClock:
    def __init__(self, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.rebase()

    def __call__(self) -> float:
        return self._anchor_wall + (self._monotonic() - self._anchor_mono)

    def wall(self) -> float:
        return self._wall()

    def run_from(self, at: float) -> None:
        """Run on from `at` instead of the wall clock (which is behind something recorded)."""
        self._anchor_wall, self._anchor_mono = at, self._monotonic()

    def drift(self) -> float:
        """How far the wall clock has stepped away from this clock (+ ahead, - behind)."""
        return self._wall() - self()

    def rebase(self) -> float:
        """Realign with the wall clock; return the step taken (seconds)."""
        before = self() if hasattr(self, "_anchor_wall") else self._wall()
        self._anchor_wall, self._anchor_mono = self._wall(), self._monotonic()
        return self._anchor_wall - before


async def watch_steps(clock: SteadyClock, stepped: Callable[[float], None],
                      apart: Callable[[], Awaitable[None]], every: float = 1.0) -> None:
    """Until cancelled, compare the wall clock with `clock` every `every` seconds (on the
    event loop's monotonic clock, which a step cannot stall): call `stepped(step)` when the
    wall clock has stepped by more than `STEP_SECONDS`, and await `apart()` while the two
    differ by more than that (the caller realigns once nothing is being timed)."""
    seen = clock.drift()
    while True:
        await asyncio.sleep(every)
        drift = clock.drift()
        if abs(drift - seen) > STEP_SECONDS:
            stepped(drift - seen)
        seen = drift
        if abs(drift) > STEP_SECONDS:
            await apart()
            seen = clock.drift()  # a realignment is not a step

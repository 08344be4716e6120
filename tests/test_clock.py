"""agent.clock: the steady clock follows monotonic time across wall-clock steps, runs on from
a given instant when told, and the step watcher tells steps from realignments."""

from __future__ import annotations

import asyncio

from agent.clock import SteadyClock, watch_steps


class Clocks:
    """A wall clock and a monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.wall_at, self.mono_at = 1_000_000.0, 50.0

    def wall(self) -> float:
        return self.wall_at

    def mono(self) -> float:
        return self.mono_at

    def tick(self, seconds: float) -> None:
        self.wall_at += seconds
        self.mono_at += seconds


def test_a_wall_clock_step_moves_the_drift_not_the_steady_clock():
    clocks = Clocks()
    steady = SteadyClock(clocks.wall, clocks.mono)
    clocks.tick(10)
    clocks.wall_at -= 600  # stepped back ten minutes
    clocks.tick(5)
    assert steady() == 1_000_015.0
    assert steady.drift() == -600.0
    assert steady.rebase() == -600.0
    assert steady() == clocks.wall_at


def test_run_from_keeps_real_durations_from_a_later_instant():
    clocks = Clocks()
    steady = SteadyClock(clocks.wall, clocks.mono)
    steady.run_from(1_007_200.0)  # the ledger's latest record, two hours past the wall clock
    clocks.tick(30)
    assert steady() == 1_007_230.0
    assert steady.drift() == -7200.0


async def test_a_realignment_is_not_taken_for_a_step():
    clocks = Clocks()
    steady = SteadyClock(clocks.wall, clocks.mono)
    steps: list[float] = []
    clocks.wall_at += 100  # the wall clock stepped forward, once

    async def realign() -> None:
        steady.rebase()

    watcher = asyncio.create_task(watch_steps(steady, steps.append, realign, every=0.01))
    for _ in range(200):  # bounded: a few rounds of the watcher
        await asyncio.sleep(0.01)
        if steps and steady.drift() == 0:
            break
    await asyncio.sleep(0.05)  # more rounds after the realignment
    watcher.cancel()
    assert steps == []  # stepped before the watcher's first look: drift, not a step
    assert steady.drift() == 0.0


async def test_a_step_while_watching_is_reported_once():
    clocks = Clocks()
    steady = SteadyClock(clocks.wall, clocks.mono)
    steps: list[float] = []
    apart = 0

    async def stay_apart() -> None:  # an outage is being timed: no realignment
        nonlocal apart
        apart += 1

    watcher = asyncio.create_task(watch_steps(steady, steps.append, stay_apart, every=0.01))
    await asyncio.sleep(0.03)
    clocks.wall_at -= 600
    for _ in range(200):
        await asyncio.sleep(0.01)
        if apart >= 3:
            break
    watcher.cancel()
    assert steps == [-600.0]
    assert apart >= 3

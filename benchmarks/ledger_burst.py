"""The ledger under a burst: 10,000 systems going down at once, as the agent submits it.

The agent hands the ledger one batch per probe result (a transition and the window row), so
a mass outage is thousands of small batches within a moment. This submits them from an
event loop, as the agent does, and measures how long until all are committed and how long
the loop was ever held up meanwhile (a 1 ms ticker's worst gap).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from agent.ledger import Ledger
from agent.records import Amounts, Basis, Batch, DayRecord, TransitionRecord, WindowRecord

BASIS = Basis(hourly_cost_per_user=12.99, users_share=0.0001, impact=1.0,
              direct_cost_per_hour=0.0, users_at_start=2000.0)


def burst(systems: int, at: float) -> list[Batch]:
    """One batch per system: its transition to down, its new window and its day row."""
    batches = []
    for index in range(systems):
        name = f"s{index:05d}"
        window = WindowRecord(
            system=name, state="down", cause=None, start=at - 10.0, end=None,
            before_start=at - 40.0, before_end=None, last_observed=at, accounted_until=at,
            amounts=Amounts(cost=0.5, staff=0.5, downtime=10.0), basis=BASIS,
            new_incident=True, reason="timeout after 5s",
        )
        batches.append(Batch(
            windows=[window],
            days=[DayRecord(name, time.strftime("%Y-%m-%d", time.gmtime(at)),
                            Amounts(cost=0.5, staff=0.5, downtime=10.0))],
            transitions=[TransitionRecord(name, at - 10.0, "up", "down", None,
                                          "timeout after 5s")],
        ))
    return batches


async def _ticker(stop: asyncio.Event, worst: list[float]) -> None:
    """Sleep 1 ms at a time; note the longest the loop took to come back."""
    loop = asyncio.get_running_loop()
    for _ in range(1_000_000):
        if stop.is_set():
            return
        before = loop.time()
        await asyncio.sleep(0.001)
        worst[0] = max(worst[0], loop.time() - before - 0.001)


async def measure(systems: int = 10_000, location: str | None = None) -> dict[str, float]:
    """Commit a burst of `systems` transitions to the ledger at `location` (an empty database;
    default a new SQLite file); return seconds to commit and the worst loop stall."""
    with tempfile.TemporaryDirectory(prefix="ledger-burst-") as folder:
        ledger = Ledger(location or Path(folder) / "ledger.db")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ledger.open)
        batches = burst(systems, time.time())
        stop, worst = asyncio.Event(), [0.0]
        ticker = asyncio.create_task(_ticker(stop, worst))
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        futures = []
        for index, batch in enumerate(batches):  # as probe results arrive: between steps
            futures.append(ledger.submit(batch))
            if index % 100 == 99:
                await asyncio.sleep(0)
        submitted = time.perf_counter() - start
        await asyncio.wait_for(asyncio.wrap_future(futures[-1]), 60)
        committed = time.perf_counter() - start
        stop.set()
        await ticker
        await loop.run_in_executor(None, ledger.close)
        ledger.dispose()
    return {"transitions": systems, "submit_seconds": submitted,
            "commit_seconds": committed, "worst_loop_stall_seconds": worst[0]}


if __name__ == "__main__":
    print(asyncio.run(measure()))

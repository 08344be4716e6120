"""Ad-hoc maintenance (`outage-agent maintenance`) is recorded with the time the command ran and
read by the agent at its next checkpoint or scrape, seconds later: the live counters wait for it (a
command not yet read is a change in doubt), so they agree with the report, which dates the
maintenance from the command, to the penny."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.helpers import DOWN, UP
from support.ledgerparts import write_config

from agent.config import load_config
from agent.daemon import Agent
from agent.ledger import Action, Ledger
from agent.model import Check, ProbeResult
from agent.report.source import read_report

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()  # a Monday morning
SYSTEMS = """\
- name: care-records
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.4
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def probe(agent: Agent, clock: Clock, at: float, result: ProbeResult) -> None:
    async def answer(check: Check) -> ProbeResult:
        return result

    clock.now = at
    agent.prober.run = answer  # type: ignore[method-assign]
    await agent.probe_system("care-records")


async def test_maintenance_read_seconds_after_the_command_is_costed_live_as_reported(
        tmp_path: Path):
    path = write_config(tmp_path, SYSTEMS, ledger=str(tmp_path / "ledger.db"))
    clock = Clock(T0)
    agent = Agent(load_config(path), clock=clock)
    await agent.start()
    try:
        assert agent.probing is not None
        agent.probing.pause()
        await probe(agent, clock, T0 + 1, UP)
        for k in range(3):  # down from T0 + 10, confirmed at T0 + 20
            await probe(agent, clock, T0 + 10 + 5 * k, DOWN)
        clock.now = T0 + 25
        await agent.checkpoint()
        # `outage-agent maintenance care-records --for 1h` at T0 + 27 ...
        Ledger(tmp_path / "ledger.db", "shire-hall").add_action(
            Action("maintenance", "care-records", T0 + 27, T0 + 27 + 3600, "ops@desk", ""))
        for at in (T0 + 28, T0 + 30, T0 + 33):  # ... probes go on meanwhile
            await probe(agent, clock, at, DOWN)
        clock.now = T0 + 35  # ... and the agent reads it 8 s later
        await agent.checkpoint()
        assert agent.engine.lives["care-records"].in_maintenance
        clock.now = T0 + 600
        await agent.checkpoint()
        [view] = agent.engine.view(T0 + 600)
    finally:
        await agent.stop()
    report = read_report(load_config(path), T0, T0 + 601, T0 + 601)
    [line] = report.systems
    assert round(line.cost, 2) == round(view.totals.cost, 2)
    # by hand: 17 s (T0 + 10 to the command at T0 + 27) of 0.4 of 2,000 people's time
    assert view.totals.cost == pytest.approx(2000 * 0.4 * 25000 / 1924 * 17 / 3600)


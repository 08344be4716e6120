"""What people do while the agent runs (`outage-agent ack|maintenance`): recorded in the
ledger by the CLI, read here in order by the agent at each checkpoint, and applied to the
alerts and the engine."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.alerts import Alerting
from agent.engine import Engine
from agent.ledger import Action, Ledger, LedgerError
from agent.quiet import QuietLog
from agent.records import Batch
from agent.text import iso

if TYPE_CHECKING:
    from agent.daemon import Agent

log = logging.getLogger(__name__)


class ActionReader:
    """Reads the actions recorded since it last looked. While the ledger cannot be read (the
    agent out of descriptors, the disk gone) it says so once a minute, not at every
    checkpoint, and once when it can read again."""

    def __init__(self, ledger: Ledger, clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self.last = 0  # the id of the last action read
        self.looked: float | None = None  # when the last look that could read them began
        self.quiet = QuietLog(
            log, "cannot read actions from the ledger (will retry; %(more)d more failures "
            "since the last such line): %(detail)s", clock=clock,
            alone="cannot read actions from the ledger (will retry): %(detail)s")

    async def everything(self, now: float | None = None) -> list[Action]:
        """Every action ever recorded (at a start: planned work still running is resumed);
        the look began at `now`."""
        found = await self._since(0)
        self.looked = now
        return found

    async def new(self, now: float | None = None) -> list[Action]:
        """Actions recorded since the last look (begun at `now`, kept as `looked`); none
        while the ledger cannot be read (`looked` is then None)."""
        try:
            found = await self._since(self.last)
        except LedgerError as exc:
            self.quiet.add(exc)
            self.looked = None
            return []
        self.looked = now
        if failures := self.quiet.settle():
            log.warning("reading actions again after %d failures", failures)
        return found

    async def _since(self, after: int) -> list[Action]:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self._ledger.actions_since, after)
        self.last = max((a.id for a in found), default=self.last)
        return found


class ActionDuty:
    """What the agent does with people's actions: reads them in order, one look at a time,
    applies them to its alerts and engine under its lock, and tells the engine when it last
    looked, so a `maintenance` recorded since can still be dated back to its command
    (docs/cost-model.md, the horizon)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.reader = ActionReader(agent.ledger)
        self._turn = asyncio.Lock()  # one look at a time, applied in the order read

    async def take(self) -> Batch:
        """Read and apply what people recorded since the last look; return what to commit."""
        agent = self.agent
        async with self._turn:
            done = await self.reader.new(agent.clock())
            async with agent.lock:
                batch = apply(done, agent.alerting, agent.engine, agent.clock())
                agent.engine.actions_read(self.reader.looked)
        return batch

    async def resume(self) -> Batch:
        """At a start: alert states as the ledger kept them, and ad-hoc maintenance still
        running; return what to commit."""
        agent = self.agent
        loop = asyncio.get_running_loop()
        agent.alerting.restore(await loop.run_in_executor(None, agent.ledger.alert_states))
        planned = [a for a in await self.reader.everything(agent.clock()) if a.kind != "ack"]
        async with agent.lock:
            batch = apply(planned, agent.alerting, agent.engine, agent.clock(), replay=True)
            agent.engine.actions_read(self.reader.looked)
        return batch


def apply(actions: list[Action], alerting: Alerting, engine: Engine, now: float,
          replay: bool = False) -> Batch:
    """Acknowledge alerts and plan or end ad-hoc maintenance; return what to commit. At a
    start (`replay`) every action recorded is applied again, and only the maintenance still
    in force is logged, not the history of every period ever planned."""
    batch = Batch()
    plans = []
    for action in actions:
        if action.system not in engine.lives:
            log.warning("ignoring %s for unknown system %r", action.kind, action.system)
        elif action.kind == "ack":
            batch.alerts.extend(alerting.acknowledge(action.system))
            log.info("%s acknowledged by %s: %s", action.system, action.who, action.note)
        else:
            until = action.until if action.kind == "maintenance" else action.at
            plans.append((action.system, action.at, until or action.at))
            if not replay:
                log.info("%s", said(action, until))
    if plans:
        batch.extend(engine.plan_maintenance(plans, now))
    if replay:
        _log_in_force(engine, [name for name, _, _ in plans], now)
    return batch


def _log_in_force(engine: Engine, names: list[str], now: float) -> None:
    """Log the ad-hoc maintenance of these systems still running or planned at `now`."""
    for name in dict.fromkeys(names):
        for start, end in engine.planned.adhoc(name, now):
            log.info("%s: planned maintenance %s, until %s", name,
                     "resumed" if start <= now else f"from {iso(start)}", iso(end))


def said(action: Action, until: float | None) -> str:
    """A maintenance action as the log says it, its times as the API gives times."""
    what = (f"planned maintenance until {iso(until)}" if action.kind == "maintenance"
            else "maintenance ended")
    return f"{action.system}: {what}, by {action.who}" + (
        f": {action.note}" if action.note else "")

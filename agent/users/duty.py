"""The agent's measured-users path: each measured group's source is read on its own task,
every `every` seconds, never on the probe path. A reading is dated when it joins the books
(never before their horizon, so nothing counted changes), laid over the group's schedule in
memory (agent.users.inforce) and committed in an ordinary ledger batch as evidence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from agent.model import Config, UsersSource
from agent.records import FALLBACK, Batch, UsersReading
from agent.users.inforce import STALE_PERIODS, Readings
from agent.users.sources import Taken, take

if TYPE_CHECKING:
    from agent.daemon import Agent

log = logging.getLogger(__name__)


def measured_groups(config: Config) -> Iterator[tuple[str, UsersSource]]:
    """Each group of people whose users are measured, with its source."""
    for group in config.cost.user_groups():
        if group.source is not None:
            yield group.name, group.source


class UsersDuty:
    """Reads every measured group's source on its own schedule, for the agent's books."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.readings: dict[str, Readings] = {}  # shared with the engine's cost basis
        self.last: dict[str, UsersReading] = {}  # each group's latest reading
        self._said: dict[str, tuple[str, str]] = {}  # the state and reason last logged
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.prepare(agent.config)

    def prepare(self, config: Config) -> None:
        """Give each measured group of `config` its readings, before an engine is built on
        them (a group measured before keeps its own)."""
        for name, _ in measured_groups(config):
            self.readings.setdefault(name, Readings())

    async def restore(self, since: float, now: float) -> Batch:
        """At a start: the readings the ledger kept that may still be in force where the
        books resume (`since`), so the books cost that time as a report will; then the
        fallback from now until each source is read again."""
        longest = max((s.every for _, s in measured_groups(self.agent.config)), default=0.0)
        if not longest:
            return Batch()
        kept = await asyncio.get_running_loop().run_in_executor(
            None, self.agent.ledger.users_readings, since - STALE_PERIODS * longest, float("inf"))
        for reading in kept:
            if reading.group in self.readings:
                self.readings[reading.group].add(reading.at, reading.value, reading.period)
        batch = Batch()
        for name, source in measured_groups(self.agent.config):
            batch.readings.append(self._record(name, source, Taken(None, "agent started"), now))
        return batch

    def start(self) -> None:
        """Start (or, after a reload, restart) reading each measured group's source."""
        for task in self._tasks.values():
            task.cancel()
        loop = asyncio.get_running_loop()
        self._tasks = {name: loop.create_task(self._run(name, source), name=f"users {name}")
                       for name, source in measured_groups(self.agent.config)}

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks = {}

    async def _run(self, name: str, source: UsersSource) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                await self.read_once(name, source)
            except Exception:  # one bad reading must never end the readings
                log.exception("users of group %s: the reading could not be taken", name)
            await asyncio.sleep(max(0.0, source.every - (loop.time() - began)))

    async def read_once(self, name: str, source: UsersSource) -> UsersReading:
        """Read the group's source once, put the reading in force and commit it."""
        taken = await take(source)
        agent = self.agent
        async with agent.lock:
            reading = self._record(name, source, taken, agent.clock())
        agent.ledger.submit(Batch(readings=[reading]))
        return reading

    def _record(self, name: str, source: UsersSource, taken: Taken, now: float
                ) -> UsersReading:
        """Lay a reading over the group's schedule from now (or the books' horizon, or its
        latest reading, if later), and log a change of what is in force."""
        readings = self.readings[name]
        books = self.agent.engine.charges
        at = max(now, books.horizon, readings.latest or now)
        readings.add(at, taken.value, source.every)
        # The books never look before their oldest mark: what stopped applying before it
        # is in the ledger, and need not stay in memory.
        readings.forget(books.accounts.books.marks[0].at)
        kind = FALLBACK if taken.value is None else source.spec.type
        reading = UsersReading(name, at, taken.value, kind, source.every)
        self.last[name] = reading
        self._say(name, taken)
        return reading

    def _say(self, name: str, taken: Taken) -> None:
        state = "fallback" if taken.value is None else "clamped" if taken.clamped_from else "up"
        said = (state, taken.reason)  # a new reason for the fallback is news too
        if self._said.get(name) == said:
            return
        self._said[name] = said
        if state == "fallback":
            log.warning("users of group %s: the schedule is in force (%s)", name, taken.reason)
        elif state == "clamped":
            log.warning("users of group %s: reading %g clamped to max %g", name,
                        taken.clamped_from, taken.value)
        else:
            log.info("users of group %s: measured (%g)", name, taken.value)

    def states(self, at: float) -> list[tuple[str, bool, float | None]]:
        """Each measured group: whether a reading is in force at `at`, and its latest value."""
        found = []
        for name, _ in measured_groups(self.agent.config):
            last = self.last.get(name)
            found.append((name, self.readings[name].value_at(at) is not None,
                          None if last is None else last.value))
        return found

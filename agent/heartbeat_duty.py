"""The agent's heartbeat path: a heartbeat system is not probed; its scheduler job judges
its deadlines, and its job's pings arrive over HTTP (agent.web.ping). Both count through the
engine and commit like a probe's result. The pure rules are agent.heartbeats; the state of
each heartbeat is agent.pushes.Heartbeats, which the agent keeps (a reload replaces it)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent.heartbeats import evidence, ping_kind
from agent.model import ProbeResult
from agent.records import Batch, BeatRecord, PingRecord
from agent.shard import not_here
from agent.text import redact

if TYPE_CHECKING:
    from agent.daemon import Agent


class HeartbeatDuty:
    """What the agent does for its heartbeat systems, on the agent's books and lock."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def restore(self, latest: float, now: float) -> Batch:
        """At a start: each heartbeat as the ledger kept it, and what its deadlines say now
        (one that passed while the agent was away, after `latest`, is unknown, not down)."""
        agent = self.agent
        beats = await asyncio.get_running_loop().run_in_executor(None, agent.ledger.beats)
        batch = Batch()
        for name, results in agent.pushes.restore(beats, latest, now).items():
            batch.extend(self._feed(name, results, now))
            batch.beats.append(agent.pushes.record(name))
        return batch

    def records(self) -> list[BeatRecord]:
        """Every heartbeat's state, to keep in the ledger (at a stop)."""
        return [self.agent.pushes.record(name) for name in self.agent.pushes.specs]

    def deadline(self, name: str) -> float | None:
        """When to next judge a heartbeat system; None for a probed one."""
        pushes = self.agent.pushes
        return pushes.next_check(name, self.agent.clock()) if name in pushes else None

    async def judge(self, name: str) -> None:
        """Judge a heartbeat system's deadlines now, count what that says, and commit it."""
        agent = self.agent
        async with agent.lock:
            now = agent.clock()
            before = agent.pushes.record(name)
            batch = self._feed(name, agent.pushes.judge(name, now), now)
            if agent.pushes.record(name) != before:
                batch.beats.append(agent.pushes.record(name))
        if batch:
            agent.ledger.submit(batch)
        if agent.watchdog:
            agent.watchdog.progress()

    async def receive(self, token: str, word: str, body: str = "") -> tuple[int, str]:
        """A job's ping (`/ping/<token>/<word>`): count it, commit it, and return the HTTP
        status and text to answer with. A token of no system here is a 404 that says which
        agent the ping should go to (another shard), or that none of this site's has it."""
        agent = self.agent
        kind = ping_kind(word)
        if kind is None:
            return 400, "ping /ping/<token>, /start, /fail or /<exit status 0-255>\n"
        name = agent.pushes.find(token)
        if name is None or name not in agent.pushes:
            return 404, not_here(name, agent.every_shard) + "\n"
        if not agent.pushes.allow(name, agent.clock()):
            return 429, "too many pings for this system: at most one a second is assured\n"
        async with agent.lock:
            now = agent.clock()
            body = evidence(redact(body, agent.config.secrets))
            batch = self._feed(name, agent.pushes.ping(name, kind, now, body), now)
            batch.beats.append(agent.pushes.record(name))
            if body:
                batch.pings.append(PingRecord(name, now, kind, body))
        await agent.commit(batch)
        if agent.probing is not None:
            agent.probing.plan_next(name)  # its next deadline has moved
        return 200, "OK"

    def _feed(self, name: str, results: list[ProbeResult], at: float) -> Batch:
        """Count results a heartbeat's ping or deadline gave, all at `at`."""
        batch = Batch()
        for result in results:
            batch.extend(self.agent.engine.observe(name, result, at))
        return batch

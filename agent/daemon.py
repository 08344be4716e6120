"""The running agent: scheduler -> probe -> engine -> ledger -> metrics, on one event loop.

The scheduler (agent.scheduling) calls `Agent.probe_system(name)` for each system, and the
agent's own periodic jobs: `checkpoint` and `feed_watchdog`. Scrapes (`render_metrics`,
`snapshot`), reloads and stops come from the web server and from signals (agent.service).
Each is a method a test can call directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import logging
from collections.abc import Callable

from agent import actions, systemd
from agent.alerts import Alerting, Evaluation, Facts
from agent.clock import SteadyClock, watch_steps
from agent.engine import Engine, SystemView
from agent.heartbeat_duty import HeartbeatDuty
from agent.ledger import TIMEOUT_SECONDS, Ledger, LedgerError, Outcome
from agent.metrics import Metrics, Scrape
from agent.model import Config
from agent.notify.outbox import Outbox
from agent.probes import Prober
from agent.pushes import Heartbeats
from agent.records import Batch
from agent.resume import read_recorded, resume
from agent.safe import SafeCounters
from agent.scheduling import Probing
from agent.shard import format_shard, own_share
from agent.text import redact
from agent.users.duty import UsersDuty
from agent.watchdog import Watchdog

log = logging.getLogger(__name__)

# A scrape waits this long for its figures to be safe: committed, or kept in the journal once
# the store has given up on a try (its lock timeout), then serves them.
SAFE_WAIT_SECONDS = TIMEOUT_SECONDS + 5.0
REALIGN_BACK_SECONDS = 5.0  # see Agent._realign
GC_THRESHOLDS = (50_000, 20, 100)  # Python's default: (700, 10, 10); see tune_garbage_collector


def tune_garbage_collector() -> None:
    """Make the cycle collector fit a large estate; call once the books are built.

    - Freeze what exists: the config, books and jobs (about 170,000 objects for 10,000
      systems) live as long as the agent, and every full collection would walk them again.
    - Collect young objects every `GC_THRESHOLDS[0]` allocations, not 700: in a mass outage
      10,000 probes wait at once, each a chain of coroutines, timers and sockets (600,000
      objects). Python 3.11's default thresholds promoted them into a full collection every
      few seconds, 0.6 s each: 70% of the event loop (measured with 10,000 hanging targets).
      Probes leave no cyclic garbage (see agent.probes.wire), so little waits for a collection.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Agent:
    def __init__(
        self, config: Config, clock: Callable[[], float] | None = None,
        histograms: bool | None = None, watchdog: float | None = None,
        notify: Callable[[str], bool] = systemd.notify,
    ) -> None:
        every_shard, config = config, own_share(config)  # with agent.shard, only its own
        self.config = config
        self.steady = SteadyClock()
        self.clock: Callable[[], float] = clock or self.steady
        # Fed every `watchdog` seconds while probes complete; None: systemd asks for none.
        self.watchdog = Watchdog(watchdog, self.clock, notify) if watchdog else None
        self.users = UsersDuty(self)  # measured users: their readings go into the books
        self.engine = Engine(config, self.clock(), self.users.readings)
        self.pushes = Heartbeats(config, self.clock(), elsewhere=every_shard.systems)
        self.every_shard = every_shard
        self.heartbeats = HeartbeatDuty(self)
        self.ledger = Ledger.of(config.agent)
        if histograms is None:  # a registry's labels are fixed: a reload cannot change it
            histograms = config.agent.per_system_histograms
        self.metrics = Metrics(config.cost.currency, config.agent.site, histograms,
                               format_shard(config.agent.shard))
        self.prober = Prober()
        self.probing: Probing | None = None
        self.ready = False
        self.lock = asyncio.Lock()  # one evaluation of the books at a time
        self._clock_watch: asyncio.Task[None] | None = None
        self.alerting = Alerting(config.alerts, config.cost.currency, config.agent.external_url)
        self.outbox = Outbox(self.ledger, config.notifiers, self.metrics.count_notification)
        self.actions = actions.ActionDuty(self)
        self._basis_since: float | None = None  # the cost basis is not yet in the ledger
        self.safe = SafeCounters()  # what scrapes serve while the journal fails too
        self._snapshots = itertools.count()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the ledger, restore the books, then start probing. Raise if the ledger fails."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.ledger.claim)  # one agent per ledger identity
        try:
            await loop.run_in_executor(None, self.ledger.open)
        except LedgerError:
            self.ledger.release()
            raise
        await self._restore()
        await self.commit(await self.actions.resume())
        self.outbox.start()
        await self.outbox.resend()
        await self.prober.__aenter__()
        self.probing = Probing(loop, self.probe_system, self._next_delay,
                               self.metrics.schedule_lag, self.metrics.missed_runs,
                               deadline=self.heartbeats.deadline)
        for system in (*self.config.agent.canaries, *self.config.systems):
            self.probing.add(system)
        self.probing.every("__checkpoint__", self.config.agent.evaluation_interval,
                           self.checkpoint)
        self.users.start()
        if self.watchdog:
            # In the probes' own scheduler, so a wedged loop or scheduler stops the pings.
            self.probing.every("__watchdog__", self.watchdog.interval, self.feed_watchdog)
            self.watchdog.restart()
        self.probing.start()
        if self.clock is self.steady:
            self._clock_watch = loop.create_task(
                watch_steps(self.steady, self.probing.stepped, self._realign))
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock())
        tune_garbage_collector()
        self.ready = True

    async def _realign(self) -> None:
        """Realign the agent's clock with the wall clock while nothing is timed, forward, or
        back by at most `REALIGN_BACK_SECONDS`: NTP's slewing, gathered to a second. The
        engine holds events at its floor until the clock is past it, so a step further back
        would squeeze whatever happens meanwhile into no time; instead the clock runs on
        ahead (dates late, durations true) until the wall clock catches up."""
        async with self.lock:
            behind = self.engine.floor - self.steady.wall()
            if self.engine.idle() and behind <= REALIGN_BACK_SECONDS:
                step = self.steady.rebase()
                self.engine.rebase(self.clock())
                log.info("the agent's clock realigned with the wall clock (%+.1fs)", step)

    async def _restore(self) -> None:
        now = self.clock()
        recorded = await asyncio.get_running_loop().run_in_executor(
            None, read_recorded, self.ledger, self._watched(),
            self.engine.days.first_day_kept(now), now)
        configured = {system.name for system in self.every_shard.systems}  # every shard's
        batch = resume(self.engine, recorded, configured, self.config, now,
                       self.ledger.name)
        batch.extend(await self.heartbeats.restore(recorded.latest, now))
        batch.extend(await self.users.restore(self.engine.charges.horizon, now))
        if self.clock is self.steady and now < recorded.latest:
            self.steady.run_from(recorded.latest)  # durations stay true; dates run late
        self._basis_since = self.engine.charges.horizon
        await self._record_basis()
        await self.ledger.commit(batch)
        # restored from the ledger, so safe: served if the first scrape's figures are not
        self.safe.keep(next(self._snapshots), self.engine.view(now),
                       self.engine.group_views(now))

    async def _record_basis(self) -> None:
        """Record the cost basis in force and since when, so reports cost each instant with
        the basis then in force; retried at each checkpoint until the ledger takes it."""
        since = self._basis_since
        if since is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.ledger.record_basis, self.engine.basis, since)
        except LedgerError as exc:
            log.warning("cannot record the cost basis yet (will retry): %s", exc)
            return
        self._basis_since = None

    async def stop(self) -> None:
        """Stop probing, commit the books, leave open windows open."""
        self.ready = False
        await self.users.stop()
        if self._clock_watch is not None:
            self._clock_watch.cancel()
        if self.probing is not None:
            await self.probing.shutdown()
        async with self.lock:
            batch = self.engine.account(self.clock())
            batch.heartbeat = self.clock()
            batch.beats.extend(self.heartbeats.records())
            await self.commit(batch)
        await self.prober.__aexit__(None, None, None)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.outbox.stop)
        await loop.run_in_executor(None, self.ledger.finish, self.clock())

    def _next_delay(self, name: str) -> float:
        return self.engine.lives[name].next_delay()  # the engine a reload put in place

    def _watched(self) -> list[str]:
        return [name for name, live in self.engine.lives.items() if not live.canary]

    async def reload(self, config: Config) -> None:
        """Apply a validated configuration without losing the state of unchanged systems."""
        every_shard, config = config, own_share(config)
        async with self.lock:
            now = self.clock()
            self.users.prepare(config)
            engine = Engine(config, now, self.users.readings)
            adoption = engine.adopt(self.engine, now)
            pushes = Heartbeats(config, now, elsewhere=every_shard.systems)
            pushes.adopt(self.pushes)
            self.pushes, self.every_shard = pushes, every_shard
            batch = adoption.batch
            old, self.engine, self.config = self.config, engine, config
            alerting = Alerting(config.alerts, config.cost.currency, config.agent.external_url)
            alerting.take_over(self.alerting)
            self.alerting = alerting
            self._basis_since = now
        if self.probing is not None:
            self.probing.reschedule("__checkpoint__", config.agent.evaluation_interval)
            self.probing.replace((*adoption.changed, *adoption.replaced, *adoption.removed),
                                 [engine.lives[name].system for name in
                                  (*adoption.changed, *adoption.replaced, *adoption.added)])
        if config.notifiers != old.notifiers:
            await self.outbox.replace(config.notifiers)
        if self.probing is not None:  # started: each measured group's source as now configured
            self.users.start()
        await self.commit(batch)
        await self._record_basis()
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self.ledger.watch, self._watched(), self.clock())
        except LedgerError as exc:  # only reports need it; the next start records it
            log.warning("cannot record the systems watched: %s", exc)
        if self.watchdog:
            self.watchdog.restart()  # new systems get their first slot to probe in
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock())

    # --- the loop bodies --------------------------------------------------------------------

    async def probe_system(self, name: str) -> None:
        """Probe one system once, count the result and commit it (`Probing` then plans the
        next probe, and cuts a run in flight short, quietly, at a stop). A heartbeat system
        is not probed: its deadlines are judged instead."""
        if name in self.pushes:
            await self.heartbeats.judge(name)
            return
        live = self.engine.lives[name]
        result = await self.prober.run(live.system.check)
        if self.config.secrets:  # a plugin or server may echo a configured secret back
            result = dataclasses.replace(result, reason=redact(result.reason,
                                                               self.config.secrets))
        self.metrics.observe_probe(name, result.latency, result.status)
        async with self.lock:
            batch = self.engine.observe(name, result, self.clock())
        if batch:
            self.ledger.submit(batch)  # in order; a scrape waits for it before exporting
        if self.watchdog:
            self.watchdog.progress()

    async def feed_watchdog(self) -> bool:
        """Ping systemd's watchdog if probes are completing (run by the probes' scheduler, so
        a wedged event loop never pings); True if pinged."""
        if self.watchdog is None:
            return False
        return self.watchdog.feed(live.system for live in self.engine.lives.values())

    async def checkpoint(self) -> None:
        """Commit open windows' accrual and a heartbeat, so a crash loses almost nothing;
        apply acknowledgements and ad-hoc maintenance; evaluate alerts and send what fired
        once its state is committed (so a restart never sends it again)."""
        batch = await self.actions.take()
        await self._record_basis()
        async with self.lock:
            now = self.clock()
            batch.extend(self.engine.account(now))
            batch.heartbeat = now
            if self.config.agent.retention:
                batch.prune_before = now - self.config.agent.retention
            outcome = Evaluation()
            if self.alerting.rules:  # views of a large estate cost; none are needed without
                outcome = self.alerting.evaluate(
                    Facts(now, self.engine.view(now), self.engine.period_costs(now)))
            batch.alerts.extend(outcome.changed)
            batch.alerts_cleared.extend(outcome.cleared)
            messages = self.outbox.stage(outcome.notifications, now, batch)
        await self.commit(batch)
        self.outbox.send(messages)  # each in the outbox first: a crash cannot lose it
        self.metrics.set_alerts_firing(self.alerting.firing())

    async def snapshot(self) -> Scrape:
        """Apply what people recorded, bring the books to now (to this look at it) and wait
        until they are safe; what a scrape shows. Held in memory only, the counters are
        shown as last kept safe (agent.safe)."""
        batch = await self.actions.take()
        async with self.lock:
            now = self.clock()
            taken = next(self._snapshots)
            batch.extend(self.engine.account(now))
            views = self.engine.view(now)
            groups = self.engine.group_views(now)
            users = self.engine.basis.users_at(now)
            sources = self.users.states(now)
        outcome = await self.commit(batch)
        views, groups = self.safe.serve(taken, outcome.safe, views, groups)
        return Scrape(views=views, groups=groups, concurrent_users=users, users_sources=sources,
                      beats=[(name, beat.last_ping, beat.duration)
                             for name, beat in self.pushes.beats.items()],
                      ledger_ok=self.ledger.healthy, journal_ok=not self.ledger.journal_error,
                      pending=self.ledger.pending,
                      clock_offset=-self.steady.drift() if self.clock is self.steady else 0.0)

    async def render_metrics(self) -> bytes:
        self.metrics.collector.scrape = await self.snapshot()
        return await asyncio.get_running_loop().run_in_executor(None, self.metrics.render)

    async def commit(self, batch: Batch) -> Outcome:
        """Commit a batch (even an empty one: its outcome is that of everything queued before
        it); say whether it is in the ledger, only kept in the journal because the ledger
        cannot take it now (written once it recovers), or in memory only. A scrape waits
        until the store answers or gives up (its lock timeout) and the journal has it."""
        future = asyncio.wrap_future(self.ledger.submit(batch))
        try:
            return await asyncio.wait_for(asyncio.shield(future), SAFE_WAIT_SECONDS)
        except TimeoutError:
            log.error("ledger neither committed nor journaled within %ss; serving counters "
                      "as last kept safe", SAFE_WAIT_SECONDS)
            return Outcome.MEMORY

    # --- reading --------------------------------------------------------------------------------

    def views(self) -> list[SystemView]:
        return self.engine.view(self.clock())

"""The running agent: scheduler -> probe -> engine -> ledger -> metrics, on one event loop.

APScheduler 3 only ever calls `Agent.probe_system(name)`; everything else (scrapes,
checkpoints, reloads) is a method a test can call directly.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import datetime as dt
import gc
import logging
import math
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from agent import __version__, systemd
from agent.alerts import Alerting, Facts, Outcome
from agent.clock import SteadyClock
from agent.engine import Engine, SystemView
from agent.exporter import Metrics, Scrape
from agent.ledger import TIMEOUT_SECONDS, Action, Ledger, LedgerError
from agent.model import Config, System
from agent.notify import Message
from agent.notify.dispatch import Dispatcher
from agent.probes import Prober
from agent.records import Batch, NotificationRecord, OutboxRecord
from agent.shard import format_shard, keeps_window, own_share
from agent.text import redact

log = logging.getLogger(__name__)

# A scrape waits this long for its figures to be safe: committed, or kept in the journal once
# the store has given up on a try (its lock timeout), then serves them.
SAFE_WAIT_SECONDS = TIMEOUT_SECONDS + 5.0
TICK_SECONDS = 0.01  # the scheduler's timer granularity: a few probes start per wake-up
RUN_SLACK_SECONDS = 1.0  # a probe ends within its timeout plus this, however busy the loop
GC_THRESHOLDS = (50_000, 20, 100)  # Python's default: (700, 10, 10); see tune_garbage_collector
MISSED_LOG_EVERY = 60.0  # seconds between log lines about skipped runs (each is counted)


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


class ProbeTrigger(BaseTrigger):
    """First run at a stable offset within the interval; then every `delay()` seconds.

    The offset comes from a hash of the system's name, so hundreds of systems configured at
    once are spread over their interval, and the same system keeps its slot across restarts.

    APScheduler asks for the next run as a run starts, before its result is known, so the
    plan is provisional: never before the run can have ended (its timeout, and `slack` for
    a busy loop), or a retry due sooner than a hanging probe's timeout would be skipped as
    "still running". `Agent._plan_next` sets the real time once the probe is done.
    """

    def __init__(self, name: str, interval: float, delay: Callable[[], float],
                 busy: float = 0.0) -> None:
        self.offset = (zlib.crc32(name.encode()) / 2**32) * min(interval, 60.0)
        self.delay = delay
        self.busy = dt.timedelta(seconds=busy)

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime:
        if previous_fire_time is None:
            return now + dt.timedelta(seconds=self.offset)
        return max(previous_fire_time + dt.timedelta(seconds=self.delay()), now + self.busy)


class ProbeJobStore(MemoryJobStore):
    """APScheduler's in-memory job store, with its binary search done by `bisect`.

    The store keeps (job, timestamp) sorted by time and id, and looks a job up two or three
    times per run; its own search is a Python loop (about 12 us over 10,000 jobs).
    """

    def _get_job_index(self, timestamp: float | None, job_id: str) -> int:
        key = (math.inf if timestamp is None else timestamp, job_id)
        return bisect.bisect_left(self._jobs, key, key=_job_order)


def _job_order(entry: tuple[Job, float | None]) -> tuple[float, str]:
    job, timestamp = entry
    return (math.inf if timestamp is None else timestamp, job.id)


class ProbeScheduler(AsyncIOScheduler):
    """APScheduler's asyncio scheduler, waking up less often for a large estate.

    - Every `Job.modify` asks for a wake-up, and each is a full pass over the due jobs:
      replanning a retry after each failed probe (thousands a second in a mass outage)
      would run one pass per probe. Here one pending wake-up serves them all.
    - Its timer wakes exactly when the next job is due: with 10,000 systems spread over
      30 s, that is a pass every 3 ms for one job each. Waking at most every `TICK_SECONDS`
      runs a few jobs per pass, for at most that much more lag.
    """

    _wakeup_pending = False

    def wakeup(self) -> None:
        if self._wakeup_pending:
            return
        self._wakeup_pending = True
        self._eventloop.call_soon_threadsafe(self._coalesced_wakeup)

    def _coalesced_wakeup(self) -> None:
        self._wakeup_pending = False
        if self.running:
            self._stop_timer()
            self._start_timer(self._process_jobs())

    def _start_timer(self, wait_seconds: float | None) -> None:
        super()._start_timer(None if wait_seconds is None else max(wait_seconds, TICK_SECONDS))


class Agent:
    def __init__(
        self, config: Config, clock: Callable[[], float] | None = None,
        histograms: bool | None = None, watchdog: float | None = None,
        notify: Callable[[str], bool] = systemd.notify,
    ) -> None:
        self.configured = {system.name for system in config.systems}  # every shard's
        config = own_share(config)  # with agent.shard, only this agent's systems
        self.config = config
        self.steady = SteadyClock()
        self.clock: Callable[[], float] = clock or self.steady
        self.watchdog = watchdog  # seconds between systemd watchdog pings; None: no watchdog
        self.notify = notify
        self.probes_completed = 0  # the progress the watchdog looks for
        self._completed_at_ping = 0
        self._last_progress = self.clock()
        self.engine = Engine(config, self.clock())
        self.ledger = Ledger.of(config.agent)
        if histograms is None:  # a registry's labels are fixed: a reload cannot change it
            histograms = config.agent.per_system_histograms
        self.metrics = Metrics(config.cost.currency, config.agent.site, histograms,
                               format_shard(config.agent.shard))
        self.prober = Prober()
        self.scheduler: AsyncIOScheduler | None = None
        self.ready = False
        self._planned: dict[str, float] = {}
        self._lock = asyncio.Lock()  # one evaluation of the books at a time
        self._clock_watch: asyncio.Task[None] | None = None
        self.alerting = Alerting(config.alerts, config.cost.currency, config.agent.external_url)
        self.dispatcher = self._dispatcher(config)
        self._last_action = 0
        self._missed_logged_at = -MISSED_LOG_EVERY
        self._missed_unlogged = 0
        self._basis_since: float | None = None  # the cost basis is not yet in the ledger

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
        await self._restore_alerts()
        self.dispatcher.start()
        await self._resend_outbox()
        await self.prober.__aenter__()
        self.scheduler = ProbeScheduler(event_loop=loop, timezone=dt.UTC,
                                        jobstores={"default": ProbeJobStore()})
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.scheduler.add_listener(self._on_executed, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        for system in (*self.config.agent.canaries, *self.config.systems):
            self._add_job(system)
        self.scheduler.add_job(self.checkpoint, "interval", id="__checkpoint__", coalesce=True,
                               seconds=self.config.agent.evaluation_interval,
                               misfire_grace_time=None)
        if self.watchdog:
            # In the probes' own scheduler, so a wedged loop or scheduler stops the pings.
            self.scheduler.add_job(self.feed_watchdog, "interval", seconds=self.watchdog,
                                   id="__watchdog__", coalesce=True, misfire_grace_time=None)
        self._last_progress = self.clock()
        self.scheduler.start()
        if self.clock is self.steady:
            self._clock_watch = loop.create_task(self._watch_wall_clock())
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock())
        tune_garbage_collector()
        self.ready = True

    async def _watch_wall_clock(self) -> None:
        """Follow wall-clock steps. APScheduler 3 plans on the wall clock, so after a step
        back of an hour it would wait an hour: shift every job by the step instead. The books
        keep the steady clock, and realign with the wall clock once nothing is being timed.
        """
        seen = self.steady.drift()
        while True:
            await asyncio.sleep(1.0)  # the event loop's clock is monotonic: steps can't stall it
            drift = self.steady.drift()
            if abs(drift - seen) > 1.0:
                log.warning("the wall clock stepped by %+.1fs; probes keep their rhythm",
                            drift - seen)
                self._shift_jobs(drift - seen)
            seen = drift
            if abs(drift) > 1.0:
                await self._realign()

    def _shift_jobs(self, step: float) -> None:
        """After a step back, bring every planned probe back by the step. (After a step
        forward the plans are overdue: APScheduler runs each once now and plans on from
        there, so they need nothing.)"""
        if self.scheduler is None or step >= 0:
            return
        now = dt.datetime.now(dt.UTC)
        for job in self.scheduler.get_jobs():
            if job.next_run_time is not None:
                job.modify(next_run_time=max(now, job.next_run_time + dt.timedelta(seconds=step)))
        self.scheduler.wakeup()

    async def _realign(self) -> None:
        async with self._lock:
            if self.engine.idle():
                step = self.steady.rebase()
                self.engine.rebase(self.clock())
                log.info("the agent's clock realigned with the wall clock (%+.1fs)", step)

    def _add_job(self, system: System) -> None:
        assert self.scheduler is not None
        name = system.name
        trigger = ProbeTrigger(name, system.interval, lambda: self.engine.next_delay(name),
                               busy=system.check.timeout + RUN_SLACK_SECONDS)
        self.scheduler.add_job(
            self.probe_system, trigger, args=[name], id=name, name=name, max_instances=1,
            coalesce=True, misfire_grace_time=None,
        )

    async def _restore(self) -> None:
        loop = asyncio.get_running_loop()
        now = self.clock()
        first_day = self.engine.first_day_kept(now)

        def read() -> tuple[Any, Any, Any, Any, Any, float]:
            latest = self.ledger.latest_record()  # before this run's own records
            self.ledger.start_run(__version__, now)
            self.ledger.watch(self._watched(), now)
            return (self.ledger.open_windows(), self.ledger.totals(),
                    self.ledger.days_since(first_day), self.ledger.group_totals(),
                    self.ledger.group_days_since(first_day), latest)

        windows, totals, days, groups, group_days, latest = await loop.run_in_executor(
            None, read)
        windows = [w for w in windows if keeps_window(
            w.record.system, self.engine.lives, self.configured, self.config.agent.shard)]
        batch = self.engine.restore(
            [w.record for w in windows],
            {name: (t.amounts, t.incidents) for name, t in totals.items()}, days, now,
            group_totals=groups, group_days=group_days, not_before=latest,
        )
        self._basis_since = self.engine.charges.horizon
        await self._record_basis()
        resumed = sum(1 for w in windows if self.engine.lives.get(w.record.system) and
                      self.engine.lives[w.record.system].window is not None)
        log.info("ledger %s open: %d open window(s) resumed, %d closed after a gap",
                 self.ledger.name, resumed, len(windows) - resumed)
        await self.ledger.commit(batch)

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
        if self._clock_watch is not None:
            self._clock_watch.cancel()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        async with self._lock:
            batch = self.engine.account(self.clock())
            batch.heartbeat = self.clock()
            await self._commit(batch)
        await self.prober.__aexit__(None, None, None)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.dispatcher.stop)
        await loop.run_in_executor(None, self.ledger.close)
        try:
            await loop.run_in_executor(None, self.ledger.stop_run, self.clock())
        except LedgerError as exc:  # the next start sees a run that never said it stopped
            log.warning("cannot mark the run as stopped: %s", exc)
        self.ledger.dispose()

    def _watched(self) -> list[str]:
        return [name for name, live in self.engine.lives.items() if not live.canary]

    async def reload(self, config: Config) -> None:
        """Apply a validated configuration without losing the state of unchanged systems."""
        self.configured = {system.name for system in config.systems}
        config = own_share(config)
        async with self._lock:
            now = self.clock()
            engine = Engine(config, now)
            adoption = engine.adopt(self.engine, now)
            batch = adoption.batch
            old, self.engine, self.config = self.engine, engine, config
            alerting = Alerting(config.alerts, config.cost.currency, config.agent.external_url)
            alerting.restore(list(self.alerting.states.values()))
            self.alerting = alerting
            self._basis_since = now
        if self.scheduler is not None and (
                config.agent.evaluation_interval != old.config.agent.evaluation_interval):
            self.scheduler.reschedule_job("__checkpoint__", trigger="interval",
                                          seconds=config.agent.evaluation_interval)
        if config.notifiers != old.config.notifiers:
            self.dispatcher.stop()
            self.dispatcher = self._dispatcher(config)
            self.dispatcher.start()
            await self._resend_outbox()
        if self.scheduler is not None:  # a changed system may be probed on another rhythm
            for name in (*adoption.changed, *adoption.replaced, *adoption.removed):
                self.scheduler.remove_job(name)
            for name in (*adoption.changed, *adoption.replaced, *adoption.added):
                self._add_job(engine.lives[name].system)
        await self._commit(batch)
        await self._record_basis()
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self.ledger.watch, self._watched(), self.clock())
        except LedgerError as exc:  # only reports need it; the next start records it
            log.warning("cannot record the systems watched: %s", exc)
        self._last_progress = self.clock()  # new systems get their first slot to probe in
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock())

    # --- the loop bodies --------------------------------------------------------------------

    async def probe_system(self, name: str) -> None:
        """Probe one system once, count the result and commit it (`_on_executed` then plans
        the next probe)."""
        try:
            await self._probe_once(name)
        except asyncio.CancelledError:
            if self.ready:
                raise
            # Stopping: the scheduler cancels the runs in flight, and APScheduler would log
            # each as a failed job with its traceback (a minute of it, for 10,000 systems in
            # an outage). An unfinished probe simply does not count.

    async def _probe_once(self, name: str) -> None:
        live = self.engine.lives[name]
        result = await self.prober.run(live.system.check)
        if self.config.secrets:  # a plugin or server may echo a configured secret back
            result = dataclasses.replace(result, reason=redact(result.reason,
                                                               self.config.secrets))
        self.metrics.observe_probe(name, result.latency, result.status)
        async with self._lock:
            batch = self.engine.observe(name, result, self.clock())
        if batch:
            self.ledger.submit(batch)  # in order; a scrape waits for it before exporting
        self.probes_completed += 1

    async def feed_watchdog(self) -> bool:
        """Ping systemd's watchdog if probing is making progress; return True if pinged.

        Progress: a probe completed since the last ping, or none can have been due yet (a
        healthy agent is never quiet for longer than its shortest interval plus that probe's
        timeout, and a ping interval of slack for a late scheduler). A wedged event loop
        never runs this; a scheduler that stops completing probes runs it and stops pinging,
        so systemd restarts the agent.
        """
        now = self.clock()
        if self.probes_completed != self._completed_at_ping:
            self._completed_at_ping = self.probes_completed
            self._last_progress = now
        elif self.engine.lives and now - self._last_progress > self._quiet_allowance():
            log.warning("no probe has completed for %.0fs: not pinging systemd's watchdog",
                        now - self._last_progress)
            return False
        return self.notify(systemd.WATCHDOG)

    def _quiet_allowance(self) -> float:
        """The longest a healthy agent goes without completing a probe, in seconds."""
        shortest = min(live.system.interval + live.system.check.timeout
                       for live in self.engine.lives.values())
        return shortest + (self.watchdog or 0.0)

    def _plan_next(self, name: str) -> None:
        """Retry sooner after a failure: the trigger planned the next run before this one."""
        if self.scheduler is None or name not in self._planned:
            return
        job = self.scheduler.get_job(name)
        if job is None or job.next_run_time is None:
            return
        wanted = self._planned[name] + self.engine.next_delay(name)
        wanted = max(wanted, time.time())  # the scheduler plans on the wall clock
        if abs(job.next_run_time.timestamp() - wanted) > 1e-3:
            job.modify(next_run_time=dt.datetime.fromtimestamp(wanted, dt.UTC))

    async def checkpoint(self) -> None:
        """Commit open windows' accrual and a heartbeat, so a crash loses almost nothing;
        apply acknowledgements and ad-hoc maintenance; evaluate alerts and send what fired
        once its state is committed (so a restart never sends it again)."""
        actions = await self._read_actions()
        await self._record_basis()
        async with self._lock:
            now = self.clock()
            batch = self._apply(actions, now)
            batch.extend(self.engine.account(now))
            batch.heartbeat = now
            if self.config.agent.retention:
                batch.prune_before = now - self.config.agent.retention
            outcome = Outcome()
            if self.alerting.rules:  # views of a large estate cost; none are needed without
                outcome = self.alerting.evaluate(
                    Facts(now, self.engine.view(now), self.engine.period_costs(now)))
            batch.alerts.extend(outcome.changed)
            batch.alerts_cleared.extend(outcome.cleared)
            messages = [(names, dataclasses.replace(m, id=uuid.uuid4().hex))
                        for names, m in outcome.notifications]
            batch.notifications.extend(
                NotificationRecord(m.at, m.alert, m.status, m.title, names)
                for names, m in messages)
            batch.outbox.extend(OutboxRecord(m.id, name, dataclasses.asdict(m), "queued", now)
                                for names, m in messages for name in names)
        await self._commit(batch)
        for names, message in messages:  # each in the outbox first: a crash cannot lose it
            for name in names:
                self.dispatcher.submit(name, message)
        self.metrics.set_alerts_firing(self.alerting.firing())

    async def _read_actions(self) -> list[Action]:
        """Actions recorded since the last look; none while the ledger cannot be read."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.ledger.actions_since,
                                              self._last_action)
        except LedgerError as exc:
            log.warning("cannot read actions from the ledger (will retry): %s", exc)
            return []

    def _apply(self, actions: list[Action], now: float) -> Batch:
        """Acknowledgements and ad-hoc maintenance recorded by `outage-agent ack|maintenance`."""
        batch = Batch()
        plans = []
        for action in actions:
            self._last_action = max(self._last_action, action.id)
            if action.system not in self.engine.lives:
                log.warning("ignoring %s for unknown system %r", action.kind, action.system)
            elif action.kind == "ack":
                batch.alerts.extend(self.alerting.acknowledge(action.system))
                log.info("%s acknowledged by %s: %s", action.system, action.who, action.note)
            else:
                until = action.until if action.kind == "maintenance" else action.at
                plans.append((action.system, action.at, until or action.at))
                log.info("%s: %s by %s until %s: %s", action.system, action.kind, action.who,
                         until, action.note)
        if plans:
            batch.extend(self.engine.plan_maintenance(plans, now))
        return batch

    def _dispatcher(self, config: Config) -> Dispatcher:
        return Dispatcher(config.notifiers, self.metrics.count_notification,
                          done=self._delivered)

    def _delivered(self, notifier: str, message: Message, result: str) -> None:
        """A message's fate, from a delivery thread: the outbox says so (and a restart does
        not send a delivered one again)."""
        self.ledger.submit(Batch(outbox=[OutboxRecord(
            message.id, notifier, dataclasses.asdict(message), result, time.time())]))

    async def _resend_outbox(self) -> None:
        """Queue again what the outbox says is still to be delivered (a restart, or a reload
        that replaced the notifiers): with the same id, so a receiver can tell."""
        loop = asyncio.get_running_loop()
        try:
            queued = await loop.run_in_executor(None, self.ledger.outbox_queued)
        except LedgerError as exc:
            log.warning("cannot read the notification outbox: %s", exc)
            return
        for record in queued:
            message = Message(**record.message)
            if record.notifier not in {n.name for n in self.config.notifiers}:
                self._delivered(record.notifier, message, "dropped")
                continue
            self.dispatcher.submit(record.notifier, message)
        if queued:
            log.info("%d queued notification(s) from the outbox sent again", len(queued))

    async def _restore_alerts(self) -> None:
        """Alert states survive restarts; so do ad-hoc maintenance windows still running."""
        loop = asyncio.get_running_loop()
        states = await loop.run_in_executor(None, self.ledger.alert_states)
        actions = await loop.run_in_executor(None, self.ledger.actions_since, 0)
        self.alerting.restore(states)
        now = self.clock()
        live_actions = [a for a in actions if a.kind != "ack"]
        await self._commit(self._apply(live_actions, now))
        self._last_action = max((a.id for a in actions), default=0)

    async def snapshot(self) -> Scrape:
        """Bring the books to now and wait until they are committed; what a scrape shows."""
        async with self._lock:
            now = self.clock()
            batch = self.engine.account(now)
            views = self.engine.view(now)
            groups = self.engine.group_views(now)
            users = self.engine.concurrent_users(now)
        committed = await self._commit(batch)
        return Scrape(views=views, groups=groups, concurrent_users=users,
                      ledger_ok=self.ledger.healthy, committed=committed,
                      pending=self.ledger.pending)

    async def render_metrics(self) -> bytes:
        self.metrics.collector.scrape = await self.snapshot()
        return await asyncio.get_running_loop().run_in_executor(None, self.metrics.render)

    async def _commit(self, batch: Batch) -> bool:
        """Commit a batch; True once in the ledger, False once only kept safe in the journal
        because the ledger cannot take it now (it is written once the ledger recovers). So
        figures shown after it never exceed what a crash would leave: a scrape waits until
        the store answers or gives up (its lock timeout) and the journal has it."""
        if not batch:
            return self.ledger.healthy
        future = asyncio.wrap_future(self.ledger.submit(batch))
        try:
            return await asyncio.wait_for(asyncio.shield(future), SAFE_WAIT_SECONDS)
        except TimeoutError:
            log.error("ledger neither committed nor journaled within %ss; serving figures "
                      "from memory", SAFE_WAIT_SECONDS)
            return False

    # --- scheduler events ---------------------------------------------------------------------

    def _on_submitted(self, event: JobEvent) -> None:
        if not isinstance(event, JobSubmissionEvent) or event.job_id.startswith("__"):
            return
        planned = event.scheduled_run_times[-1].timestamp()
        self._planned[event.job_id] = planned
        self.metrics.schedule_lag.observe(max(0.0, time.time() - planned))

    def _on_executed(self, event: JobEvent) -> None:
        """A probe run has ended: plan the next one. Planned here, not at the end of the run
        itself, because APScheduler counts the run as finished only now: a retry due at once
        and planned any sooner would be skipped as still running."""
        if not event.job_id.startswith("__"):
            self._plan_next(event.job_id)

    def _on_missed(self, event: JobEvent) -> None:
        """Count every skipped run; log one line a minute at most, so an overloaded agent
        (thousands of skips a second) does not also drown in its own log."""
        reason = "still_running" if event.code == EVENT_JOB_MAX_INSTANCES else "late"
        self.metrics.missed_runs.labels(reason).inc()
        now = time.monotonic()
        if now - self._missed_logged_at < MISSED_LOG_EVERY:
            self._missed_unlogged += 1
            return
        more = (f"; {self._missed_unlogged} more skipped since the last such line"
                if self._missed_unlogged else "")
        log.warning("probe run of %s skipped (%s)%s", event.job_id, reason, more)
        self._missed_logged_at, self._missed_unlogged = now, 0

    # --- reading --------------------------------------------------------------------------------

    def views(self) -> list[SystemView]:
        return self.engine.view(self.clock())

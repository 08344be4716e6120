"""When each system is probed: APScheduler 3, fitted to a large estate, behind one small class
(`Probing`) the agent drives.

APScheduler is used through its public API (triggers, job stores, events, `Job.modify`)
except in two places, both here and both guarded by tests/test_scheduling.py, which fails
on an APScheduler upgrade that changes what they rely on:
- `ProbeJobStore._get_job_index`: the in-memory store's search, done by `bisect`;
- `ProbeScheduler`: the asyncio scheduler's timer (`_start_timer`, `_stop_timer`,
  `_process_jobs`, `_eventloop`), so that many wake-ups coalesce into one.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import logging
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
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
from prometheus_client import Counter, Histogram

from agent.model import System
from agent.services import is_service

log = logging.getLogger(__name__)

TICK_SECONDS = 0.01  # the scheduler's timer granularity: a few probes start per wake-up
RUN_SLACK_SECONDS = 1.0  # a probe ends within its timeout plus this, however busy the loop
MISSED_LOG_EVERY = 60.0  # seconds between log lines about skipped runs (each is counted)


def quiet_library_logging() -> None:
    """APScheduler logs every run at INFO, and each skipped run at WARNING: thousands a
    second at scale. `Probing` counts skipped runs and logs them itself, a line a minute."""
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


class ProbeTrigger(BaseTrigger):
    """First run at a stable offset within the interval; then every `delay()` seconds.

    The offset comes from a hash of the system's name, so hundreds of systems configured at
    once are spread over their interval, and the same system keeps its slot across restarts.

    APScheduler asks for the next run as a run starts, before its result is known, so the
    plan is provisional: never before the run can have ended (its timeout, and `slack` for
    a busy loop), or a retry due sooner than a hanging probe's timeout would be skipped as
    "still running". `Probing.plan_next` sets the real time once the probe is done.
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


class DeadlineTrigger(BaseTrigger):
    """For a system that is not probed (a heartbeat): run at once, then at each time
    `deadline()` names (the next deadline to judge, never later than a refresh)."""

    def __init__(self, deadline: Callable[[], float]) -> None:
        self.deadline = deadline

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime:
        if previous_fire_time is None:
            return now
        return max(dt.datetime.fromtimestamp(self.deadline(), dt.UTC), now)


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


class Probing:
    """The agent's scheduler: a job per system calling `run(name)`, timed by `delay(name)`
    (each system's `Live.next_delay`), plus the agent's own periodic jobs; how late each run
    started, and the runs skipped, are counted."""

    def __init__(self, loop: asyncio.AbstractEventLoop, run: Callable[[str], Awaitable[None]],
                 delay: Callable[[str], float], lag: Histogram, missed: Counter,
                 deadline: Callable[[str], float | None] = lambda name: None) -> None:
        """`deadline(name)`: for a system that is not probed, when to run next (None: a
        probed system, run every `delay(name)`)."""
        self.scheduler = ProbeScheduler(event_loop=loop, timezone=dt.UTC,
                                        jobstores={"default": ProbeJobStore()})
        self._run = run
        self._delay = delay
        self._deadline = deadline
        self._lag = lag
        self._missed = missed
        self._planned: dict[str, float] = {}
        self._missed_logged_at = -MISSED_LOG_EVERY
        self._missed_unlogged = 0
        self._in_flight: set[asyncio.Task[Any]] = set()  # runs started and not yet ended
        self._stopping = False
        self._every: dict[str, float] = {}  # the agent's own jobs' intervals
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.scheduler.add_listener(self._on_executed, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def add(self, system: System) -> None:
        """Probe `system` from now on (a service is not probed: its members are)."""
        if is_service(system):
            return
        name = system.name
        trigger: BaseTrigger = ProbeTrigger(name, system.interval, lambda: self._delay(name),
                                            busy=system.check.timeout + RUN_SLACK_SECONDS)
        if self._deadline(name) is not None:
            trigger = DeadlineTrigger(lambda: self._deadline(name) or time.time())
        self.scheduler.add_job(self._quietly, trigger, args=[self._run, name], id=name,
                               name=name, max_instances=1, coalesce=True,
                               misfire_grace_time=None)

    def remove(self, name: str) -> None:
        if self.scheduler.get_job(name) is not None:  # a service has no job
            self.scheduler.remove_job(name)

    def replace(self, removed: Iterable[str], added: Iterable[System]) -> None:
        """After a reload: stop probing `removed`, then probe `added` (a system whose
        settings changed is in both: it may be probed on another rhythm now)."""
        for name in removed:
            self.remove(name)
        for system in added:
            self.add(system)

    def every(self, job_id: str, seconds: float, call: Callable[[], Awaitable[Any]]) -> None:
        """Run one of the agent's own jobs every `seconds` (a checkpoint, the watchdog)."""
        self._every[job_id] = seconds
        self.scheduler.add_job(self._quietly, "interval", args=[call], id=job_id,
                               name=job_id, seconds=seconds, coalesce=True,
                               misfire_grace_time=None)

    def reschedule(self, job_id: str, seconds: float) -> None:
        """Run one of the agent's own jobs every `seconds` from now, if that is a change."""
        if self._every.get(job_id) != seconds:
            self._every[job_id] = seconds
            self.scheduler.reschedule_job(job_id, trigger="interval", seconds=seconds)

    def start(self) -> None:
        self.scheduler.start()

    def pause(self) -> None:
        self.scheduler.pause()

    async def shutdown(self) -> None:
        """Stop: plan no more runs, cut short the runs in flight and wait until they have
        ended, then shut the scheduler down. Left to APScheduler, each run cancelled at stop
        (a checkpoint waiting for a slow commit, a probe) is logged as a job that raised
        CancelledError, traceback and all."""
        if not self.scheduler.running:
            return
        self._stopping = True
        self.scheduler.pause()
        await asyncio.sleep(0)  # runs submitted just now start, so that they too end quietly
        for task in self._in_flight:
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        self.scheduler.shutdown(wait=False)

    async def _quietly(self, call: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a job; one cut short by `shutdown` ends quietly: an unfinished probe does not
        count, and what a checkpoint submitted is committed by the stop."""
        task = asyncio.current_task()  # APScheduler runs a coroutine job as a task of its own
        if task is not None:
            self._in_flight.add(task)
        try:
            await call(*args)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self._in_flight.discard(task)

    def stepped(self, step: float) -> None:
        """The wall clock stepped by `step` seconds. APScheduler 3 plans on the wall clock, so
        after a step back of an hour it would wait an hour: bring every planned probe back
        by the step instead. (After a step forward the plans are overdue: APScheduler runs
        each once now and plans on from there, so they need nothing.) The agent's books keep
        their steady clock (agent.clock)."""
        log.warning("the wall clock stepped by %+.1fs; probes keep their rhythm", step)
        if step >= 0:
            return
        now = dt.datetime.now(dt.UTC)
        for job in self.scheduler.get_jobs():
            if job.next_run_time is not None:
                job.modify(next_run_time=max(now, job.next_run_time + dt.timedelta(seconds=step)))
        self.scheduler.wakeup()

    def plan_next(self, name: str) -> None:
        """Retry sooner after a failure: the trigger planned the next run before this one.
        (For a system that is not probed: run at its next deadline, which a ping moves.)"""
        if name not in self._planned and self._deadline(name) is None:
            return
        job = self.scheduler.get_job(name)
        if job is None or job.next_run_time is None:
            return
        wanted = self._deadline(name) or self._planned[name] + self._delay(name)
        wanted = max(wanted, time.time())  # the scheduler plans on the wall clock
        if abs(job.next_run_time.timestamp() - wanted) > 1e-3:
            job.modify(next_run_time=dt.datetime.fromtimestamp(wanted, dt.UTC))

    # --- the scheduler's events ---------------------------------------------------------------

    def _on_submitted(self, event: JobEvent) -> None:
        if not isinstance(event, JobSubmissionEvent) or event.job_id.startswith("__"):
            return
        planned = event.scheduled_run_times[-1].timestamp()
        self._planned[event.job_id] = planned
        self._lag.observe(max(0.0, time.time() - planned))

    def _on_executed(self, event: JobEvent) -> None:
        """A probe run has ended: plan the next one. Planned here, not at the end of the run
        itself, because APScheduler counts the run as finished only now: a retry due at once
        and planned any sooner would be skipped as still running."""
        if not event.job_id.startswith("__"):
            self.plan_next(event.job_id)

    def _on_missed(self, event: JobEvent) -> None:
        """Count every skipped run; log one line a minute at most, so an overloaded agent
        (thousands of skips a second) does not also drown in its own log."""
        reason = "still_running" if event.code == EVENT_JOB_MAX_INSTANCES else "late"
        self._missed.labels(reason).inc()
        now = time.monotonic()
        if now - self._missed_logged_at < MISSED_LOG_EVERY:
            self._missed_unlogged += 1
            return
        more = (f"; {self._missed_unlogged} more skipped since the last such line"
                if self._missed_unlogged else "")
        log.warning("probe run of %s skipped (%s)%s", event.job_id, reason, more)
        self._missed_logged_at, self._missed_unlogged = now, 0

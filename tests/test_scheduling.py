"""agent.scheduling: the parts of APScheduler it overrides are still there, its fast job
search answers as APScheduler's own does, wake-ups coalesce, and the trigger plans as said."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import random

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent.scheduling import ProbeJobStore, ProbeScheduler, ProbeTrigger

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("owner", "member", "parameters"), [
    (MemoryJobStore, "_get_job_index", ["self", "timestamp", "job_id"]),
    (AsyncIOScheduler, "_start_timer", ["self", "wait_seconds"]),
    (AsyncIOScheduler, "_stop_timer", ["self"]),
    (AsyncIOScheduler, "_process_jobs", ["self"]),
])
def test_the_private_members_overridden_are_still_apschedulers(owner, member, parameters):
    """An APScheduler release that renames or reshapes one of these breaks agent.scheduling
    silently (the override would never be called); this fails instead."""
    assert list(inspect.signature(getattr(owner, member)).parameters) == parameters


def test_the_scheduler_keeps_its_event_loop_where_the_override_looks():
    loop = asyncio.new_event_loop()
    try:
        scheduler = ProbeScheduler(event_loop=loop, timezone=dt.UTC)
        assert scheduler._eventloop is loop
    finally:
        loop.close()


def _jobs(count: int, seed: int) -> list[tuple[Job, float | None]]:
    """(job, timestamp) pairs as a MemoryJobStore keeps them: sorted, some never due."""
    rng = random.Random(seed)
    store = MemoryJobStore()
    entries = []
    for i in range(count):
        job = Job.__new__(Job)
        job.id = f"system-{rng.randrange(count * 2):05d}-{i}"
        timestamp = None if rng.random() < 0.1 else float(rng.randrange(50))  # many ties
        entries.append((job, timestamp))
    entries.sort(key=lambda e: (float("inf") if e[1] is None else e[1], e[0].id))
    store._jobs = entries
    return entries


@pytest.mark.parametrize("seed", range(5))
def test_the_bisect_search_answers_as_apschedulers_own(seed):
    entries = _jobs(400, seed)
    reference, fast = MemoryJobStore(), ProbeJobStore()
    reference._jobs = fast._jobs = entries
    rng = random.Random(seed)
    queries = [(ts, job.id) for job, ts in entries]  # every job present
    queries += [(rng.choice([None, float(rng.randrange(-1, 52)), rng.random() * 50]),
                 f"system-{rng.randrange(900):05d}-x") for _ in range(400)]  # absent: where
    for timestamp, job_id in queries:
        assert fast._get_job_index(timestamp, job_id) == \
            reference._get_job_index(timestamp, job_id), (timestamp, job_id)


async def test_many_wakeups_coalesce_into_one_pass():
    scheduler = ProbeScheduler(event_loop=asyncio.get_running_loop(), timezone=dt.UTC)
    passes = 0
    process = scheduler._process_jobs

    def counted() -> float | None:
        nonlocal passes
        passes += 1
        return process()

    scheduler._process_jobs = counted  # type: ignore[method-assign]
    scheduler.start(paused=False)
    try:
        await asyncio.sleep(0.05)
        before = passes
        for _ in range(1000):
            scheduler.wakeup()
        await asyncio.sleep(0.05)
        assert passes - before == 1
    finally:
        scheduler.shutdown(wait=False)


def test_the_trigger_spreads_first_runs_and_keeps_each_slot():
    first = {name: ProbeTrigger(name, 30.0, lambda: 30.0).get_next_fire_time(None, T0)
             for name in (f"system-{i}" for i in range(200))}
    offsets = [(when - T0).total_seconds() for when in first.values()]
    assert all(0 <= o < 30 for o in offsets)
    assert len({int(o) for o in offsets}) >= 25  # spread over the interval, not bunched
    again = ProbeTrigger("system-7", 30.0, lambda: 30.0).get_next_fire_time(None, T0)
    assert again == first["system-7"]  # the same slot after a restart


def test_the_trigger_never_plans_before_a_run_can_have_ended():
    trigger = ProbeTrigger("db", 30.0, lambda: 2.0, busy=11.0)  # retry in 2 s; timeout 10 s
    assert trigger.get_next_fire_time(T0, T0) == T0 + dt.timedelta(seconds=11)
    healthy = ProbeTrigger("db", 30.0, lambda: 30.0, busy=11.0)
    assert healthy.get_next_fire_time(T0, T0) == T0 + dt.timedelta(seconds=30)

"""The verdict on a heartbeat (push) system: pure functions of its `Beat` and the time.

A job reports in (`ping`); the scheduler calls `judge` at each deadline `next_check` names. Both
return the results to feed the engine at that instant, which the engine dates and costs as any
probe's. A heartbeat system has failure_threshold 2 and success_threshold 1
(agent.probes.heartbeat), so a success overdue is fed as one down result when it falls due,
which starts a change in doubt there, and another at the end of the grace, which confirms the
outage from the due time; a failure is fed as two at once. While a change is in doubt the
money is held back to it, as for a probed system; so is everyone's, for up to the grace.

All times are POSIX seconds; `schedule` fires in cost.timezone (agent.maintenance's cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from agent.maintenance import next_fire
from agent.model import ProbeResult, Status
from agent.probes import clean_reason
from agent.probes.heartbeat import HeartbeatProbe
from agent.text import iso

SUCCESS, START, FAIL = "success", "start", "fail"
NEW, UP, LATE, DOWN, UNKNOWN = "new", "up", "late", "down", "unknown"


@dataclass
class Beat:
    """Where one heartbeat system stands: what its job last said, and when a success is due."""

    due: float  # the next success is due at this time
    last_ping: float | None = None
    last_kind: str = ""  # success, start, fail or "exit N"
    last_success: float | None = None
    started: float | None = None  # a run started and not ended yet
    duration: float | None = None  # the last run's, from its start to its success
    verdict: str = NEW  # new (never pinged), up, late (in its grace), down, unknown
    reason: str = ""


def next_due(spec: HeartbeatProbe, zone: ZoneInfo, after: float) -> float:
    """When a success is next due, counting from `after` (the last success, or a start)."""
    if spec.schedule is not None:
        fire = next_fire(spec.schedule, zone, after)
        return fire if fire is not None else after + 8 * 366 * 86400.0  # config refuses these
    return after + (spec.every or 0.0)


def first_beat(spec: HeartbeatProbe, zone: ZoneInfo, watched_from: float) -> Beat:
    """A heartbeat never pinged: its first success is due one period after watching began."""
    return Beat(due=next_due(spec, zone, watched_from))


def evidence(body: str) -> str:
    """A ping's body as the ledger keeps it: NUL, which PostgreSQL's text refuses, as U+FFFD."""
    return body.replace("\x00", "\ufffd")


def ping_kind(word: str) -> str | None:
    """Given the last part of a ping's path ("", "start", "fail", or an exit status), return
    the kind of ping, or None for anything else."""
    if word in ("", START, FAIL):
        return word or SUCCESS
    if word.isascii() and word.isdigit() and int(word) <= 255:
        return SUCCESS if int(word) == 0 else f"exit {int(word)}"
    return None


def ping(beat: Beat, spec: HeartbeatProbe, zone: ZoneInfo, kind: str, at: float,
         body: str = "") -> list[ProbeResult]:
    """The job says `kind` at `at` (its output: `body`): update `beat`; return the results
    for the engine."""
    beat.last_ping, beat.last_kind = at, kind
    if kind == START:
        beat.started = at
        return []
    run = at - beat.started if beat.started is not None else None
    beat.started = None
    beat.due = next_due(spec, zone, at)  # a finished run, good or bad, sets the next one
    if kind == SUCCESS:
        beat.last_success, beat.duration, beat.verdict, beat.reason = at, run, UP, ""
        return [ProbeResult(Status.UP, run or 0.0)]
    said = "the job reported failure" if kind == FAIL else f"the job ended with {kind}"
    return _down(beat, _with_body(said, body), twice=True)


def judge(beat: Beat, spec: HeartbeatProbe, at: float) -> list[ProbeResult]:
    """The scheduler's look at `at`: whether a run has overrun or a success is overdue."""
    if beat.started is not None and spec.max_runtime is not None \
            and at >= beat.started + spec.max_runtime:
        started, beat.started = beat.started, None
        return _down(beat, f"started at {iso(started)}, no success within "
                           f"{spec.max_runtime:g}s", twice=True)
    if beat.verdict == DOWN:
        return [ProbeResult(Status.DOWN, 0.0, beat.reason)]
    overdue = f"no success since {iso(beat.last_success)}" if beat.last_success is not None \
        else "never pinged"
    if at >= beat.due + spec.grace:
        return _down(beat, f"{overdue}; due at {iso(beat.due)}", twice=beat.verdict != LATE)
    if at >= beat.due and beat.verdict != LATE:
        beat.verdict = LATE  # in doubt from its due time; the grace decides
        return [ProbeResult(Status.DOWN, 0.0, f"{overdue}; due at {iso(beat.due)}")]
    return [ProbeResult(Status.UP, 0.0)] if beat.verdict == UP else []


def next_check(beat: Beat, spec: HeartbeatProbe, at: float, every: float) -> float:
    """When the scheduler is next to `judge`: the next deadline, or in `every` seconds if
    sooner (so an open window is seen, and the watchdog sees progress)."""
    times = [at + every, beat.due, beat.due + spec.grace]
    if beat.started is not None and spec.max_runtime is not None:
        times.append(beat.started + spec.max_runtime)
    return min(t for t in times if t > at) if any(t > at for t in times) else at + every


def resume(beat: Beat, spec: HeartbeatProbe, zone: ZoneInfo, away_from: float,
           at: float) -> list[ProbeResult]:
    """A beat read back after the agent was away from `away_from` until `at`: a deadline that
    passed meanwhile is unknown (its ping may have come while nobody listened), judged again
    from the next one; a success overdue is in doubt again from now."""
    deadlines = [beat.due if beat.verdict == DOWN else beat.due + spec.grace]
    if beat.started is not None and spec.max_runtime is not None:
        deadlines.append(beat.started + spec.max_runtime)
    if any(away_from < t <= at for t in deadlines):
        beat.started, beat.verdict = None, UNKNOWN
        beat.reason = f"the agent was not running from {iso(away_from)} to {iso(at)}"
        beat.due = _roll_on(spec, zone, beat.due, at)
        return [ProbeResult(Status.UNKNOWN, 0.0, beat.reason)] * 2
    if beat.verdict == LATE:
        beat.verdict = UP if beat.last_success is not None else NEW
        return judge(beat, spec, at)
    return []


def _roll_on(spec: HeartbeatProbe, zone: ZoneInfo, due: float, at: float) -> float:
    """The first due time after `at` on the schedule `due` was on."""
    if spec.schedule is not None or not spec.every:
        return next_due(spec, zone, at)
    periods = (at - due) // spec.every + 1
    return due + max(periods, 1) * spec.every


def _down(beat: Beat, reason: str, twice: bool) -> list[ProbeResult]:
    beat.verdict, beat.reason = DOWN, reason
    return [ProbeResult(Status.DOWN, 0.0, reason)] * (2 if twice else 1)


def _with_body(said: str, body: str) -> str:
    """The reason of a failed run: what the job said, and the first line of its output."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return clean_reason(f"{said}: {first}" if first else said)

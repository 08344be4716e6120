"""Taking over the books: after a restart, from the ledger (`restore`), and after a reload,
from the engine of the previous configuration (`adopt`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.live import Live, OpenWindow, closed_after_gap
from agent.model import ProbeResult, State, Status
from agent.records import Amounts, Batch, DayRecord, GroupDayRecord, WindowRecord
from agent.services import is_service
from agent.state import DEGRADED, DOWN
from agent.verdicts import end_incident

if TYPE_CHECKING:
    from agent.engine import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adoption:
    """What a reload did to each system (by name), and the records to commit."""

    batch: Batch
    kept: tuple[str, ...]  # unchanged
    changed: tuple[str, ...]  # settings changed, probe the same: its state and window go on
    added: tuple[str, ...]
    replaced: tuple[str, ...]  # its probe changed: it starts afresh, counters kept
    removed: tuple[str, ...]


def restore(
    engine: Engine, windows: Iterable[WindowRecord], totals: Mapping[str, tuple[Amounts, int]],
    days: Iterable[DayRecord], at: float, group_totals: Mapping[str, float],
    group_days: Sequence[GroupDayRecord], not_before: float,
) -> Batch:
    """Resume from the ledger after a restart: counters continue from its totals, open
    windows continue if the agent was away at most `max_unobserved_gap`; a longer absence
    closes them at the last observation (each system's last ended incident, which a
    "resolved" message reports) and records the gap as unknown.

    `not_before` is the ledger's latest record. A wall clock behind it (a boot before NTP, a
    VM snapshot restored) is never resumed across: the windows close at their last
    observation, and nothing new is dated before that record (the daemon's clock runs on from
    it), so no window ends before it starts or is costed for time never seen."""
    if at < not_before:
        log.warning("the wall clock is %.0fs behind the ledger's latest record: open windows "
                    "close where they were last seen, and nothing new is dated before that "
                    "record (the agent's clock runs on from it, so durations stay true, until "
                    "the wall clock catches up; see outage_clock_offset_seconds)",
                    not_before - at)
    engine.floor = max(engine.floor, not_before)
    lives = engine.lives
    for name, (amounts, incidents) in totals.items():
        if name in lives:
            lives[name].totals, lives[name].incidents = amounts.copy(), incidents
    for day in days:
        if day.system in lives:
            lives[day.system].days[day.day] = day.amounts.copy()
    engine.days.restore(group_totals, group_days)
    batch = Batch()
    resumed: list[tuple[Live, WindowRecord]] = []
    for record in windows:
        live = lives.get(record.system)
        last_seen = max(record.last_observed or record.start, record.accounted_until)
        if (live is not None and not live.canary
                and 0 <= at - last_seen <= engine.config.agent.max_unobserved_gap):
            _resume_window(live, record, last_seen)
            resumed.append((live, record))
        else:
            batch.windows.extend(closed_after_gap(record, last_seen, at, live is not None))
            if live is not None and record.state in ("down", "degraded"):  # ended meanwhile
                live.ended_start, live.ended_at, live.ended_cost = (record.start, at,
                                                                    record.amounts.cost)
    engine.charges.restart(min([engine.floor, *(r.accounted_until for _, r in resumed)]))
    for live, record in resumed:
        assert live.window is not None
        engine.charges.join(live, live.window, record.accounted_until)
        engine.charges.doubt(live)  # until it is seen again
    return batch


def _resume_window(live: Live, record: WindowRecord, last_seen: float) -> None:
    state = State(record.state)
    live.window = OpenWindow(
        system=record.system, state=state, cause=record.cause, start=record.start,
        before_start=record.before_start, basis=record.basis,
        new_incident=record.new_incident, amounts=record.amounts.copy(),
        last_observed=record.last_observed, reason=record.reason,
        # a service is never seen itself: its members' windows say where it changed
        resumed_until=None if is_service(live.system) else last_seen,
    )
    live.state, live.cause = state, record.cause
    live.tracker.restore(DEGRADED if state is State.DEGRADED else DOWN, last_seen)
    if is_service(live.system):  # what it was last read as, until its members change
        status = Status.DEGRADED if state is State.DEGRADED else Status.DOWN
        live.last_result, live.last_probe_at = ProbeResult(status, 0.0, record.reason), last_seen
    if state in (State.DOWN, State.DEGRADED):
        live.incident_start, live.incident_cost = record.start, record.amounts.cost
        live.window.incident_start = record.start


def adopt(new: Engine, old: Engine, at: float) -> Adoption:
    """Take over from the engine of the previous configuration (a reload at `at`).

    The old books are brought to `at` as things stand (a change still in doubt then dates
    from `at` at the earliest); the new cost basis holds from `at`. A system whose probe is
    unchanged keeps everything (health, open window, incident, counters), with its new
    settings and cost from `at`; one whose probe changed, or that was removed, has its
    window closed at `at`, and a changed one starts afresh but keeps its counters (and the
    incident that ended with its window), so nothing exported ever goes down. Ad-hoc
    maintenance carries over.
    """
    batch = old.account(at)
    old.charges.accounts.advance(at, None)
    kept, changed = _keep(new, old, at)
    old.charges.accounts.advance(at, None)
    old.charges.accounts.settle_all()
    old.flush(batch)
    _carry_counters(new, old, kept, at)
    new.charges.restart(at)
    for live in kept:
        new.lives[live.system.name] = live
        new.charges.doubt(live)
    new.planned.carry(old.planned, new.lives)
    new.canaries = [live for live in new.lives.values() if live.canary]
    new.maintained = [live for live in new.lives.values()
                      if live.system.maintenance or new.planned.covers(live.system.name)]
    for live in kept:
        if live.window is not None:
            new.charges.join(live, live.window, at)
    for live in kept:  # a dependency that changed may change what a kept system is
        new.refresh(live, at, at, batch)
    new.flush(batch)
    kept_names = {live.system.name for live in kept}
    return Adoption(
        batch=batch, kept=tuple(sorted(kept_names - set(changed))), changed=tuple(changed),
        added=tuple(name for name in new.lives if name not in old.lives),
        replaced=tuple(name for name in new.lives
                       if name in old.lives and name not in kept_names),
        removed=tuple(name for name in old.lives if name not in new.lives))


def _keep(new: Engine, old: Engine, at: float) -> tuple[list[Live], list[str]]:
    """The old engine's systems whose probe is unchanged, with their new settings, and the
    names of those whose settings changed; every other one's window is closed at `at`."""
    kept: list[Live] = []
    changed: list[str] = []
    for name, live in old.lives.items():
        fresh = new.lives.get(name)
        if (fresh is not None and fresh.canary == live.canary
                and fresh.system.check.spec == live.system.check.spec):
            if fresh.system != live.system:
                changed.append(name)
                live.system = fresh.system
                live.tracker.failure_threshold = fresh.system.failure_threshold
                live.tracker.success_threshold = fresh.system.success_threshold
            kept.append(live)
        elif live.window is not None:
            old.charges.close(live, at)
    return kept, changed


def _carry_counters(new: Engine, old: Engine, kept: list[Live], at: float) -> None:
    """Counters of systems that start afresh, and of the groups, go on from the old engine's
    (with a re-created system's incident, ended at `at`); a removed system's are kept in case
    it comes back."""
    kept_names = {live.system.name for live in kept}
    new.retired = dict(old.retired)
    for name, live in old.lives.items():
        if name not in kept_names and not live.canary:
            new.retired[name] = (live.totals, live.incidents, live.days)
    for name, live in new.lives.items():
        if name in new.retired and name not in kept_names:
            live.totals, live.incidents, live.days = new.retired.pop(name)
            gone = old.lives.get(name)
            if gone is not None:  # re-created: its incident ended with its window, at the reload
                if gone.incident_start is not None:
                    end_incident(gone, at)
                live.ended_start, live.ended_at, live.ended_cost = (
                    gone.ended_start, gone.ended_at, gone.ended_cost)
    new.days.carry(old.days)

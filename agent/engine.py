"""The flow in one place: probe result -> confirmed health -> state -> windows and money.

The engine is pure bookkeeping: it never touches the clock, the network or the disk. Every
method takes the time of the event and returns a `Batch` of ledger records that the caller
commits before anything is exported.

Money rules (see docs/cost-model.md):
- every window of a system down or degraded is a member of the books (agent.accounts) from
  its start to its end: its users lose share x impact of their time, combined per group of
  people with everything else down at once (agent.loss), and the loss is attributed to the
  root causes; a dependant down behind a dependency counts as down, for its root cause;
- a window's start and end are dated back to the first probe of the streak that confirmed
  them, so money is credited only up to the horizon, before which nothing is still in doubt:
  no counter ever goes down, and each equals what a report computes from the same windows;
- planned maintenance (the system's own, or a dependency's while the system fails) costs
  nothing and is not downtime.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from agent.accounts import Accounts, Member
from agent.basis import basis_of, window_basis
from agent.maintenance import MaintenanceCalendar
from agent.model import Config, ProbeResult, State, Status, System
from agent.records import (
    Amounts,
    Basis,
    Batch,
    DayRecord,
    GroupDayRecord,
    TransitionRecord,
    WindowRecord,
)
from agent.state import DEGRADED, DOWN, UP, Change, Context, Tracker, derive_state

log = logging.getLogger(__name__)


@dataclass(eq=False)
class OpenWindow:
    """A window as the engine keeps it: open, or closed with its money not yet final."""

    system: str
    state: State
    cause: str | None
    start: float
    before_start: float | None
    basis: Basis
    new_incident: bool
    amounts: Amounts = field(default_factory=Amounts)
    last_observed: float | None = None
    resumed_until: float | None = None  # after a restart: where an immediate recovery ends it
    reason: str = ""
    end: float | None = None
    before_end: float | None = None
    member: Member | None = None  # its part in the books, if it costs anything
    incident_start: float | None = None  # the incident it belongs to


@dataclass
class Live:
    """One system's running state: its tracker, open window and counters."""

    system: System
    tracker: Tracker
    canary: bool = False
    state: State = State.UNKNOWN
    cause: str | None = None
    window: OpenWindow | None = None
    totals: Amounts = field(default_factory=Amounts)
    incidents: int = 0
    days: dict[str, Amounts] = field(default_factory=dict)
    dirty_days: set[str] = field(default_factory=set)
    held: bool = False  # a confirmed outage waits for a dependency's verdict
    last_result: ProbeResult | None = None
    last_probe_at: float | None = None
    incident_start: float | None = None
    incident_cost: float = 0.0
    in_maintenance: bool = False
    recoveries: list[float] = field(default_factory=list)  # starts of runs towards recovery
    maintenance_end: float | None = None
    faults: int = 0  # probes in a row the agent could not make (its own fault)
    # Down behind a root cause that has since recovered: failures seen since. Until it has
    # had as many probes as would confirm its own recovery, it stays behind that cause.
    grace: int | None = None


@dataclass(frozen=True)
class SystemView:
    """What the exporter and the API show of one system at one instant."""

    name: str
    state: State
    cause: str | None
    totals: Amounts
    incidents: int
    cost_per_hour: float
    affected_users: float
    cost_day: float
    cost_month: float
    incident_start: float | None
    incident_cost: float
    window: WindowRecord | None
    last_result: ProbeResult | None
    last_probe_at: float | None
    as_of: float


@dataclass(frozen=True)
class Adoption:
    """What a reload did to each system (by name), and the records to commit."""

    batch: Batch
    kept: tuple[str, ...]  # unchanged
    changed: tuple[str, ...]  # settings changed, probe the same: its state and window go on
    added: tuple[str, ...]
    replaced: tuple[str, ...]  # its probe changed: it starts afresh, counters kept
    removed: tuple[str, ...]


@dataclass(frozen=True)
class GroupView:
    """One group of people now: how many are at work, the share of their time lost, what
    that costs per hour, and what the group has lost so far."""

    name: str
    concurrent_users: float
    loss_ratio: float
    cost_per_hour: float
    cost_total: float


def _closed_after_gap(
    record: WindowRecord, last_seen: float, now: float, configured: bool
) -> list[WindowRecord]:
    """Close a window left open by an agent that was away too long (or a removed system);
    the unobserved time is recorded as unknown, which costs nothing."""
    closed = dataclasses.replace(record, end=last_seen, before_end=last_seen)
    if not configured or now <= last_seen:
        return [closed]
    gap_start = max(last_seen, record.start + 0.001)  # (system, start) is the window's key
    gap = dataclasses.replace(
        record, state=State.UNKNOWN.value, cause=None, start=gap_start, end=now,
        before_start=gap_start, before_end=now, last_observed=None, accounted_until=now,
        amounts=Amounts(), new_incident=False, reason="agent not running",
    )
    return [closed, gap]


def _window_open(state: State, health: int | None) -> bool:
    """Whether a state is recorded as a window: anything but up, once health is known."""
    return state is not State.UP and health is not None and health != UP


class Engine:
    def __init__(self, config: Config, now: float) -> None:
        self.config = config
        self.tz = ZoneInfo(config.cost.timezone)
        self.basis = basis_of(config)
        self.groups = [group.name for group in self.basis.groups]
        self.lives: dict[str, Live] = {}
        for system in config.agent.canaries:
            self.lives[system.name] = self._new_live(system, canary=True)
        for system in config.systems:
            self.lives[system.name] = self._new_live(system, canary=False)
        self.dependants: dict[str, list[str]] = {name: [] for name in self.lives}
        for system in config.systems:
            for dep in system.depends_on:
                self.dependants[dep].append(system.name)
        self.canaries = [live for live in self.lives.values() if live.canary]
        self.maintained = [live for live in self.lives.values() if live.system.maintenance]
        self._calendars = {
            live.system.name: MaintenanceCalendar(live.system.maintenance, config.cost.timezone)
            for live in self.maintained
        }
        self._dirty_days: set[str] = set()
        self._dirty_windows: dict[int, OpenWindow] = {}
        self.group_days: dict[str, dict[str, float]] = {g: {} for g in self.groups}
        self.group_totals: dict[str, float] = dict.fromkeys(self.groups, 0.0)
        self._dirty_group_days: set[tuple[str, str]] = set()
        self._day = self.today(now).isoformat()
        self._day_span = (0.0, 0.0, "")  # [start, end) and date of the local day seen last
        self._adhoc: dict[str, list[tuple[float, float]]] = {}
        # Counters of systems a reload removed, kept in case one comes back: its counters and
        # day rows go on from them rather than starting again at 0.
        self.retired: dict[str, tuple[Amounts, int, dict[str, Amounts]]] = {}
        self._holds: list[tuple[float, str]] = []  # (time, system): changes still in doubt
        self._behind: dict[str, set[str]] = {}  # root cause -> systems with a window behind it
        self._last = now
        self.accounts = self._books(now)

    def _books(self, start: float) -> Accounts:
        return Accounts(self.basis.calendars, start, self._day_pieces, self._credit, self._lost)

    def _new_live(self, system: System, canary: bool) -> Live:
        tracker = Tracker(system.failure_threshold, system.success_threshold)
        return Live(system=system, tracker=tracker, canary=canary)

    # --- the public flow -----------------------------------------------------------------

    def observe(self, name: str, result: ProbeResult, at: float) -> Batch:
        """Count one probe result of system `name` seen at `at`; return what to commit."""
        at = self._clamp(at)
        live = self.lives[name]
        batch = Batch()
        live.last_result, live.last_probe_at = result, at
        if result.status is Status.UNKNOWN:
            self._agent_fault(live, at, batch)
            self.accounts.advance(at, self._hold())
            self._flush(batch)
            return batch
        if live.faults:
            live.faults = 0
            self._refresh_from(live, at, None, batch)
        if live.grace is not None and not result.ok:
            live.grace += 1
            if live.grace >= live.system.success_threshold:  # its own outage from now
                live.grace = None
                self._refresh_from(live, at, None, batch)
        run_before = live.tracker.run_start
        live.tracker.observe(result.status, at)
        if live.window is not None:
            live.window.last_observed = at
            if result.reason and not live.window.reason:
                live.window.reason = result.reason
            self._touch(live.window)
        run = live.tracker.run_start
        if run is not None and run != run_before:
            heapq.heappush(self._holds, (run, name))
        self._check_maintenance(live, at, batch)
        confirmed = self._try_confirm(live, at, batch)
        if not confirmed and run is None and live.window is not None:
            live.window.resumed_until = None  # seen still failing after a restart: it goes on
        self._recheck_waiting(live, at, batch)
        self.accounts.advance(at, self._hold())
        self._flush(batch)
        return batch

    def _agent_fault(self, live: Live, at: float, batch: Batch) -> None:
        """A probe the agent could not make (its own descriptors or memory ran out) is no
        verdict on the target: nothing is counted towards its health, and after as many in
        a row as would confirm an outage the agent counts itself blind to it (unknown, which
        bills nobody) until it can probe again."""
        live.faults += 1
        if live.faults == live.system.failure_threshold:
            log.warning("system=%s: %d probes in a row failed for want of the agent's own "
                        "resources (%s): unknown until it can probe again", live.system.name,
                        live.faults, live.last_result.reason if live.last_result else "")
            self._refresh_from(live, at, None, batch)

    def account(self, at: float) -> Batch:
        """Bring the books up to `at` (a scrape, a checkpoint), or as far towards it as no
        change in doubt prevents, and apply planned maintenance that began or ended since;
        return what to commit."""
        at = self._clamp(at)
        batch = Batch()
        for live in self.maintained:
            self._check_maintenance(live, at, batch)
        self.accounts.advance(at, self._hold())
        self.accounts.settle_all()
        self._flush(batch)
        self._prune_days(at)
        return batch

    def plan_maintenance(self, plans: list[tuple[str, float, float]], at: float) -> Batch:
        """Ad-hoc planned windows (`outage-agent maintenance`), in the order they were
        recorded: (system, start, end); end <= start ends that system's. All are taken in
        before any takes effect, so a window started and ended since the last look (or
        before a restart) never shows."""
        touched: list[str] = []
        for name, start, end in plans:
            live = self.lives[name]
            periods = [(a, b) for a, b in self._adhoc.get(name, []) if b > at]
            if end > start:
                periods.append((start, end))
            else:
                periods = [(a, min(b, start)) for a, b in periods if a < start]
            self._adhoc[name] = periods
            if live not in self.maintained:
                self.maintained.append(live)
            touched.append(name)
        batch = Batch()
        for name in dict.fromkeys(touched):
            self._check_maintenance(self.lives[name], self._clamp(at), batch)
        self._flush(batch)
        return batch

    def _planned_period(self, name: str, at: float) -> tuple[float, float] | None:
        calendar = self._calendars.get(name)
        period = calendar.active(at) if calendar is not None else None
        if period is not None:
            return period
        return next(((a, b) for a, b in self._adhoc.get(name, ()) if a <= at < b), None)

    def _check_maintenance(self, live: Live, at: float, batch: Batch) -> None:
        if live.system.name not in self._calendars and live.system.name not in self._adhoc:
            return
        period = self._planned_period(live.system.name, at)
        if (period is not None) == live.in_maintenance:
            return
        edge = period[0] if period is not None else (live.maintenance_end or at)
        live.in_maintenance, live.maintenance_end = period is not None, period and period[1]
        edge = min(max(edge, self.accounts.horizon), at)  # money counted is never taken back
        if period is None:  # over: what failed during the work proves nothing about after it
            for covered in self._planned_behind(live):
                covered.tracker.forget()
        self._refresh_from(live, at, edge, batch)
        for name in self.dependants[live.system.name]:  # failing behind it is planned too
            self._refresh_from(self.lives[name], at, edge, batch)

    def _planned_behind(self, live: Live) -> list[Live]:
        """The system and every system in maintenance because of its planned work."""
        name = live.system.name
        return [live, *(other for other in self.lives.values() if other is not live
                        and other.state is State.MAINTENANCE and other.cause == name)]

    def next_delay(self, name: str) -> float:
        """Seconds until `name` should be probed again: `retry_interval` while a change is in
        doubt, `down_interval` while failing with the outage confirmed, else `interval`."""
        live = self.lives[name]
        if live.tracker.run_start is not None or live.grace is not None:
            return live.system.retry_interval
        if live.last_result is not None and not live.last_result.ok:
            return live.system.down_interval or live.system.interval
        return live.system.interval

    def restore(
        self, windows: list[WindowRecord], totals: dict[str, tuple[Amounts, int]],
        days: list[DayRecord], at: float, group_totals: dict[str, float] | None = None,
        group_days: Sequence[GroupDayRecord] = (), not_before: float = 0.0,
    ) -> Batch:
        """Resume from the ledger after a restart: counters continue from its totals, open
        windows continue if the agent was away at most `max_unobserved_gap`; a longer
        absence closes them at the last observation and records the gap as unknown.

        `not_before` is the ledger's latest record. A wall clock behind it (a boot before
        NTP, a VM snapshot restored) is never resumed across: the windows close at their
        last observation, and nothing new is dated before that record until the clock
        passes it, so no window ends before it starts or is costed for time never seen."""
        if at < not_before:
            log.warning("the wall clock is %.0fs behind the ledger's latest record: open "
                        "windows close where they were last seen, and nothing new is dated "
                        "before that record until the clock passes it", not_before - at)
        self._last = max(self._last, not_before)
        batch = Batch()
        for name, (amounts, incidents) in totals.items():
            if name in self.lives:
                self.lives[name].totals, self.lives[name].incidents = amounts.copy(), incidents
        for day in days:
            if day.system in self.lives:
                self.lives[day.system].days[day.day] = day.amounts.copy()
        for name, total in (group_totals or {}).items():
            if name in self.group_totals:
                self.group_totals[name] = total
        for row in group_days:  # the current days' rows go on from what they hold
            if row.group in self.group_days:
                self.group_days[row.group][row.day] = row.cost
        gap_allowed = self.config.agent.max_unobserved_gap
        resumed: list[tuple[Live, WindowRecord]] = []
        for record in windows:
            live = self.lives.get(record.system)
            last_seen = max(record.last_observed or record.start, record.accounted_until)
            if live is not None and not live.canary and 0 <= at - last_seen <= gap_allowed:
                self._resume_window(live, record, last_seen)
                resumed.append((live, record))
            else:
                batch.windows.extend(_closed_after_gap(record, last_seen, at, live is not None))
        start = min([self._last, *(r.accounted_until for _, r in resumed)])
        self.accounts = self._books(start)
        for live, record in resumed:
            assert live.window is not None
            self._join(live, live.window, record.accounted_until)
        return batch

    def adopt(self, old: Engine, at: float) -> Adoption:
        """Take over from the engine of the previous configuration (a reload at `at`).

        The old books are brought to `at` as things stand (a change still in doubt then
        dates from `at` at the earliest); the new cost basis holds from `at`. A system whose
        probe is unchanged keeps everything (health, open window, incident, counters), with
        its new settings and cost from `at`; one whose probe changed, or that was removed,
        has its window closed at `at`, and a changed one starts afresh but keeps its
        counters, so nothing exported ever goes down. Ad-hoc maintenance carries over.
        """
        batch = old.account(at)
        old.accounts.advance(at, None)
        kept: list[Live] = []
        changed: list[str] = []
        for name, live in old.lives.items():
            new = self.lives.get(name)
            if (new is not None and new.canary == live.canary
                    and new.system.check.spec == live.system.check.spec):
                if new.system != live.system:
                    changed.append(name)
                    live.system = new.system
                    live.tracker.failure_threshold = new.system.failure_threshold
                    live.tracker.success_threshold = new.system.success_threshold
                kept.append(live)
            elif live.window is not None:
                old._close(live, at)
        old.accounts.advance(at, None)
        old.accounts.settle_all()
        old._flush(batch)
        self._carry_counters(old, kept)
        self.accounts = self._books(at)
        for live in kept:
            self.lives[live.system.name] = live
            if live.tracker.run_start is not None:
                heapq.heappush(self._holds, (live.tracker.run_start, live.system.name))
        self._adhoc = {name: periods for name, periods in old._adhoc.items()
                       if name in self.lives}
        self.canaries = [live for live in self.lives.values() if live.canary]
        self.maintained = [live for live in self.lives.values()
                           if live.system.maintenance or live.system.name in self._adhoc]
        for live in kept:
            if live.window is not None:
                self._join(live, live.window, at)
        for live in kept:  # a dependency that changed may change what a kept system is
            self._refresh_from(live, at, at, batch)
        self._flush(batch)
        kept_names = {live.system.name for live in kept}
        return Adoption(
            batch=batch, kept=tuple(sorted(kept_names - set(changed))), changed=tuple(changed),
            added=tuple(name for name in self.lives if name not in old.lives),
            replaced=tuple(name for name in self.lives
                           if name in old.lives and name not in kept_names),
            removed=tuple(name for name in old.lives if name not in self.lives))

    def _carry_counters(self, old: Engine, kept: list[Live]) -> None:
        """Counters of systems that start afresh, and of the groups, go on from the old
        engine's; a removed system's are kept in case it comes back."""
        kept_names = {live.system.name for live in kept}
        self.retired = dict(old.retired)
        for name, live in old.lives.items():
            if name not in kept_names and not live.canary:
                self.retired[name] = (live.totals, live.incidents, live.days)
        for name, new in self.lives.items():
            if name in self.retired and name not in kept_names:
                new.totals, new.incidents, new.days = self.retired.pop(name)
        for name, total in old.group_totals.items():
            if name in self.group_totals:
                self.group_totals[name] = total
                self.group_days[name] = old.group_days[name]

    def _resume_window(self, live: Live, record: WindowRecord, last_seen: float) -> None:
        state = State(record.state)
        live.window = OpenWindow(
            system=record.system, state=state, cause=record.cause, start=record.start,
            before_start=record.before_start, basis=record.basis,
            new_incident=record.new_incident, amounts=record.amounts.copy(),
            last_observed=record.last_observed, resumed_until=last_seen, reason=record.reason,
        )
        live.state, live.cause = state, record.cause
        live.tracker.restore(DEGRADED if state is State.DEGRADED else DOWN, last_seen)
        if state in (State.DOWN, State.DEGRADED):
            live.incident_start, live.incident_cost = record.start, record.amounts.cost
            live.window.incident_start = record.start
        heapq.heappush(self._holds, (last_seen, live.system.name))

    # --- confirmation and state -----------------------------------------------------------

    def _try_confirm(self, live: Live, at: float, batch: Batch) -> bool:
        change = live.tracker.candidate()
        if change is None:
            live.held = False
            return False
        if change.level == DOWN and self._awaiting_verdict(live):
            live.held = True
            return False
        if self._flapping_hold(live, change, at):
            return False
        live.held = False
        live.tracker.confirm(change)
        self._refresh_from(live, at, change.since, batch)
        return True

    def _flapping_hold(self, live: Live, change: Change, at: float) -> bool:
        """Hold back the recovery of a flapping system until it has lasted half the flap
        window; count the recoveries that do go through."""
        health = live.tracker.health
        if health is None or change.level >= health or health == UP:
            return False
        system = live.system
        live.recoveries = [t for t in live.recoveries if t > at - system.flap_window]
        flapping = 0 < system.flap_threshold <= len(live.recoveries)
        if not live.recoveries or live.recoveries[-1] != change.since:
            live.recoveries.append(change.since)  # held recoveries count too: hysteresis
        if flapping and at - change.since < system.flap_window / 2:
            if live.window is not None and not live.window.reason.startswith("flapping"):
                live.window.reason = (f"flapping: {len(live.recoveries)} recoveries in "
                                      f"{system.flap_window:g}s")
            return True
        return False

    def _awaiting_verdict(self, live: Live) -> bool:
        """True while a dependency or canary is failing but not yet confirmed down."""
        if live.canary:
            return False
        suspects = [self.lives[d] for d in live.system.depends_on] + self.canaries
        return any(
            (s.tracker.failing or s.held) and s.tracker.health != DOWN for s in suspects
        )

    def _recheck_waiting(self, changed: Live, at: float, batch: Batch) -> None:
        """A dependency's verdict may release systems that were waiting for it."""
        names = self.dependants[changed.system.name] if not changed.canary else list(self.lives)
        for name in names:
            live = self.lives[name]
            if live.held:
                self._try_confirm(live, at, batch)

    def _context(self, live: Live) -> Context:
        blind = not live.canary and (
            live.faults >= live.system.failure_threshold
            or any(c.tracker.health == DOWN for c in self.canaries))
        root = planned = None
        for dep in live.system.depends_on:
            other = self.lives[dep]
            if planned is None and (other.in_maintenance or other.state is State.MAINTENANCE):
                planned = other.cause or other.system.name
            if root is None and other.state is State.DOWN:
                root = other.cause or other.system.name
        if root is None and live.grace is not None and live.state is State.DOWN:
            root = live.cause  # its root cause recovered; it has yet to show its own verdict
        return Context(maintenance=live.in_maintenance, blind=blind, root_cause=root,
                       planned_cause=planned)

    def _refresh_from(self, first: Live, at: float, since: float | None, batch: Batch) -> None:
        """Re-derive the state of `first`, then of everything whose context it feeds."""
        pending: list[tuple[Live, float | None]] = [(first, since)]
        for _ in range(10 * len(self.lives) + 10):
            if not pending:
                return
            live, when = pending.pop(0)
            state, cause = derive_state(live.tracker.health, self._context(live))
            wants_window = _window_open(state, live.tracker.health) and not live.canary
            if (state, cause) == (live.state, live.cause) and wants_window == (
                live.window is not None
            ):
                continue
            self._transition(live, state, cause, when if when is not None else at, at, batch)
            feeds = self.lives.values() if live.canary else (
                self.lives[n] for n in self.dependants[live.system.name]
            )
            # a dependant's context changed when this one's did: at the same instant
            pending.extend((other, when) for other in feeds if not other.canary)

    def _transition(
        self, live: Live, state: State, cause: str | None, boundary: float, at: float, batch: Batch
    ) -> None:
        old = live.state
        health = live.tracker.health
        boundary = max(boundary, self.accounts.horizon)  # the books never go back
        if live.window is not None:
            boundary = max(boundary, live.window.start)
            self._close(live, boundary)
        self._track_incident(live, state, boundary)
        live.state, live.cause, live.grace = state, cause, None
        if old is State.DOWN and state is not State.DOWN:
            for name in self._behind.get(live.system.name, ()):
                self.lives[name].grace = 0
        if _window_open(state, health) and not live.canary:
            new_incident = state is State.DOWN and old is not State.DOWN
            self._open(live, state, cause, boundary, at, new_incident)
        reason = live.last_result.reason if live.last_result else ""
        batch.transitions.append(
            TransitionRecord(live.system.name, boundary, old.value, state.value, cause, reason)
        )
        log.info(
            "system=%s state=%s cause=%s since=%s cost_per_hour=%.2f reason=%r",
            live.system.name, state.value, cause or "-",
            dt.datetime.fromtimestamp(boundary, dt.UTC).isoformat(timespec="seconds"),
            self._rate(live, at), reason,
        )

    def _track_incident(self, live: Live, state: State, boundary: float) -> None:
        if state in (State.DOWN, State.DEGRADED):
            if live.incident_start is None:
                live.incident_start, live.incident_cost = boundary, 0.0
        else:
            live.incident_start, live.incident_cost = None, 0.0

    # --- windows --------------------------------------------------------------------------

    def _open(
        self, live: Live, state: State, cause: str | None, start: float, at: float,
        new_incident: bool,
    ) -> None:
        if new_incident:
            live.incidents += 1
        before = live.tracker.before_run if start < at else at
        window = OpenWindow(
            system=live.system.name, state=state, cause=cause, start=start,
            before_start=before, basis=window_basis(
                self.basis, live.system.name, self.basis.impact(live.system.name, state.value),
                start),
            new_incident=new_incident, last_observed=live.last_probe_at,
            reason=live.last_result.reason if live.last_result else "",
            incident_start=live.incident_start,
        )
        live.window = window
        if cause is not None:
            self._behind.setdefault(cause, set()).add(live.system.name)
        self._join(live, window, start)
        self._touch(window)

    def _join(self, live: Live, window: OpenWindow, start: float) -> None:
        """Make a window of a system that is down or degraded a member of the books from
        `start`: its users' time is lost, and its root cause's window is charged for it."""
        if live.canary or window.state not in (State.DOWN, State.DEGRADED):
            window.member = None
            return
        down = window.state is State.DOWN
        impact = self.basis.impact(live.system.name, window.state.value)
        payee = window
        if window.cause is not None:
            root = self.lives.get(window.cause)
            if root is not None and root.window is not None:
                payee = root.window
        window.member = Member(
            window=window, payee=payee, weights=self.basis.weights(live.system.name, impact),
            direct=self.basis.direct_rate(live.system.name) if down else 0.0,
            down=down, degraded=not down, start=start)
        self.accounts.open(window.member)

    def _close(self, live: Live, end: float) -> None:
        window = live.window
        assert window is not None
        if window.resumed_until is not None:  # recovered while the agent was away
            end = min(end, window.resumed_until)
        end = max(end, window.start, self.accounts.horizon)
        window.end = end
        window.before_end = live.tracker.before_run if end < (live.last_probe_at or end) else end
        if window.member is not None:
            self.accounts.close(window.member, end)
        self._touch(window)
        live.window = None
        if window.cause is not None:
            self._behind.get(window.cause, set()).discard(live.system.name)
        for name in self._behind.get(live.system.name, ()):
            self._repay(self.lives[name], end)

    def _repay(self, live: Live, at: float) -> None:
        """Its root cause's window has ended but it is still down behind it (see `grace`):
        from `at` its users' lost time is charged to its own window, as a report does."""
        window = live.window
        member = window.member if window is not None else None
        if window is None or member is None or member.payee is window:
            return
        self.accounts.close(member, at)
        window.member = dataclasses.replace(member, payee=window, start=max(at, member.start))
        self.accounts.open(window.member)

    # --- money ------------------------------------------------------------------------------

    def _hold(self) -> float | None:
        """The earliest time a change still in doubt may be dated back to, if any."""
        while self._holds:
            at, name = self._holds[0]
            live = self.lives.get(name)
            if live is not None and self._doubt(live) == at:
                return at
            heapq.heappop(self._holds)
        return None

    @staticmethod
    def _doubt(live: Live) -> float | None:
        window = live.window
        resumed = window.resumed_until if window is not None else None
        run = live.tracker.run_start
        if run is None or resumed is None:
            return run if resumed is None else resumed
        return min(run, resumed)

    def _credit(self, member: Member, day: str, staff: float, direct: float,
                seconds: float) -> None:
        """Money of one member in one local day: its time and direct cost to its own window,
        its staff cost to its root cause's."""
        own = Amounts(cost=direct, direct=direct, downtime=seconds if member.down else 0.0,
                      degraded=seconds if member.degraded else 0.0)
        if member.payee is member.window:
            own.cost += staff
            own.staff = staff
        elif staff:
            self._add(member.payee, day, Amounts(cost=staff, staff=staff))
        self._add(member.window, day, own)

    def _add(self, window: OpenWindow, day: str, amounts: Amounts) -> None:
        live = self.lives.get(window.system)
        window.amounts.add(amounts)
        self._touch(window)
        if live is None:
            return
        live.totals.add(amounts)
        live.days.setdefault(day, Amounts()).add(amounts)
        live.dirty_days.add(day)
        self._dirty_days.add(live.system.name)
        if live.incident_start is not None and window.incident_start == live.incident_start:
            live.incident_cost += amounts.cost

    def _lost(self, day: str, lost: tuple[float, ...]) -> None:
        for name, money in zip(self.groups, lost, strict=True):
            if money:
                days = self.group_days[name]
                days[day] = days.get(day, 0.0) + money
                self.group_totals[name] += money
                self._dirty_group_days.add((name, day))

    def _rate(self, live: Live, at: float) -> float:
        """The current burn rate of one system, per hour: the staff time attributed to it
        now (as a root cause, with its dependants'), and its own direct cost."""
        window = live.window
        if window is None or window.member is None:
            return 0.0
        staff = sum(share * calendar.cost_rate_at(at) for share, calendar in
                    zip(self.accounts.shares(window), self.basis.calendars, strict=True))
        return staff + window.member.direct

    def _affected(self, live: Live, at: float) -> float:
        """The concurrent users whose lost time is attributed to the system now."""
        if live.window is None:
            return 0.0
        return sum(share * calendar.users_at(at) for share, calendar in
                   zip(self.accounts.shares(live.window), self.basis.calendars, strict=True))

    # --- calendar days ----------------------------------------------------------------------

    def _day_pieces(self, start: float, end: float) -> list[tuple[float, float, str]]:
        """Split [start, end) at local midnights: (a, b, "YYYY-MM-DD") pieces."""
        first, last, day = self._day_span
        if first <= start and end <= last:  # the usual case, for every accruing system at once
            return [(start, end, day)]
        pieces = []
        a = start
        for _ in range(10_000):
            local = dt.datetime.fromtimestamp(a, self.tz)
            next_day = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(),
                                           self.tz).timestamp()
            b = min(end, next_day)
            pieces.append((a, b, local.date().isoformat()))
            if b >= end:
                break
            a = b
        midnight = dt.datetime.combine(local.date(), dt.time(), self.tz).timestamp()
        self._day_span = (midnight, next_day, local.date().isoformat())
        return pieces

    def today(self, at: float) -> dt.date:
        return dt.datetime.fromtimestamp(at, self.tz).date()

    def first_day_kept(self, at: float) -> str:
        """Day buckets from here on are kept in memory: this month's and the last week's."""
        today = self.today(at)
        return min(today.replace(day=1), today - dt.timedelta(days=6)).isoformat()

    def _prune_days(self, at: float) -> None:
        """Once a day, forget day buckets no calendar period needs (they are committed)."""
        today = self.today(at).isoformat()
        if today == self._day:
            return
        self._day = today
        first = self.first_day_kept(at)
        for live in self.lives.values():
            for day in [d for d in live.days if d < first and d not in live.dirty_days]:
                del live.days[day]
        dirty = {day for _, day in self._dirty_group_days}
        for days in self.group_days.values():
            for day in [d for d in days if d < first and d not in dirty]:
                del days[day]

    def period_costs(self, at: float) -> dict[str, tuple[str, dict[str, float]]]:
        """Cost per system in the current calendar day, ISO week and month of the cost
        timezone: period -> (period id, system -> cost)."""
        today = self.today(at)
        year, week, _ = today.isocalendar()
        monday = (today - dt.timedelta(days=today.weekday())).isoformat()
        periods = {
            "day": (today.isoformat(), lambda d: d == today.isoformat()),
            "week": (f"{year}-W{week:02d}", lambda d: d >= monday),
            "month": (today.isoformat()[:7], lambda d: d[:7] == today.isoformat()[:7]),
        }
        return {
            period: (ident, {live.system.name: sum((a.cost for d, a in live.days.items()
                                                    if within(d)), 0.0)
                             for live in self.lives.values() if not live.canary})
            for period, (ident, within) in periods.items()
        }

    def _flush(self, batch: Batch) -> None:
        """Add every changed window, day and group day to the batch."""
        for window in self._dirty_windows.values():
            batch.windows.append(self._window_record(window))
        self._dirty_windows.clear()
        for name in sorted(self._dirty_days):
            live = self.lives[name]
            for day in sorted(live.dirty_days):
                batch.days.append(DayRecord(name, day, live.days[day].copy()))
            live.dirty_days.clear()
        self._dirty_days.clear()
        batch.group_days.extend(GroupDayRecord(g, day, self.group_days[g][day])
                                for g, day in sorted(self._dirty_group_days))
        self._dirty_group_days.clear()

    # --- records ----------------------------------------------------------------------------

    def _touch(self, window: OpenWindow) -> None:
        self._dirty_windows[id(window)] = window

    def _window_record(self, window: OpenWindow) -> WindowRecord:
        member = window.member
        if member is not None:
            accounted = member.mark
        else:
            accounted = max(window.start, min(self.accounts.horizon, window.end or self._last))
        return WindowRecord(
            system=window.system, state=window.state.value, cause=window.cause,
            start=window.start, end=window.end, before_start=window.before_start,
            before_end=window.before_end, last_observed=window.last_observed,
            accounted_until=accounted, amounts=window.amounts.copy(), basis=window.basis,
            new_incident=window.new_incident, reason=window.reason,
        )

    def idle(self) -> bool:
        """True when nothing is being timed: no open window, no run of probes in doubt, and
        the books have nothing left to count."""
        return not self.accounts.busy and all(
            live.window is None and live.tracker.run_start is None
            for live in self.lives.values())

    def rebase(self, now: float) -> None:
        """Move the books' clock to `now` (the wall clock stepped) while `idle()`; never
        back before what is recorded already: after a step back, events are dated at the
        latest record until the clock passes it."""
        self._last = max(self._last, now)
        self.accounts = self._books(self._last)

    def _clamp(self, at: float) -> float:
        """Never let time run backwards inside the books (a wall-clock step back)."""
        self._last = max(self._last, at)
        return self._last

    # --- views ------------------------------------------------------------------------------

    def concurrent_users(self, at: float) -> float:
        return self.basis.users_at(at)

    def view(self, at: float) -> list[SystemView]:
        """Every configured system as of `at` (call `account(at)` first): counters as far as
        the books have got, the burn rate and affected users of the present."""
        at = self._clamp(at)
        today = self.today(at).isoformat()
        month = today[:7]
        return [self._view(live, at, today, month)
                for live in self.lives.values() if not live.canary]

    def _view(self, live: Live, at: float, today: str, month: str) -> SystemView:
        day = live.days.get(today)
        month_cost = sum((a.cost for d, a in live.days.items() if d[:7] == month), 0.0) if (
            live.days) else 0.0  # most systems have no outage this month: no generator
        return SystemView(
            name=live.system.name, state=live.state, cause=live.cause,
            totals=live.totals.copy(), incidents=live.incidents,
            cost_per_hour=self._rate(live, at), affected_users=self._affected(live, at),
            cost_day=day.cost if day else 0.0, cost_month=month_cost,
            incident_start=live.incident_start, incident_cost=live.incident_cost,
            window=self._window_record(live.window) if live.window else None,
            last_result=live.last_result, last_probe_at=live.last_probe_at, as_of=at,
        )

    def group_views(self, at: float) -> list[GroupView]:
        """Every group of people as of `at`."""
        return [
            GroupView(name=name, concurrent_users=calendar.users_at(at), loss_ratio=ratio,
                      cost_per_hour=calendar.cost_rate_at(at) * ratio,
                      cost_total=self.group_totals[name])
            for name, calendar, ratio in zip(self.groups, self.basis.calendars,
                                             self.accounts.loss_ratios(), strict=True)
        ]

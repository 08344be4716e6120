"""The flow in one place: probe result -> confirmed health -> state -> windows and money.

The engine is pure bookkeeping: it never touches the clock, the network or the disk. Every
method takes the time of the event and returns a `Batch` of ledger records that the caller
commits before anything is exported. Its parts, each in a module of its own: the running
state of each system (agent.live), the money (agent.charges over agent.accounts), money by
calendar day (agent.daybook), planned maintenance (agent.planned), what others see
(agent.views), and taking over after a restart or a reload (agent.takeover).

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

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from agent import takeover
from agent.basis import basis_of
from agent.charges import Charges
from agent.daybook import DayBook, Periods
from agent.live import Live, OpenWindow, window_open
from agent.model import Config, ProbeResult, State, Status, System
from agent.planned import PlannedWork
from agent.records import Amounts, Batch, DayRecord, GroupDayRecord, TransitionRecord, WindowRecord
from agent.services import ServiceSpec, is_service
from agent.state import DOWN, Tracker, derive_state
from agent.takeover import Adoption
from agent.users.inforce import Readings
from agent.verdicts import (
    awaiting_verdict,
    changed_after,
    derive_service,
    flapping_hold,
    planned_behind,
    situation,
    track_incident,
    unfollowed,
    unseen_members,
    waiting_on,
)
from agent.views import GroupView, SystemView, group_views, system_view, window_record

log = logging.getLogger(__name__)

__all__ = ["Adoption", "Engine", "GroupView", "Live", "OpenWindow", "SystemView"]


class Engine:
    def __init__(self, config: Config, now: float,
                 readings: Mapping[str, Readings] | None = None) -> None:
        self.config = config
        self.basis = basis_of(config, readings)  # measured groups' readings (agent.users)
        self.lives: dict[str, Live] = {}
        for system in config.agent.canaries:
            self.lives[system.name] = _new_live(system, canary=True)
        for system in config.systems:
            self.lives[system.name] = _new_live(system, canary=False)
        self.dependants: dict[str, list[str]] = {name: [] for name in self.lives}
        # A service's state is read off its members': each member feeds the services it is in.
        self.containers: dict[str, list[str]] = {name: [] for name in self.lives}
        for system in config.systems:
            for dep in system.depends_on:
                self.dependants[dep].append(system.name)
            if isinstance(system.check.spec, ServiceSpec):
                for member in system.check.spec.members:
                    self.containers[member].append(system.name)
        self.canaries = [live for live in self.lives.values() if live.canary]
        self.planned = PlannedWork(config.systems, config.cost.timezone)
        self.maintained = [live for live in self.lives.values() if live.system.maintenance]
        self.days = DayBook(config.cost.timezone, [g.name for g in self.basis.groups], now)
        self.charges = Charges(self.basis, self.lives, self.days, now)
        # Counters of systems a reload removed, kept in case one comes back: its counters and
        # day rows go on from them rather than starting again at 0.
        self.retired: dict[str, tuple[Amounts, int, dict[str, Amounts]]] = {}
        self.floor = now  # nothing is dated before this: the latest time seen or recorded

    # --- the public flow -----------------------------------------------------------------

    def observe(self, name: str, result: ProbeResult, at: float) -> Batch:
        """Count one probe result of system `name` seen at `at`; return what to commit."""
        at = self._clamp(at)
        live = self.lives[name]
        batch = Batch()
        live.last_result, live.last_probe_at = result, at
        if result.status is Status.UNKNOWN:
            self._agent_fault(live, at, batch)
        else:
            self._verdict(live, result, at, batch)
        self.charges.advance(at)
        self.flush(batch)
        return batch

    def _verdict(self, live: Live, result: ProbeResult, at: float, batch: Batch) -> None:
        """A probe that says something about its target: count it, and confirm what it
        confirms."""
        if live.faults:
            live.faults = 0
            self.refresh(live, at, None, batch)
        if live.grace is not None and not result.ok:
            live.grace += 1
            if live.grace >= live.system.success_threshold:  # its own outage from now
                live.grace = None
                self.refresh(live, at, None, batch)
        run_before = live.tracker.run_start
        live.tracker.observe(result.status, at)
        if live.window is not None:
            live.window.last_observed = at
            if result.reason and not live.window.reason:
                live.window.reason = result.reason
            self.charges.touch(live.window)
        run = live.tracker.run_start
        if run is not None and run != run_before:
            self.charges.doubt(live)
        self._check_maintenance(live, at, batch)
        confirmed = self._try_confirm(live, at, batch)
        window = live.window
        resumed = window is not None and window.resumed_until is not None
        if not confirmed and run is None and window is not None and resumed:
            window.resumed_until = None  # seen still failing after a restart: it goes on,
            for name in self.containers[live.system.name]:  # and its services may follow
                self.refresh(self.lives[name], at, None, batch)
        self._recheck_waiting(live, at, batch)

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
            self.refresh(live, at, None, batch)

    def account(self, at: float) -> Batch:
        """Bring the books up to `at` (a scrape, a checkpoint), or as far towards it as no
        change in doubt prevents, and apply planned maintenance that began or ended since;
        return what to commit."""
        at = self._clamp(at)
        batch = Batch()
        for live in self.maintained:
            self._check_maintenance(live, at, batch)
        self.charges.advance(at)
        self.charges.accounts.settle_all()
        self.flush(batch)
        self.days.prune(self.lives.values(), at)
        return batch

    def actions_read(self, looked: float | None) -> None:
        """What people recorded before `looked` (ad-hoc maintenance) has been applied; one
        recorded since may still be dated back to `looked`, so the books go no further until
        the next look (None: the actions cannot be read; hold nothing for them)."""
        self.charges.unread = looked

    def plan_maintenance(self, plans: list[tuple[str, float, float]], at: float) -> Batch:
        """Ad-hoc planned windows (`outage-agent maintenance`), in the order they were
        recorded: (system, start, end); end <= start ends that system's. All are taken in
        before any takes effect, so a window started and ended since the last look (or
        before a restart) never shows."""
        for name, start, end in plans:
            self.planned.plan(name, start, end, at)
            if self.lives[name] not in self.maintained:
                self.maintained.append(self.lives[name])
        batch = Batch()
        for name in dict.fromkeys(name for name, _, _ in plans):
            self._check_maintenance(self.lives[name], self._clamp(at), batch)
        self.flush(batch)
        return batch

    def _check_maintenance(self, live: Live, at: float, batch: Batch) -> None:
        if not self.planned.covers(live.system.name):
            return
        period = self.planned.period(live.system.name, at)
        if (period is not None) == live.in_maintenance:
            return
        edge = period[0] if period is not None else (live.maintenance_end or at)
        live.in_maintenance, live.maintenance_end = period is not None, period and period[1]
        edge = min(max(edge, self.charges.horizon), at)  # money counted is never taken back
        if period is None:  # over: what failed during the work proves nothing about after it
            for covered in planned_behind(live, self.lives.values()):
                covered.tracker.forget()
        self.refresh(live, at, edge, batch)
        for name in self.dependants[live.system.name]:  # failing behind it is planned too
            self.refresh(self.lives[name], at, edge, batch)

    def restore(
        self, windows: list[WindowRecord], totals: dict[str, tuple[Amounts, int]],
        days: list[DayRecord], at: float, group_totals: dict[str, float] | None = None,
        group_days: Sequence[GroupDayRecord] = (), not_before: float = 0.0,
    ) -> Batch:
        """Resume from the ledger after a restart (see agent.takeover.restore)."""
        return takeover.restore(self, windows, totals, days, at, group_totals or {},
                                group_days, not_before)

    def adopt(self, old: Engine, at: float) -> Adoption:
        """Take over from the engine of the previous configuration (see
        agent.takeover.adopt)."""
        adoption = takeover.adopt(self, old, at)
        self.actions_read(old.charges.unread)
        for live in self.lives.values():  # a new or changed service: read off its members now
            if is_service(live.system) and live.tracker.health is None:
                self.refresh(live, self._clamp(at), None, adoption.batch)
        self.flush(adoption.batch)
        return adoption

    # --- confirmation and state -----------------------------------------------------------

    def _try_confirm(self, live: Live, at: float, batch: Batch) -> bool:
        change = live.tracker.candidate()
        if change is None:
            live.held = False
            return False
        if change.level == DOWN and awaiting_verdict(live, self.lives, self.canaries, at):
            live.held = True
            return False
        if flapping_hold(live, change, at):
            return False
        live.held = False
        live.tracker.confirm(change)
        self.refresh(live, at, change.since, batch)
        return True

    def _recheck_waiting(self, changed: Live, at: float, batch: Batch) -> None:
        """A dependency's verdict may release systems that were waiting for it (or for a
        service it is a member of)."""
        names = (waiting_on(changed.system.name, self.dependants, self.containers)
                 if not changed.canary else list(self.lives))
        for name in names:
            live = self.lives[name]
            if live.held:
                self._try_confirm(live, at, batch)

    def refresh(self, first: Live, at: float, since: float | None, batch: Batch) -> None:
        """Re-derive the state of `first`, then of everything whose situation it feeds."""
        pending: list[tuple[Live, float | None]] = [(first, since)]
        for _ in range(10 * len(self.lives) + 10):
            if not pending:
                return
            live, when = pending.pop(0)
            found = situation(live, self.lives, self.canaries)
            if is_service(live.system):
                if unseen_members(live, self.lives):  # after a restart: its members' records
                    continue  # are all read before it follows them, in time order
                moment = unfollowed(live, self.lives, when if when is not None else at)
                found = derive_service(live, self.lives, found, moment, at)
                # members changed later than `moment` (their changes were taken in out of
                # time order): the service follows them, in time order, after this one
                pending.extend((live, later) for later in changed_after(live, self.lives,
                                                                        moment))
            state, cause = derive_state(live.tracker.health, found)
            wants_window = window_open(state, live.tracker.health) and not live.canary
            if (state, cause) == (live.state, live.cause) and wants_window == (
                live.window is not None
            ):
                continue
            edge = self._transition(live, state, cause, when if when is not None else at, at,
                                    batch)
            name = live.system.name
            feeds = self.lives.values() if live.canary else (
                self.lives[n] for n in self.dependants[name])
            # a dependant's situation changed when this one's did: at the same instant; a
            # service's where its member's record says (a window resumed after a restart
            # ends where it was last seen)
            pending.extend((other, when) for other in feeds if not other.canary)
            pending.extend((self.lives[n], edge) for n in self.containers[name])

    def _transition(
        self, live: Live, state: State, cause: str | None, boundary: float, at: float, batch: Batch
    ) -> float:
        """Move the system to `state` from `boundary`; return where its record changes (its
        window's end, if one closed)."""
        old = live.state
        health = live.tracker.health
        boundary = max(boundary, self.charges.horizon)  # the books never go back
        edge = boundary
        if live.window is not None:
            boundary = max(boundary, live.window.start)
            closing = live.window
            self.charges.close(live, boundary)
            edge = closing.end if closing.end is not None else boundary
        track_incident(live, state, boundary, at)
        live.before, live.changed_at = (live.state, live.cause), edge
        live.state, live.cause, live.grace = state, cause, None
        if old is State.DOWN and state is not State.DOWN:
            for name in self.charges.behind(live.system.name):
                if not is_service(self.lives[name].system):  # a service's members have it
                    self.lives[name].grace = 0
        if window_open(state, health) and not live.canary:
            new_incident = state is State.DOWN and old is not State.DOWN
            self.charges.open(live, state, cause, boundary, at, new_incident)
        reason = live.last_result.reason if live.last_result else ""
        batch.transitions.append(
            TransitionRecord(live.system.name, boundary, old.value, state.value, cause, reason)
        )
        log.info(
            "system=%s state=%s cause=%s since=%s cost_per_hour=%.2f reason=%r",
            live.system.name, state.value, cause or "-",
            dt.datetime.fromtimestamp(boundary, dt.UTC).isoformat(timespec="seconds"),
            self.charges.rate(live, at), reason,
        )
        return edge

    # --- windows --------------------------------------------------------------------------

    def flush(self, batch: Batch) -> None:
        """Add every changed window, day and group day to the batch."""
        for window in self.charges.touched.values():
            batch.windows.append(window_record(window, self.charges.horizon, self.floor))
        self.charges.touched.clear()
        self.days.flush(batch)

    # --- time -------------------------------------------------------------------------------

    def idle(self) -> bool:
        """True when nothing is being timed: no open window, no run of probes in doubt, and
        the books have nothing left to count."""
        return not self.charges.accounts.busy and all(
            live.window is None and live.tracker.run_start is None
            for live in self.lives.values())

    def rebase(self, now: float) -> None:
        """Move the books' clock to `now` (the wall clock stepped) while `idle()`; never
        back before what is recorded already: after a step back, events are dated at the
        latest record until the clock passes it."""
        self.floor = max(self.floor, now)
        self.charges.restart(self.floor)

    def _clamp(self, at: float) -> float:
        """Never let time run backwards inside the books (a wall-clock step back)."""
        self.floor = max(self.floor, at)
        return self.floor

    # --- what others see ----------------------------------------------------------------------

    def period_costs(self, at: float) -> Periods:
        """Cost per system in the current calendar day, ISO week and month of the cost
        timezone: period -> (period id, system -> cost)."""
        return self.days.period_costs(self.lives.values(), at)

    def view(self, at: float) -> list[SystemView]:
        """Every configured system as of `at` (call `account(at)` first): counters as far as
        the books have got, the burn rate and affected users of the present."""
        at = self._clamp(at)
        today = self.days.today(at).isoformat()
        return [system_view(live, self.charges, self.days, at, today)
                for live in self.lives.values() if not live.canary]

    def group_views(self, at: float) -> list[GroupView]:
        """Every group of people as of `at`."""
        return group_views(self.charges, self.days, at)


def _new_live(system: System, canary: bool) -> Live:
    return Live(system=system, tracker=Tracker(system.failure_threshold,
                                                system.success_threshold), canary=canary)

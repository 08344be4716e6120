"""The flow in one place: probe result -> confirmed health -> state -> windows and money.

The engine is pure bookkeeping: it never touches the clock, the network or the disk. Every
method takes the time of the event and returns a `Batch` of ledger records that the caller
commits before anything is exported.

Money rules (see README, "Cost model"):
- a window's staff-time cost accrues in real time at U(t) x hourly x users_share x impact x
  cap, with the organisation cap applied through `OrgAccrual`;
- the part of a window before its confirmation (its first failed probe is its start) is added
  at once when confirmed, limited by the organisation's headroom, so no counter ever goes down;
- while a run of probes that might end or change a window is in progress, its accrual is
  frozen at the run's first probe: if the change is confirmed the window ends exactly there, and
  if the run breaks, the frozen part is added back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from agent.accrual import OrgAccrual, cap
from agent.cost import UsersCalendar, cost_of, direct_cost_of, staff_cost_rate
from agent.maintenance import MaintenanceCalendar
from agent.model import Config, ProbeResult, State, System
from agent.records import Amounts, Basis, Batch, DayRecord, TransitionRecord, WindowRecord
from agent.state import DEGRADED, DOWN, UP, Change, Context, Tracker, derive_state

log = logging.getLogger(__name__)


@dataclass
class OpenWindow:
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


@dataclass
class Live:
    """One system's running state: its tracker, open window, counters and accrual mark."""

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
    mark: float = 0.0  # money and time are credited up to here
    accruing: bool = False  # counted in the organisation's weight, accruing in real time
    last_result: ProbeResult | None = None
    last_probe_at: float | None = None
    incident_start: float | None = None
    incident_cost: float = 0.0
    in_maintenance: bool = False
    recoveries: list[float] = field(default_factory=list)  # starts of runs towards recovery
    maintenance_end: float | None = None


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
        self.calendar = UsersCalendar(config.cost.users, config.cost.timezone)
        self.hourly = config.cost.hourly_cost_per_user
        self.org = OrgAccrual(self.calendar, now)
        self.lives: dict[str, Live] = {}
        for system in config.agent.canaries:
            self.lives[system.name] = self._new_live(system, canary=True, now=now)
        for system in config.systems:
            self.lives[system.name] = self._new_live(system, canary=False, now=now)
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
        self._accruing: set[str] = set()
        self._dirty_days: set[str] = set()
        self._day = self.today(now).isoformat()
        self._day_span = (0.0, 0.0, "")  # [start, end) and date of the local day seen last
        self._adhoc: dict[str, list[tuple[float, float]]] = {}
        self._last = now

    def _new_live(self, system: System, canary: bool, now: float) -> Live:
        tracker = Tracker(system.failure_threshold, system.success_threshold)
        return Live(system=system, tracker=tracker, canary=canary, mark=now)

    # --- the public flow -----------------------------------------------------------------

    def observe(self, name: str, result: ProbeResult, at: float) -> Batch:
        """Count one probe result of system `name` seen at `at`; return what to commit."""
        at = self._clamp(at)
        live = self.lives[name]
        batch = Batch()
        live.last_result, live.last_probe_at = result, at
        run_before = live.tracker.run_start
        live.tracker.observe(result.status, at)
        if live.window is not None:
            live.window.last_observed = at
            if result.reason and not live.window.reason:
                live.window.reason = result.reason
        if live.tracker.run_start is not None and run_before is None:
            self._freeze(live, at)
        self._check_maintenance(live, at, batch)
        confirmed = self._try_confirm(live, at, batch)
        if not confirmed and live.tracker.run_start is None and not live.accruing:
            self._resume(live, at)
        self._recheck_waiting(live, at, batch)
        self._record(live, batch)
        self._flush_days(batch)
        return batch

    def account(self, at: float) -> Batch:
        """Bring every accruing window up to `at` (a scrape, a checkpoint) and apply planned
        maintenance that began or ended since; return what to commit."""
        at = self._clamp(at)
        batch = Batch()
        for live in self.maintained:
            self._check_maintenance(live, at, batch)
        for name in list(self._accruing):
            live = self.lives[name]
            self._settle(live, at)
            self._record(live, batch)
        self._flush_days(batch)
        self._prune_days(at)
        return batch

    def plan_maintenance(self, name: str, start: float, end: float, at: float) -> Batch:
        """An ad-hoc planned window (`outage-agent maintenance`); end <= start ends them."""
        live = self.lives[name]
        periods = [(a, b) for a, b in self._adhoc.get(name, []) if b > at]
        if end > start:
            periods.append((start, end))
        else:
            periods = [(a, min(b, start)) for a, b in periods if a < start]
        self._adhoc[name] = periods
        if live not in self.maintained:
            self.maintained.append(live)
        batch = Batch()
        self._check_maintenance(live, self._clamp(at), batch)
        self._flush_days(batch)
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
        if live.accruing and self._rates(live) != (0.0, 0.0, False, False):
            edge = max(edge, live.mark)  # money already counted is never taken back
        self._refresh_from(live, at, min(edge, at), batch)

    def next_delay(self, name: str) -> float:
        """Seconds until `name` should be probed again: `retry_interval` while a change is in
        doubt, `down_interval` while failing with the outage confirmed, else `interval`."""
        live = self.lives[name]
        if live.tracker.run_start is not None:
            return live.system.retry_interval
        if live.last_result is not None and not live.last_result.ok:
            return live.system.down_interval or live.system.interval
        return live.system.interval

    def restore(
        self, windows: list[WindowRecord], totals: dict[str, tuple[Amounts, int]],
        days: list[DayRecord], at: float,
    ) -> Batch:
        """Resume from the ledger after a restart: counters continue from its totals, open
        windows continue if the agent was away at most `max_unobserved_gap`; a longer
        absence closes them at the last observation and records the gap as unknown."""
        batch = Batch()
        for name, (amounts, incidents) in totals.items():
            if name in self.lives:
                self.lives[name].totals, self.lives[name].incidents = amounts.copy(), incidents
        for day in days:
            if day.system in self.lives:
                self.lives[day.system].days[day.day] = day.amounts.copy()
        gap_allowed = self.config.agent.max_unobserved_gap
        for record in windows:
            live = self.lives.get(record.system)
            last_seen = max(record.last_observed or record.start, record.accounted_until)
            if live is not None and not live.canary and at - last_seen <= gap_allowed:
                self._resume_window(live, record, last_seen)
            else:
                batch.windows.extend(_closed_after_gap(record, last_seen, at, live is not None))
        return batch

    def adopt(self, old: Engine, at: float) -> Batch:
        """Take over from the engine of the previous configuration (a reload at `at`).

        Systems whose configuration is unchanged keep everything (health, open window,
        counters); a changed or removed one has its window closed at `at`, and a changed one
        starts afresh but keeps its counters, so nothing exported ever goes down.
        """
        batch = old.account(at)
        for name, live in old.lives.items():
            new = self.lives.get(name)
            if new is not None and new.system == live.system and new.canary == live.canary:
                self._take(live, at)
                continue
            if live.window is not None:
                old._close(live, at, batch)
            if new is not None:
                new.totals, new.incidents, new.days = live.totals, live.incidents, live.days
        self._flush_days(batch)
        return batch

    def _take(self, live: Live, at: float) -> None:
        was_accruing = live.accruing
        live.accruing = False
        self.lives[live.system.name] = live
        if was_accruing:
            self._resume(live, at)

    def _resume_window(self, live: Live, record: WindowRecord, last_seen: float) -> None:
        state = State(record.state)
        live.window = OpenWindow(
            state=state, cause=record.cause, start=record.start,
            before_start=record.before_start, basis=record.basis,
            new_incident=record.new_incident, amounts=record.amounts.copy(),
            last_observed=record.last_observed, resumed_until=last_seen, reason=record.reason,
        )
        live.state, live.cause = state, record.cause
        live.tracker.restore(DEGRADED if state is State.DEGRADED else DOWN, last_seen)
        live.mark, live.accruing = record.accounted_until, False
        if state in (State.DOWN, State.DEGRADED):
            live.incident_start, live.incident_cost = record.start, record.amounts.cost

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
                self._record(live, batch)

    def _context(self, live: Live) -> Context:
        blind = not live.canary and any(c.tracker.health == DOWN for c in self.canaries)
        root = None
        for dep in live.system.depends_on:
            other = self.lives[dep]
            if other.state is State.DOWN:
                root = other.cause or other.system.name
                break
        return Context(maintenance=live.in_maintenance, blind=blind, root_cause=root)

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
            pending.extend((other, None) for other in feeds if not other.canary)

    def _transition(
        self, live: Live, state: State, cause: str | None, boundary: float, at: float, batch: Batch
    ) -> None:
        old = live.state
        health = live.tracker.health
        if live.window is not None:
            boundary = max(boundary, live.window.start)
            self._close(live, boundary, batch)
        self._track_incident(live, state, boundary)
        if _window_open(state, health) and not live.canary:
            new_incident = state is State.DOWN and old is not State.DOWN
            self._open(live, state, cause, boundary, at, new_incident, batch)
        live.state, live.cause = state, cause
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
        new_incident: bool, batch: Batch,
    ) -> None:
        system = live.system
        impact = system.degraded_impact if state is State.DEGRADED else system.impact
        basis = Basis(
            hourly_cost_per_user=self.hourly, users_share=system.users_share, impact=impact,
            direct_cost_per_hour=system.direct_cost_per_hour,
            users_at_start=self.calendar.users_at(start),
        )
        if new_incident:
            live.incidents += 1
        before = live.tracker.before_run if start < at else at
        live.window = OpenWindow(
            state=state, cause=cause, start=start, before_start=before, basis=basis,
            new_incident=new_incident, last_observed=live.last_probe_at,
            reason=live.last_result.reason if live.last_result else "",
        )
        live.mark, live.accruing = start, False
        if live.tracker.run_start is None:
            self._resume(live, at)
        self._record(live, batch)

    def _close(self, live: Live, end: float, batch: Batch) -> None:
        window = live.window
        assert window is not None
        if window.resumed_until is not None:  # recovered while the agent was away
            end = max(window.start, min(end, window.resumed_until))
        if live.accruing:
            self._settle(live, end)
            self._stop_accruing(live, end)
        elif live.mark < end:
            self._backfill(live, end)
        before_end = live.tracker.before_run if end < (live.last_probe_at or end) else end
        batch.windows.append(self._window_record(live, end=max(end, window.start),
                                                 before_end=before_end))
        live.window = None

    # --- accrual --------------------------------------------------------------------------

    def _rates(self, live: Live) -> tuple[float, float, bool, bool]:
        """(staff weight, direct cost per hour, counts as down, counts as degraded)."""
        window = live.window
        if window is None or live.canary:
            return 0.0, 0.0, False, False
        basis = window.basis
        if window.state is State.DOWN:
            weight = basis.users_share * basis.impact if window.cause is None else 0.0
            return weight, basis.direct_cost_per_hour, True, False
        if window.state is State.DEGRADED:
            return basis.users_share * basis.impact, 0.0, False, True
        return 0.0, 0.0, False, False

    def _rate(self, live: Live, at: float, users: float | None = None) -> float:
        """The current burn rate of one system, per hour (`users`: U(at), if known)."""
        if not live.accruing or live.window is None:
            return 0.0
        weight, direct, _, _ = self._rates(live)
        hourly = live.window.basis.hourly_cost_per_user
        users = self.calendar.users_at(at) if users is None else users
        return staff_cost_rate(users, hourly, weight, 1.0) * cap(self.org.weight) + direct

    def _freeze(self, live: Live, at: float) -> None:
        if live.accruing:
            self._settle(live, at)
            self._stop_accruing(live, at)

    def _resume(self, live: Live, at: float) -> None:
        """Add the part since the mark (backdated) and accrue in real time from `at`."""
        if live.window is None:
            live.mark = at
            return
        self._backfill(live, at)
        live.window.resumed_until = None
        weight = self._rates(live)[0]
        self.org.set_weight(live.system.name, weight, at)
        live.mark, live.accruing = at, True
        self._accruing.add(live.system.name)

    def _stop_accruing(self, live: Live, at: float) -> None:
        self.org.set_weight(live.system.name, 0.0, at)
        live.accruing = False
        self._accruing.discard(live.system.name)

    def _settle(self, live: Live, to: float) -> None:
        """Credit real-time accrual from the mark to `to`, at the organisation's cap."""
        if to <= live.mark or live.window is None:
            return
        weight, direct, down, degraded = self._rates(live)
        hourly = live.window.basis.hourly_cost_per_user
        for a, b, day in self._day_pieces(live.mark, to):
            g_a, _ = self.org.values_at(a)
            g_b, _ = self.org.values_at(b)
            staff = cost_of(g_b - g_a, hourly, weight)  # G already carries the cap
            self._credit(live, day, staff, direct_cost_of(b - a, direct), b - a, down, degraded)
        live.mark = to

    def _backfill(self, live: Live, to: float) -> None:
        """Credit [mark, to) at once, within the headroom the organisation has left there."""
        if to <= live.mark or live.window is None:
            return
        weight, direct, down, degraded = self._rates(live)
        hourly = live.window.basis.hourly_cost_per_user
        share = cap(self.org.weight + weight)
        for a, b, day in self._day_pieces(live.mark, to):
            staff_us = 0.0
            if weight > 0:
                wanted = self.calendar.user_seconds(a, b) * weight * share
                staff_us = min(wanted, self.org.headroom(a, b, live.system.name))
                self.org.charge(a, b, staff_us, live.system.name)
            self._credit(live, day, cost_of(staff_us, hourly, 1.0), direct_cost_of(b - a, direct),
                         b - a, down, degraded)
        live.mark = to

    def _credit(
        self, live: Live, day: str, staff: float, direct: float, seconds: float,
        down: bool, degraded: bool,
    ) -> None:
        amounts = Amounts(
            cost=staff + direct, staff=staff, direct=direct,
            downtime=seconds if down else 0.0, degraded=seconds if degraded else 0.0,
        )
        live.totals.add(amounts)
        if live.window is not None:
            live.window.amounts.add(amounts)
        live.days.setdefault(day, Amounts()).add(amounts)
        live.dirty_days.add(day)
        self._dirty_days.add(live.system.name)
        if live.incident_start is not None:
            live.incident_cost += amounts.cost

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

    def _flush_days(self, batch: Batch) -> None:
        for name in sorted(self._dirty_days):
            live = self.lives[name]
            for day in sorted(live.dirty_days):
                batch.days.append(DayRecord(name, day, live.days[day].copy()))
            live.dirty_days.clear()
        self._dirty_days.clear()

    # --- records ----------------------------------------------------------------------------

    def _record(self, live: Live, batch: Batch) -> None:
        if live.window is not None:
            batch.windows.append(self._window_record(live))

    def _window_record(
        self, live: Live, end: float | None = None, before_end: float | None = None
    ) -> WindowRecord:
        window = live.window
        assert window is not None
        return WindowRecord(
            system=live.system.name, state=window.state.value, cause=window.cause,
            start=window.start, end=end, before_start=window.before_start,
            before_end=before_end, last_observed=window.last_observed,
            accounted_until=live.mark, amounts=window.amounts.copy(), basis=window.basis,
            new_incident=window.new_incident, reason=window.reason,
        )

    def idle(self) -> bool:
        """True when nothing is being timed: no open window, no run of probes in doubt."""
        return not self._accruing and all(
            live.window is None and live.tracker.run_start is None
            for live in self.lives.values())

    def rebase(self, now: float) -> None:
        """Move the books' clock to `now` (the wall clock stepped) while `idle()`."""
        self._last = now
        self.org = OrgAccrual(self.calendar, now)
        for live in self.lives.values():
            live.mark = now

    def _clamp(self, at: float) -> float:
        """Never let time run backwards inside the books (a wall-clock step back)."""
        self._last = max(self._last, at)
        return self._last

    # --- views ------------------------------------------------------------------------------

    def view(self, at: float) -> list[SystemView]:
        """Every configured system as of `at` (call `account(at)` first)."""
        at = self._clamp(at)
        today = self.today(at).isoformat()
        month = today[:7]
        users = self.calendar.users_at(at)
        return [self._view(live, at, today, month, users)
                for live in self.lives.values() if not live.canary]

    def _view(self, live: Live, at: float, today: str, month: str, users: float) -> SystemView:
        day = live.days.get(today)
        month_cost = sum((a.cost for d, a in live.days.items() if d[:7] == month), 0.0) if (
            live.days) else 0.0  # most systems have no outage this month: no generator
        affected = 0.0
        if live.state is State.DEGRADED or (live.state is State.DOWN and live.cause is None):
            affected = users * live.system.users_share
        return SystemView(
            name=live.system.name, state=live.state, cause=live.cause,
            totals=live.totals.copy(), incidents=live.incidents,
            cost_per_hour=self._rate(live, at, users), affected_users=affected,
            cost_day=day.cost if day else 0.0, cost_month=month_cost,
            incident_start=live.incident_start, incident_cost=live.incident_cost,
            window=self._window_record(live) if live.window else None,
            last_result=live.last_result, last_probe_at=live.last_probe_at, as_of=at,
        )

    def canary_views(self) -> list[Live]:
        return list(self.canaries)

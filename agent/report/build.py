"""Build a report from the ledger's windows: pure, with the clock and the ledger passed in.

What is counted (docs/reports.md; docs/cost-model.md):
- Every window that counts is costed again together with every other (`costing`), with the
  cost basis in force at each instant: its users' lost time combined per group of people
  with everything else down at once, and attributed to its root cause's window; a window
  down behind a dependency (its cause, or the cause a person corrected it to) has its users'
  time attributed to the root cause's window, and keeps its own direct costs. A voided window
  costs nothing and counts for nothing, but is listed with its reason.
- Planned maintenance (the configured calendar, `outage-agent maintenance` and recorded
  maintenance windows) is excluded from the period, the downtime and the cost.
- Availability is 1 - downtime / period, over the range up to the report's `as_of`; in
  business hours, both are measured with `UsersCalendar.business_seconds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from agent.basis import basis_of
from agent.cost import UsersCalendar
from agent.days import local_days
from agent.ledger import StoredWindow
from agent.model import Config, UserGroup
from agent.records import AuditEntry, PingRecord
from agent.report.costing import Era, eras_in_force
from agent.report.evidence import members_evidence, pings_evidence, with_evidence
from agent.report.measured import measured_share
from agent.report.model import CostModel, Group, GroupModel, Planned, Report, SystemReport
from agent.report.systems import business_hours_of, system_report
from agent.report.windows import Costed, all_maintenance, cost_windows, systems_of
from agent.spans import Span

GROUP_LABELS = ("supplier", "owner", "tier")


def build_report(
    windows: Sequence[StoredWindow], config: Config, start: float, end: float, as_of: float,
    *, system: str | None = None, audit: Sequence[AuditEntry] = (),
    planned: Mapping[str, Sequence[Span]] | None = None,
    first_seen: Mapping[str, float] | None = None,
    bases: Sequence[Era] = (), what_if: bool = False,
    pings: Mapping[str, Sequence[PingRecord]] | None = None,
) -> Report:
    """Given every window overlapping [start, end) (all systems: they are costed together),
    the configuration, and the time the figures run to, return the report; with `system`,
    of that system only. `planned` adds maintenance periods per system (ad-hoc ones);
    `first_seen` says when each system was first watched: time before it (all of the range,
    for a system it does not list) is unobserved. Without it, everything was watched.
    `bases` are the cost bases recorded in the ledger with when each came into force
    (none: the configuration's); `what_if` says they were set aside for today's. `pings`
    are heartbeat systems' pings with a body: with services' members' windows, the evidence
    listed beside each window (agent.report.evidence)."""
    zone = ZoneInfo(config.cost.timezone)
    stop = max(start, min(end, as_of))
    eras = eras_in_force(list(bases) or [(start, basis_of(config))], start, stop)
    latest = eras[-1][1]
    systems = systems_of(config, windows)
    maintenance = all_maintenance(systems, windows, planned, start, stop, config)
    costed = cost_windows(windows, start, stop, maintenance, eras, zone)
    chosen = [name for name in systems if system is None or name == system]
    never = start if first_seen is None else stop
    seen = first_seen or {}
    by_system: dict[str, list[Costed]] = {name: [] for name in chosen}
    for c in costed:  # grouped once: a scan of every window per system was quadratic
        if (mine := by_system.get(c.stored.record.system)) is not None:
            mine.append(c)
    evidence = {**members_evidence(windows, config), **pings_evidence(windows, pings or {})}
    reports = tuple(
        with_evidence(system_report(systems[name], by_system[name], maintenance[name], start,
                                    stop, business_hours_of(latest, name),
                                    seen.get(name, never)), evidence)
        for name in chosen
    )
    shown = {line.id for s in reports for line in s.windows}
    return Report(
        start=start, end=end, as_of=as_of, site=config.agent.site,
        model=dataclasses.replace(_cost_model(config, len(eras), what_if), measured_share=(
            measured_share(c for c in costed if c.stored.record.system in by_system))),
        systems=reports,
        days=_days([c for c in costed if c.stored.record.system in by_system], start, end,
                   zone),
        groups=_groups(reports),
        maintenance=tuple(Planned(name, a, b) for name in chosen for a, b in maintenance[name]),
        changes=tuple(e for e in audit if e.window_id in shown),
    )


def _days(costed: Sequence[Costed], start: float, end: float, zone: ZoneInfo
          ) -> tuple[tuple[str, float], ...]:
    """Cost per local day of the whole range, 0 where nothing was lost."""
    amounts = dict.fromkeys((day for day, _, _ in local_days(start, end, zone)), 0.0)
    for c in costed:
        for day, cost in c.days.items():
            amounts[day] += cost
    return tuple(amounts.items())


# --- the organisation ----------------------------------------------------------------------------


def _cost_model(config: Config, eras: int, what_if: bool) -> CostModel:
    """The cost model of the configuration, for the report to show its arithmetic."""
    cost = config.cost
    groups = tuple(
        GroupModel(name=g.name, hourly_cost_per_user=g.hourly_cost_per_user,
                   annual_cost_per_user=g.annual_cost_per_user,
                   working_hours_per_year=g.working_hours_per_year,
                   peak_users=top[0], peak_cost_per_hour=top[1],
                   scheduled=bool(g.users.windows), holidays=g.users.holidays,
                   measured=g.source is not None,
                   source_max=None if g.source is None else g.source.max)
        for g in cost.user_groups()
        for top in [_peak(g, UsersCalendar(g.users, cost.timezone, g.hourly_cost_per_user))])
    first = groups[0]
    return CostModel(
        currency=cost.currency, timezone=cost.timezone,
        hourly_cost_per_user=first.hourly_cost_per_user,
        annual_cost_per_user=first.annual_cost_per_user,
        working_hours_per_year=first.working_hours_per_year,
        peak_users=first.peak_users, scheduled=any(g.scheduled for g in groups),
        holidays=first.holidays, groups=groups if cost.groups else (),
        peak_cost_per_hour=sum(g.peak_cost_per_hour for g in groups),
        bases=eras, what_if=what_if, measured=first.measured, source_max=first.source_max,
    )


def _peak(group: UserGroup, calendar: UsersCalendar) -> tuple[float, float]:
    """(users, cost an hour) where the group costs most: its schedule's peak, or for users
    measured with a `max`, the max if that costs more (without one, the schedule's: the
    words say the peak is as measured)."""
    fallback = (calendar.peak_users(), calendar.peak_cost_rate())
    if group.source is None or group.source.max is None:
        return fallback
    most = group.source.max
    return max(fallback, (most, most * group.hourly_cost_per_user), key=lambda p: (p[1], p[0]))


def _groups(systems: Sequence[SystemReport]) -> tuple[Group, ...]:
    """A group per owner, supplier and tier value, in the order systems are listed."""
    groups: list[Group] = []
    for label in GROUP_LABELS:
        members: dict[str, list[str]] = {}
        for s in systems:
            value = getattr(s, label)
            if value:
                members.setdefault(value, []).append(s.name)
        groups += [Group(label, value, tuple(names)) for value, names in members.items()]
    return tuple(groups)

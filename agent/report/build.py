"""Build a report from the ledger's windows: pure, with the clock and the ledger passed in.

What is counted (README, "Reports"):
- A window costs staff time from its stored basis (hourly cost, users_share, impact) and
  U(t) from the users schedule, with the organisation cap over overlaps (`money.share_out`),
  and direct costs while down. A window down behind a dependency (its cause, or the cause a
  person corrected it to) costs no staff time. A voided window costs nothing and counts for
  nothing, but is listed with its reason.
- Planned maintenance (the configured calendar, `outage-agent maintenance` and recorded
  maintenance windows) is excluded from the period, the downtime and the cost.
- Availability is 1 - downtime / period, over the range up to the report's `as_of`; in
  business hours, both are measured with `UsersCalendar.business_seconds`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from agent.cost import UsersCalendar, direct_cost_of
from agent.ledger import StoredWindow
from agent.maintenance import MaintenanceCalendar
from agent.model import Check, Config, System, TcpProbe
from agent.records import AuditEntry
from agent.report.model import (
    CostModel,
    Group,
    Incident,
    Planned,
    Report,
    SystemReport,
    WindowLine,
)
from agent.report.money import CostSpan, share_out
from agent.report.period import local_days
from agent.spans import Span, clip, merge, subtract, total

GROUP_LABELS = ("supplier", "owner", "tier")
_TOUCHING = 1e-6  # seconds: windows this close are one spell (the engine closes one where
# the next opens)


@dataclass(frozen=True)
class _Costed:
    """One window's counted stretches and money inside the range."""

    stored: StoredWindow
    spans: list[Span]  # counted time: clipped, voids and maintenance removed
    staff: float
    direct: float
    days: dict[str, float]  # cost by local day ("YYYY-MM-DD")


def build_report(
    windows: Sequence[StoredWindow], config: Config, start: float, end: float, as_of: float,
    *, system: str | None = None, audit: Sequence[AuditEntry] = (),
    planned: Mapping[str, Sequence[Span]] | None = None,
    first_seen: Mapping[str, float] | None = None,
) -> Report:
    """Given every window overlapping [start, end) (all systems: the cap needs them all),
    the configuration, and the time the figures run to, return the report; with `system`,
    of that system only. `planned` adds maintenance periods per system (ad-hoc ones);
    `first_seen` says when each system was first watched: time before it (all of the range,
    for a system it does not list) is unobserved. Without it, everything was watched."""
    zone = ZoneInfo(config.cost.timezone)
    calendar = UsersCalendar(config.cost.users, config.cost.timezone)
    stop = max(start, min(end, as_of))
    systems = _systems(config, windows)
    maintenance = {name: _maintenance(info, windows, (planned or {}).get(name, ()), start, stop,
                                      config.cost.timezone)
                   for name, info in systems.items()}
    costed = _cost(windows, start, stop, maintenance, calendar, zone)
    chosen = [name for name in systems if system is None or name == system]
    never = start if first_seen is None else stop
    seen = first_seen or {}
    reports = tuple(
        _system_report(systems[name], [c for c in costed if c.stored.record.system == name],
                       maintenance[name], start, stop, calendar, bool(config.cost.users.windows),
                       seen.get(name, never))
        for name in chosen
    )
    shown = {line.id for s in reports for line in s.windows}
    return Report(
        start=start, end=end, as_of=as_of, site=config.agent.site,
        model=_cost_model(config, calendar),
        systems=reports,
        days=_days([c for c in costed if c.stored.record.system in chosen], start, end, zone),
        groups=_groups(reports),
        maintenance=tuple(Planned(name, a, b) for name in chosen for a, b in maintenance[name]),
        changes=tuple(e for e in audit if e.window_id in shown),
    )


# --- systems and their planned maintenance ------------------------------------------------------


def _systems(config: Config, windows: Iterable[StoredWindow]) -> dict[str, System]:
    """The configured systems, in order, then any the ledger has that are no longer configured."""
    systems = {s.name: s for s in config.systems}
    gone = sorted({w.record.system for w in windows} - set(systems))
    placeholder = Check(spec=TcpProbe(target="-"), timeout=1.0)
    for name in gone:
        systems[name] = System(name=name, check=placeholder,
                               description="(no longer in the configuration)")
    return systems


def _maintenance(
    system: System, windows: Iterable[StoredWindow], planned: Sequence[Span],
    start: float, stop: float, timezone: str,
) -> list[Span]:
    """The merged planned periods of one system inside [start, stop)."""
    configured = MaintenanceCalendar(system.maintenance, timezone).periods(start, stop)
    recorded = [window_span(w, stop) for w in windows if w.record.system == system.name
                and w.record.state == "maintenance" and w.annotations.voided_reason is None]
    clipped = [c for s in [*configured, *planned, *recorded] if (c := clip(s, start, stop))]
    return merge(clipped)


# --- money -----------------------------------------------------------------------------------


def effective_cause(stored: StoredWindow) -> str | None:
    """The root cause as a person corrected it (naming the system itself clears it), or as
    recorded."""
    corrected = stored.annotations.cause
    if corrected is None:
        return stored.record.cause
    return None if corrected == stored.record.system else corrected


def window_span(stored: StoredWindow, stop: float) -> Span:
    """The window's span. An open window runs to the last time the agent saw it (a running
    daemon checkpoints every few seconds; one that was stopped does not add time it never
    saw), and no further than `stop`."""
    record = stored.record
    if record.end is not None:
        return record.start, record.end
    seen = max(record.accounted_until, record.last_observed or record.start)
    return record.start, min(seen, stop)


def _counted_spans(
    stored: StoredWindow, start: float, stop: float, maintenance: Sequence[Span]
) -> list[Span]:
    record = stored.record
    if stored.annotations.voided_reason is not None or record.state not in ("down", "degraded"):
        return []
    whole = clip(window_span(stored, stop), start, stop)
    return subtract(whole, maintenance) if whole else []


def _weight(stored: StoredWindow) -> float:
    """users_share x impact while the window costs staff time, else 0."""
    record, basis = stored.record, stored.record.basis
    if record.state == "down" and effective_cause(stored) is not None:
        return 0.0  # its users are counted at the root cause
    return basis.users_share * basis.impact


def _cost(
    windows: Sequence[StoredWindow], start: float, stop: float,
    maintenance: Mapping[str, Sequence[Span]], calendar: UsersCalendar, zone: ZoneInfo,
) -> list[_Costed]:
    spans = {w.id: _counted_spans(w, start, stop, maintenance[w.record.system])
             for w in windows}
    days = local_days(start, stop, zone)
    stretches = [CostSpan(w.id, a, b, _weight(w), w.record.basis.hourly_cost_per_user)
                 for w in windows for a, b in spans[w.id]]
    midnights = [a for _, a, _ in days]
    by_day: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for piece in share_out(stretches, calendar.user_seconds, midnights[1:]):
        # Pieces are cut at midnight, so each lies in the day it starts in.
        day = days[max(0, bisect.bisect_right(midnights, piece.start) - 1)][0]
        by_day[piece.key][day] += piece.staff
    out = []
    for w in windows:
        rate = w.record.basis.direct_cost_per_hour if w.record.state == "down" else 0.0
        staff = sum(by_day[w.id].values(), 0.0)
        for a, b in spans[w.id]:
            for day, x, y in days:
                if x < b and a < y:
                    by_day[w.id][day] += direct_cost_of(min(b, y) - max(a, x), rate)
        direct = direct_cost_of(total(spans[w.id]), rate)
        out.append(_Costed(w, spans[w.id], staff, direct, dict(by_day[w.id])))
    return out


def _days(costed: Sequence[_Costed], start: float, end: float, zone: ZoneInfo
          ) -> tuple[tuple[str, float], ...]:
    """Cost per local day of the whole range, 0 where nothing was lost."""
    amounts = dict.fromkeys((day for day, _, _ in local_days(start, end, zone)), 0.0)
    for c in costed:
        for day, cost in c.days.items():
            amounts[day] += cost
    return tuple(amounts.items())


# --- one system ------------------------------------------------------------------------------


def _line(c: _Costed, start: float, stop: float) -> WindowLine:
    record, notes = c.stored.record, c.stored.annotations
    shown_start = min(max(record.start, start), stop)
    shown_end = max(shown_start, min(window_span(c.stored, stop)[1], stop))
    counts = notes.voided_reason is None and record.state == "down"
    uncertainty = 0.0
    if counts and record.before_start is not None and start <= record.start < stop:
        uncertainty += record.start - record.before_start
    if (counts and record.end is not None and record.before_end is not None
            and start < record.end <= stop):
        uncertainty += record.end - record.before_end
    return WindowLine(
        id=c.stored.id, system=record.system, state=record.state, cause=effective_cause(c.stored),
        start=record.start, end=record.end, shown_start=shown_start, shown_end=shown_end,
        downtime=total(c.spans) if record.state == "down" else 0.0,
        staff=c.staff, direct=c.direct, recorded_cost=record.amounts.cost,
        uncertainty=uncertainty, source=record.source, reason=record.reason,
        note=notes.note, ticket=notes.ticket, voided=notes.voided_reason,
    )


def _incidents(costed: Sequence[_Costed]) -> list[Incident]:
    """Spells of touching down and degraded windows that include counted downtime."""
    spells: list[list[_Costed]] = []
    spell_end = float("-inf")
    for c in sorted(costed, key=lambda c: c.stored.record.start):
        record = c.stored.record
        if record.state not in ("down", "degraded") or c.stored.annotations.voided_reason:
            continue
        end = record.end if record.end is not None else float("inf")
        if spells and record.start <= spell_end + _TOUCHING:
            spells[-1].append(c)
            spell_end = max(spell_end, end)
        else:
            spells.append([c])
            spell_end = end
    return [
        Incident(
            system=spell[0].stored.record.system, start=spell[0].stored.record.start,
            end=_spell_end(spell), seconds=total(s for c in spell for s in c.spans),
            cost=sum(c.staff + c.direct for c in spell),
            window_ids=tuple(c.stored.id for c in spell),
        )
        for spell in spells
        if any(c.stored.record.state == "down" and c.spans for c in spell)
    ]


def _spell_end(spell: Sequence[_Costed]) -> float | None:
    ends = [c.stored.record.end for c in spell]
    return None if None in ends else max(e for e in ends if e is not None)


def _system_report(
    system: System, costed: Sequence[_Costed], maintenance: Sequence[Span],
    start: float, stop: float, calendar: UsersCalendar, scheduled: bool, first_seen: float,
) -> SystemReport:
    down = merge(s for c in costed if c.stored.record.state == "down" for s in c.spans)
    downtime = total(down)
    period = (stop - start) - total(maintenance)
    business = None
    if scheduled:
        open_hours = calendar.business_seconds(start, stop) - sum(
            calendar.business_seconds(a, b) for a, b in maintenance)
        lost = sum(calendar.business_seconds(a, b) for a, b in down)
        business = 1.0 - lost / open_hours if open_hours > 0 else None
    unobserved = total([
        *(s for c in costed if c.stored.record.state == "unknown"
          and c.stored.annotations.voided_reason is None
          and (s := clip(window_span(c.stored, stop), start, stop))),
        *([(start, min(first_seen, stop))] if first_seen > start else []),  # before it started
    ])
    incidents = _incidents(costed)
    lines = tuple(_line(c, start, stop) for c in costed)
    return SystemReport(
        name=system.name, description=system.description, owner=system.owner,
        supplier=system.supplier, tier=system.tier, incidents=len(incidents),
        downtime=downtime, uncertainty=sum(line.uncertainty for line in lines),
        unobserved=unobserved, period=period, maintenance=total(maintenance),
        availability=1.0 - downtime / period if period > 0 else None,
        business_availability=business,
        staff=sum(c.staff for c in costed), direct=sum(c.direct for c in costed),
        sla=system.sla,
        allowed_downtime=(1.0 - system.sla) * period if system.sla is not None else None,
        longest=max(incidents, key=lambda i: i.seconds, default=None),
        most_expensive=max(incidents, key=lambda i: i.cost, default=None),
        windows=lines,
    )


# --- the organisation ----------------------------------------------------------------------------


def _cost_model(config: Config, calendar: UsersCalendar) -> CostModel:
    cost = config.cost
    return CostModel(
        currency=cost.currency, timezone=cost.timezone,
        hourly_cost_per_user=cost.hourly_cost_per_user,
        annual_cost_per_user=cost.annual_cost_per_user,
        working_hours_per_year=cost.working_hours_per_year,
        peak_users=calendar.peak_users(), scheduled=bool(cost.users.windows),
        holidays=cost.users.holidays,
    )


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

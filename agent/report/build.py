"""Build a report from the ledger's windows: pure, with the clock and the ledger passed in.

What is counted (README, "Reports"; docs/cost-model.md):
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
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from agent.basis import CostBasis, basis_of
from agent.cost import UsersCalendar
from agent.days import local_days
from agent.ledger import StoredWindow
from agent.maintenance import MaintenanceCalendar
from agent.model import Check, Config, System, TcpProbe
from agent.records import Amounts, AuditEntry
from agent.report.costing import Era, Money, Stretch, cost_stretches, eras_in_force
from agent.report.model import (
    CostModel,
    Group,
    GroupModel,
    Incident,
    Planned,
    Report,
    SystemReport,
    WindowLine,
)
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
    low: float  # the cost had every window been as short as its probes allow
    high: float  # ... and as long


def build_report(
    windows: Sequence[StoredWindow], config: Config, start: float, end: float, as_of: float,
    *, system: str | None = None, audit: Sequence[AuditEntry] = (),
    planned: Mapping[str, Sequence[Span]] | None = None,
    first_seen: Mapping[str, float] | None = None,
    bases: Sequence[Era] = (), what_if: bool = False,
) -> Report:
    """Given every window overlapping [start, end) (all systems: they are costed together),
    the configuration, and the time the figures run to, return the report; with `system`,
    of that system only. `planned` adds maintenance periods per system (ad-hoc ones);
    `first_seen` says when each system was first watched: time before it (all of the range,
    for a system it does not list) is unobserved. Without it, everything was watched.
    `bases` are the cost bases recorded in the ledger with when each came into force
    (none: the configuration's); `what_if` says they were set aside for today's."""
    zone = ZoneInfo(config.cost.timezone)
    stop = max(start, min(end, as_of))
    eras = eras_in_force(list(bases) or [(start, basis_of(config))], start, stop)
    latest = eras[-1][1]
    systems = _systems(config, windows)
    maintenance = _all_maintenance(systems, windows, planned, start, stop, config)
    costed = _cost(windows, start, stop, maintenance, eras, zone)
    chosen = [name for name in systems if system is None or name == system]
    never = start if first_seen is None else stop
    seen = first_seen or {}
    reports = tuple(
        _system_report(systems[name], [c for c in costed if c.stored.record.system == name],
                       maintenance[name], start, stop, _business(latest, name),
                       seen.get(name, never))
        for name in chosen
    )
    shown = {line.id for s in reports for line in s.windows}
    return Report(
        start=start, end=end, as_of=as_of, site=config.agent.site,
        model=_cost_model(config, len(eras), what_if),
        systems=reports,
        days=_days([c for c in costed if c.stored.record.system in chosen], start, end, zone),
        groups=_groups(reports),
        maintenance=tuple(Planned(name, a, b) for name in chosen for a, b in maintenance[name]),
        changes=tuple(e for e in audit if e.window_id in shown),
    )


def cost_together(
    windows: Sequence[StoredWindow], config: Config, start: float, stop: float,
    bases: Sequence[Era] = (), planned: Mapping[str, Sequence[Span]] | None = None,
) -> dict[int, tuple[list[Span], Money]]:
    """Given every window overlapping [start, stop), return each one's counted spans and
    money inside it, costed together exactly as a report costs them."""
    eras = eras_in_force(list(bases) or [(start, basis_of(config))], start, stop)
    maintenance = _all_maintenance(_systems(config, windows), windows, planned, start, stop,
                                   config)
    return _money(windows, start, stop, maintenance, eras, ZoneInfo(config.cost.timezone))


def window_amounts(
    windows: Sequence[StoredWindow], config: Config, start: float, stop: float,
    bases: Sequence[Era] = (), planned: Mapping[str, Sequence[Span]] | None = None,
) -> dict[int, Amounts]:
    """Given every window overlapping [start, stop), return each one's money and time inside
    it, costed together exactly as a report costs them (the API and exports show these, so
    they add up to the report's figures)."""
    money = cost_together(windows, config, start, stop, bases, planned)
    return {w.id: amounts_of(w, *money[w.id]) for w in windows}


def amounts_of(stored: StoredWindow, spans: Sequence[Span], money: Money) -> Amounts:
    """A window's money and counted time as the ledger's Amounts."""
    seconds = total(spans)
    state = stored.record.state
    return Amounts(cost=money.staff + money.direct, staff=money.staff, direct=money.direct,
                   downtime=seconds if state == "down" else 0.0,
                   degraded=seconds if state == "degraded" else 0.0)


# --- systems and their planned maintenance ------------------------------------------------------


def _all_maintenance(
    systems: Mapping[str, System], windows: Sequence[StoredWindow],
    planned: Mapping[str, Sequence[Span]] | None, start: float, stop: float, config: Config,
) -> dict[str, list[Span]]:
    return {name: _maintenance(info, windows, (planned or {}).get(name, ()), start, stop,
                               config.cost.timezone)
            for name, info in systems.items()}


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


def _cost(
    windows: Sequence[StoredWindow], start: float, stop: float,
    maintenance: Mapping[str, Sequence[Span]], eras: Sequence[Era], zone: ZoneInfo,
) -> list[_Costed]:
    """Every window's money, and its low and high figures: costed again with every window
    as short, and then as long, as the probe times before its ends allow."""
    central = _money(windows, start, stop, maintenance, eras, zone)
    low = _money([_shortest(w) for w in windows], start, stop, maintenance, eras, zone)
    high = _money([_longest(w) for w in windows], start, stop, maintenance, eras, zone)
    out = []
    for w in windows:
        spans, money = central[w.id]
        cost = money.staff + money.direct
        out.append(_Costed(w, spans, money.staff, money.direct, dict(money.days),
                           low=min(cost, _total(low[w.id][1])),
                           high=max(cost, _total(high[w.id][1]))))
    return out


def _total(money: Money) -> float:
    return money.staff + money.direct


def _money(
    windows: Sequence[StoredWindow], start: float, stop: float,
    maintenance: Mapping[str, Sequence[Span]], eras: Sequence[Era], zone: ZoneInfo,
) -> dict[int, tuple[list[Span], Money]]:
    """Each window's counted spans and money inside [start, stop)."""
    spans = {w.id: _counted_spans(w, start, stop, _planned_for(w, maintenance))
             for w in windows}
    money = cost_stretches(_stretches(windows, spans), eras, zone, start, stop)
    return {w.id: (spans[w.id], money.get(w.id, Money())) for w in windows}


def _planned_for(stored: StoredWindow, maintenance: Mapping[str, Sequence[Span]]) -> list[Span]:
    """The planned maintenance a window does not count in: its system's, and its root
    cause's (failing behind a dependency's planned work is part of that work)."""
    cause = effective_cause(stored) if stored.record.state == "down" else None
    return [*maintenance.get(stored.record.system, ()), *maintenance.get(cause or "", ())]


def _stretches(windows: Sequence[StoredWindow], spans: Mapping[int, list[Span]]
               ) -> list[Stretch]:
    """The counted stretches of every window, each for the window it is attributed to: a
    dependant's for its root cause's window where that was down, else its own."""
    roots: dict[str, list[tuple[Span, int]]] = defaultdict(list)
    for w in windows:
        if w.record.state == "down" and effective_cause(w) is None:
            roots[w.record.system] += [(span, w.id) for span in spans[w.id]]
    out = []
    for w in windows:
        record = w.record
        cause = effective_cause(w) if record.state == "down" else None
        for span in spans[w.id]:
            for (a, b), payee in _payees(span, roots.get(cause or "", []), w.id):
                out.append(Stretch(window=w.id, payee=payee, system=record.system,
                                   state=record.state, start=a, end=b,
                                   impact=w.impact_override, recorded=record.basis))
    return out


def _payees(span: Span, roots: Sequence[tuple[Span, int]], own: int
            ) -> list[tuple[Span, int]]:
    """A span cut where its root cause's windows begin and end: (piece, window charged)."""
    covered = [(piece, wid) for root, wid in roots if (piece := clip(span, *root))]
    left = subtract(span, [piece for piece, _ in covered])
    return sorted([*covered, *((piece, own) for piece in left)])


def _shortest(stored: StoredWindow) -> StoredWindow:
    """The window ending at its last failed probe: the shortest its probes allow."""
    record = stored.record
    if record.end is None or record.before_end is None or record.before_end <= record.start:
        return stored
    return dataclasses.replace(stored, record=dataclasses.replace(record,
                                                                   end=record.before_end))


def _longest(stored: StoredWindow) -> StoredWindow:
    """The window starting at the last good probe before it: the longest its probes allow."""
    record = stored.record
    if record.before_start is None or record.before_start >= record.start:
        return stored
    return dataclasses.replace(stored, record=dataclasses.replace(
        record, start=record.before_start))


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
        uncertainty=uncertainty, cost_low=c.low, cost_high=c.high, source=record.source,
        reason=record.reason, note=notes.note, ticket=notes.ticket, voided=notes.voided_reason,
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


BusinessHours = Callable[[float, float], list[Span]] | None


def _business(basis: CostBasis, system: str) -> BusinessHours:
    """The business hours of a system: inside the users windows of the groups of people who
    use it (of every group, for one nobody uses), bank holidays excluded; None if no group
    has windows."""
    known = basis.systems.get(system)
    used = {name for name, share in known.shares if share > 0} if known else set()
    calendars = [c for g, c in zip(basis.groups, basis.calendars, strict=True)
                 if (not used or g.name in used) and g.users.windows]
    if not calendars:
        return None

    def spans(start: float, end: float) -> list[Span]:
        return merge(s for c in calendars for s in c.business_spans(start, end))

    return spans


def _system_report(
    system: System, costed: Sequence[_Costed], maintenance: Sequence[Span],
    start: float, stop: float, business_hours: BusinessHours, first_seen: float,
) -> SystemReport:
    down = merge(s for c in costed if c.stored.record.state == "down" for s in c.spans)
    downtime = total(down)
    period = (stop - start) - total(maintenance)
    business = None
    if business_hours is not None:
        open_spans = [piece for a, b in business_hours(start, stop)
                      for piece in subtract((a, b), maintenance)]
        open_hours = total(open_spans)
        lost = total(piece for x in down for y in open_spans if (piece := clip(x, *y)))
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
        cost_low=sum(c.low for c in costed), cost_high=sum(c.high for c in costed),
        sla=system.sla,
        allowed_downtime=(1.0 - system.sla) * period if system.sla is not None else None,
        longest=max(incidents, key=lambda i: i.seconds, default=None),
        most_expensive=max(incidents, key=lambda i: i.cost, default=None),
        windows=lines,
    )


# --- the organisation ----------------------------------------------------------------------------


def _cost_model(config: Config, eras: int, what_if: bool) -> CostModel:
    """The cost model of the configuration, for the report to show its arithmetic."""
    cost = config.cost
    groups = tuple(
        GroupModel(name=g.name, hourly_cost_per_user=g.hourly_cost_per_user,
                   annual_cost_per_user=g.annual_cost_per_user,
                   working_hours_per_year=g.working_hours_per_year,
                   peak_users=calendar.peak_users(), peak_cost_per_hour=calendar.peak_cost_rate(),
                   scheduled=bool(g.users.windows), holidays=g.users.holidays)
        for g in cost.user_groups()
        for calendar in [UsersCalendar(g.users, cost.timezone, g.hourly_cost_per_user)])
    first = groups[0]
    return CostModel(
        currency=cost.currency, timezone=cost.timezone,
        hourly_cost_per_user=first.hourly_cost_per_user,
        annual_cost_per_user=first.annual_cost_per_user,
        working_hours_per_year=first.working_hours_per_year,
        peak_users=first.peak_users, scheduled=any(g.scheduled for g in groups),
        holidays=first.holidays, groups=groups if cost.groups else (),
        peak_cost_per_hour=sum(g.peak_cost_per_hour for g in groups),
        bases=eras, what_if=what_if,
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

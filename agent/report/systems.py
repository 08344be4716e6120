"""One system's part of a report: its windows as lines, its incidents, its availability (24x7
and in business hours) and its money."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.basis import CostBasis
from agent.model import System
from agent.report.model import Incident, SystemReport, WindowLine
from agent.report.windows import Costed, effective_cause, window_span
from agent.spans import Span, clip, merge, subtract, total

_TOUCHING = 1e-6  # seconds: windows this close are one spell (the engine closes one where
# the next opens)


def _line(c: Costed, start: float, stop: float) -> WindowLine:
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


def _incidents(costed: Sequence[Costed]) -> list[Incident]:
    """Spells of touching down and degraded windows that include counted downtime."""
    spells: list[list[Costed]] = []
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


def _spell_end(spell: Sequence[Costed]) -> float | None:
    ends = [c.stored.record.end for c in spell]
    return None if None in ends else max(e for e in ends if e is not None)


BusinessHours = Callable[[float, float], list[Span]] | None


def business_hours_of(basis: CostBasis, system: str) -> BusinessHours:
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


def system_report(
    system: System, costed: Sequence[Costed], maintenance: Sequence[Span],
    start: float, stop: float, business_hours: BusinessHours, first_seen: float,
) -> SystemReport:
    """Given one system's costed windows and planned maintenance inside [start, stop), return
    its part of the report."""
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

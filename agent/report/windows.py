"""What each recorded window counts: its span, its root cause, and its money costed together
with every other window's, as a report costs them.

The report, the API, exports and imports all take a window's figures from here, so they add up
to the same totals; `costing` does the sweep through time.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from agent.basis import basis_of
from agent.ledger import StoredWindow
from agent.maintenance import MaintenanceCalendar
from agent.model import Check, Config, System, TcpProbe
from agent.records import Amounts
from agent.report.costing import Era, Money, Stretch, cost_stretches, eras_in_force
from agent.spans import Span, clip, merge, subtract, total


@dataclass(frozen=True, slots=True)
class Costed:
    """One window's counted stretches and money inside the range (slots: one per window)."""

    stored: StoredWindow
    spans: list[Span]  # counted time: clipped, voids and maintenance removed
    staff: float
    direct: float
    days: dict[str, float]  # cost by local day ("YYYY-MM-DD")
    low: float  # the cost had every window been as short as its probes allow
    high: float  # ... and as long
    measured: float = 0.0  # the part of `staff` costed with measured users (agent.users)


def cost_together(
    windows: Sequence[StoredWindow], config: Config, start: float, stop: float,
    bases: Sequence[Era] = (), planned: Mapping[str, Sequence[Span]] | None = None,
) -> dict[int, tuple[list[Span], Money]]:
    """Given every window overlapping [start, stop), return each one's counted spans and
    money inside it, costed together exactly as a report costs them."""
    eras = eras_in_force(list(bases) or [(start, basis_of(config))], start, stop)
    maintenance = all_maintenance(systems_of(config, windows), windows, planned, start, stop,
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


# --- one window -----------------------------------------------------------------------------------


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


# --- systems and their planned maintenance ------------------------------------------------------


def all_maintenance(
    systems: Mapping[str, System], windows: Sequence[StoredWindow],
    planned: Mapping[str, Sequence[Span]] | None, start: float, stop: float, config: Config,
) -> dict[str, list[Span]]:
    """Each system's merged planned maintenance inside [start, stop). The recorded
    maintenance windows are grouped by system in one pass: a scan of every window per
    system was quadratic (10,000 systems x 100,000 windows, issue 20)."""
    recorded: dict[str, list[Span]] = defaultdict(list)
    for w in windows:
        if w.record.state == "maintenance" and w.annotations.voided_reason is None:
            recorded[w.record.system].append(window_span(w, stop))
    return {name: _maintenance(info, recorded.get(name, ()), (planned or {}).get(name, ()),
                               start, stop, config.cost.timezone)
            for name, info in systems.items()}


def systems_of(config: Config, windows: Iterable[StoredWindow]) -> dict[str, System]:
    """The configured systems, in order, then any the ledger has that are no longer configured."""
    systems = {s.name: s for s in config.systems}
    gone = sorted({w.record.system for w in windows} - set(systems))
    placeholder = Check(spec=TcpProbe(target="-"), timeout=1.0)
    for name in gone:
        systems[name] = System(name=name, check=placeholder,
                               description="(no longer in the configuration)")
    return systems


def _maintenance(
    system: System, recorded: Sequence[Span], planned: Sequence[Span],
    start: float, stop: float, timezone: str,
) -> list[Span]:
    """The merged planned periods of one system inside [start, stop), given its recorded
    maintenance windows' spans."""
    configured = (MaintenanceCalendar(system.maintenance, timezone).periods(start, stop)
                  if system.maintenance else [])
    clipped = [c for s in [*configured, *planned, *recorded] if (c := clip(s, start, stop))]
    return merge(clipped)


# --- money -----------------------------------------------------------------------------------


def _counted_spans(
    stored: StoredWindow, start: float, stop: float, maintenance: Sequence[Span]
) -> list[Span]:
    record = stored.record
    if stored.annotations.voided_reason is not None or record.state not in ("down", "degraded"):
        return []
    whole = clip(window_span(stored, stop), start, stop)
    return subtract(whole, maintenance) if whole else []


def cost_windows(
    windows: Sequence[StoredWindow], start: float, stop: float,
    maintenance: Mapping[str, Sequence[Span]], eras: Sequence[Era], zone: ZoneInfo,
) -> list[Costed]:
    """Every window's money, and its low and high figures: costed again with every window
    as short, and then as long, as the probe times before its ends allow."""
    central = _money(windows, start, stop, maintenance, eras, zone)
    low = _bound(windows, _shortest, central, start, stop, maintenance, eras, zone)
    high = _bound(windows, _longest, central, start, stop, maintenance, eras, zone)
    out = []
    for w in windows:
        spans, money = central[w.id]
        cost = money.staff + money.direct
        out.append(Costed(w, spans, money.staff, money.direct, dict(money.days),
                          low=min(cost, _total(low[w.id][1])),
                          high=max(cost, _total(high[w.id][1])), measured=money.measured))
    return out


def _bound(
    windows: Sequence[StoredWindow], moved: Callable[[StoredWindow], StoredWindow],
    central: dict[int, tuple[list[Span], Money]], start: float, stop: float,
    maintenance: Mapping[str, Sequence[Span]], eras: Sequence[Era], zone: ZoneInfo,
) -> dict[int, tuple[list[Span], Money]]:
    """The money with every window `moved` to an end of what its probes allow; the central
    figures themselves when no window moves (imported history has no probe times), rather
    than the same sweep again."""
    bounded = [moved(w) for w in windows]
    if all(b is w for b, w in zip(bounded, windows, strict=True)):
        return central
    return _money(bounded, start, stop, maintenance, eras, zone)


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

"""Read what a report needs from the ledger: windows, their audit trail, ad-hoc maintenance;
of one site, or of every site sharing the ledger for the organisation's quorum."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

from agent.basis import CostBasis, basis_of
from agent.ledger import Action, Ledger, LedgerError, StoredWindow
from agent.model import Config
from agent.quorum import quorum_windows
from agent.records import Amounts, AuditEntry
from agent.report.build import build_report
from agent.report.model import Report
from agent.report.windows import window_amounts
from agent.spans import Span

ALL_SITES = "all"  # `sites` for the organisation: quorum across every site of the ledger


class NoSuchSite(ValueError):
    """A site the ledger has nothing of."""


@dataclasses.dataclass(frozen=True)
class Source:
    """What a report reads from the ledger, for one site or for the organisation."""

    site: str  # what the report calls it
    windows: list[StoredWindow]
    systems: set[str]  # the systems the ledger has windows of in the range
    audit: list[AuditEntry]
    planned: dict[str, list[Span]]
    first_seen: dict[str, float]
    bases: list[tuple[float, CostBasis]]  # the cost bases recorded, when each came in force


def read_report(
    config: Config, start: float, end: float, as_of: float, system: str | None = None,
    sites: str | None = None, what_if: bool = False, audit: bool = True,
) -> Report:
    """Given a range, return the report from the configured ledger: of the configured site
    (`sites` None), of another site sharing the ledger (its name), or of the organisation
    (ALL_SITES); costed with the bases recorded in the ledger, or (`what_if`) with today's
    configuration throughout; without `audit`, its `changes` are left empty (the audit trail
    is read only for the formats that show it). Raise LedgerError if it cannot be read,
    NoSuchSite for a site it has nothing of, ValueError if `system` is neither configured
    nor in the ledger."""
    ledger = Ledger.of(config.agent)
    if not ledger.exists():
        raise LedgerError(f"no ledger at {ledger.name}: has the agent run with this config?")
    ledger.prepare()  # brings an older ledger's schema up to date
    source = read_source(ledger, start, end, sites, audit)
    known = {s.name for s in config.systems} | source.systems
    if system is not None and system not in known:
        raise ValueError(f"no system named {system!r} in the configuration or the ledger")
    pings = {} if sites is not None else {  # a heartbeat's job's output: evidence
        s.name: ledger.pings(s.name, start, end) for s in config.systems
        if s.check.spec.type == "heartbeat"}
    report = build_report(source.windows, config, start, end, as_of, system=system,
                          audit=source.audit, planned=source.planned,
                          first_seen=source.first_seen, pings=pings,
                          bases=[(start, basis_of(config, ledger.measured()))] if what_if
                          else source.bases, what_if=what_if)  # readings are evidence
    return dataclasses.replace(report, site=source.site)


def read_source(ledger: Ledger, start: float, end: float, sites: str | None,
                audit: bool = True) -> Source:
    """What a report of `sites` (as `read_report` takes it) needs over [start, end); without
    `audit`, no audit trail."""
    if sites is None:
        return _site_source(ledger, start, end, audit)
    if sites == ALL_SITES:
        return _organisation(ledger, start, end)
    check_site(ledger, sites)
    return _site_source(ledger.for_site(sites), start, end, audit)


def check_site(ledger: Ledger, site: str) -> None:
    """Raise NoSuchSite if the ledger has nothing of `site`."""
    names = ledger.sites()
    if site not in names:
        raise NoSuchSite(f"no site named {site!r} in the ledger (it has "
                         f"{', '.join(names) or 'none yet'}; {ALL_SITES!r} for all of them)")


def _site_source(ledger: Ledger, start: float, end: float, audit: bool = True) -> Source:
    windows = ledger.report_windows(start, end)
    return Source(site=ledger.site, windows=windows,
                  systems={w.record.system for w in windows},
                  audit=ledger.audit_trail(w.id for w in windows) if audit else [],
                  planned=adhoc_maintenance(ledger.actions_since(0)),
                  first_seen=ledger.first_seen(), bases=ledger.bases())


def _organisation(ledger: Ledger, start: float, end: float) -> Source:
    """Quorum across every site (agent.quorum), preferring the configured site's cost basis.
    Maintenance is of a system, wherever it was declared: every site's ad-hoc maintenance
    counts. A system was first watched when any site first watched it."""
    names = ledger.sites()
    windows: dict[str, list[StoredWindow]] = {}
    planned: dict[str, list[Span]] = {}
    first_seen: dict[str, float] = {}
    for name in names:
        book = ledger.for_site(name)
        windows[name] = book.report_windows(start, end)
        for system, spans in adhoc_maintenance(book.actions_since(0)).items():
            planned.setdefault(system, []).extend(spans)
        for system, first in book.first_seen().items():
            first_seen[system] = min(first, first_seen.get(system, first))
    quorum = quorum_windows(windows, ledger.watchers(), start, end, prefer=ledger.site)
    return Source(site=f"all sites (quorum of {', '.join(names)})", windows=quorum,
                  systems={w.record.system for found in windows.values() for w in found},
                  audit=[], planned=planned, first_seen=first_seen, bases=ledger.bases())


def organisation_windows(
    config: Config, ledger: Ledger, start: float, end: float, as_of: float
) -> list[StoredWindow]:
    """The organisation's windows overlapping [start, end) (quorum across every site), each
    with the amounts `report --all-sites` gives it inside the range: it has no recorded ones."""
    source = _organisation(ledger, start, end)
    report = build_report(source.windows, config, start, end, as_of, planned=source.planned,
                          first_seen=source.first_seen, bases=source.bases)
    lines = {line.id: line for line in report.windows}
    return [_costed(w, Amounts(cost=lines[w.id].cost, staff=lines[w.id].staff,
                               direct=lines[w.id].direct, downtime=lines[w.id].downtime))
            for w in source.windows]


def costed_windows(
    config: Config, ledger: Ledger, start: float | None, end: float, as_of: float
) -> list[StoredWindow]:
    """Every window of the ledger's site overlapping [start, end) (start None: from the
    first), each with the money and time a report over that range gives it, costed together
    with the bases recorded (the ledger's own figures kept as `recorded`): what the API and
    exports show, so that they add up to the report."""
    windows = ledger.report_windows(-math.inf if start is None else start, end)
    if not windows:
        return []
    first = min(w.record.start for w in windows) if start is None else start
    stop = max(first, min(end, as_of))
    amounts = window_amounts(windows, config, first, stop, ledger.bases(),
                             adhoc_maintenance(ledger.actions_since(0)))
    return [_costed(w, amounts[w.id]) for w in windows]


def _costed(stored: StoredWindow, amounts: Amounts) -> StoredWindow:
    return dataclasses.replace(stored, recorded=stored.record.amounts, record=dataclasses.replace(
        stored.record, amounts=amounts))


def adhoc_maintenance(actions: Iterable[Action]) -> dict[str, list[Span]]:
    """Given the ledger's actions in order, return each system's `outage-agent maintenance`
    periods; `--end` ends the running ones and cancels later ones, as the engine does."""
    periods: dict[str, list[Span]] = {}
    for action in actions:
        mine = periods.setdefault(action.system, [])
        if action.kind == "maintenance" and action.until is not None:
            mine.append((action.at, action.until))
        elif action.kind == "maintenance_end":
            periods[action.system] = [(a, min(b, action.at)) for a, b in mine if a < action.at]
    return periods

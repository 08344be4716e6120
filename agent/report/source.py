"""Read what a report needs from the ledger: windows, their audit trail, ad-hoc maintenance."""

from __future__ import annotations

from collections.abc import Iterable

from agent.ledger import Action, Ledger, LedgerError
from agent.model import Config
from agent.report.build import build_report
from agent.report.model import Report
from agent.spans import Span


def read_report(
    config: Config, start: float, end: float, as_of: float, system: str | None = None
) -> Report:
    """Given a range, return the report from the configured ledger; raise LedgerError if it
    cannot be read, ValueError if `system` is neither configured nor in the ledger."""
    ledger = Ledger(config.agent.ledger, config.agent.site)
    if not ledger.path.exists():
        raise LedgerError(f"no ledger at {ledger.path}: has the agent run with this config?")
    ledger.prepare()  # brings an older ledger's schema up to date
    windows = ledger.report_windows(start, end)
    known = {s.name for s in config.systems} | {w.record.system for w in windows}
    if system is not None and system not in known:
        raise ValueError(f"no system named {system!r} in the configuration or the ledger")
    audit = ledger.audit_trail(w.id for w in windows)
    planned = adhoc_maintenance(ledger.actions_since(0))
    return build_report(windows, config, start, end, as_of, system=system, audit=audit,
                        planned=planned, first_seen=ledger.first_seen())


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

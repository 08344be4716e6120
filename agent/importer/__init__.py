"""`outage-agent import`: downtime windows from a CSV file (a service desk export, say).

Columns `system,start,end` and optionally `state,cause,impact,note,ticket`; ISO 8601 times,
a naive one in cost.timezone. A file with any bad row is refused whole, every problem named
by line and column, and nothing is written (`rows`).

Windows are costed as a report costs them (agent.report.windows.window_amounts): together with
every window of the ledger they overlap, with the cost basis in force at each instant, and
stored as `imported`, with their cost basis; they never touch the live counters (`marginal`).
A cause must be one of the system's dependencies (directly or through others) and be down
(live, imported or in the file) over the whole window; without one, the system's `depends_on`
and its dependencies' windows decide the cause of each part, as live (`causes`). `planner`
decides, in one transaction, what is written: a window imported twice is stored once, the
overlapping windows of a system merge, and a live window keeps its figures.
"""

from __future__ import annotations

from pathlib import Path

from agent.importer.planner import ImportResult, Planner
from agent.importer.rows import ImportRefused, read_rows
from agent.ledger import Ledger
from agent.model import Config
from agent.report.source import adhoc_maintenance

__all__ = ["ImportRefused", "ImportResult", "import_file"]


def import_file(config: Config, path: Path, who: str, now: float,
                dry_run: bool = False) -> ImportResult:
    """Given a CSV file, import its windows into the configured ledger in one transaction;
    return what happened. Raise ImportRefused for a bad file (nothing is written), LedgerError
    if the ledger cannot be written."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused([f"{path.name}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})"]) from None
    except OSError as exc:
        raise ImportRefused([f"{path}: {exc.strerror}"]) from None
    rows = read_rows(text, path.name, config, now)
    if not rows:
        return ImportResult()
    ledger = Ledger.of(config.agent)
    ledger.prepare()
    planner = Planner(rows, config, path.name, adhoc_maintenance(ledger.actions_since(0)))
    span = (min(r.start for r in rows), max(r.end for r in rows))
    ledger.import_windows(span, {r.system for r in rows}, planner, who, now,
                          basis=planner.basis, dry_run=dry_run)
    return planner.result

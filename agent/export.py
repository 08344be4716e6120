"""`outage-agent export`: every window and the audit trail, as CSV or JSON, for people who
keep their own records (a data warehouse, a spreadsheet for the auditors)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from agent.ledger import Ledger, StoredWindow
from agent.loss import round_to_total
from agent.model import Config
from agent.records import AuditEntry
from agent.report.csv import LINE_END, cell
from agent.report.json import item
from agent.report.model import to_pennies
from agent.report.source import costed_windows
from agent.text import iso


def windows_json(found: list[StoredWindow], now: float,
                 shape: Callable[[StoredWindow, float], dict[str, Any]] | None = None,
                 ) -> list[dict[str, Any]]:
    """Windows as the API or an export lists them, their money to the penny so that the
    list adds up to its exact total rounded once (what a report of the range says): costs
    rounded to add up, direct costs each, staff time the difference."""
    return list(window_rows(found, now, shape))


def window_rows(found: Sequence[StoredWindow], now: float,
                shape: Callable[[StoredWindow, float], dict[str, Any]] | None = None,
                ) -> Iterator[dict[str, Any]]:
    """`windows_json`'s rows one at a time: only the costs are worked out for all at once
    (their rounding adds up over the whole list), so an export never holds every row."""
    costs = round_to_total([w.record.amounts.cost for w in found])
    for w, cost in zip(found, costs, strict=True):
        row = (shape or window_json)(w, now)
        shown = to_pennies(cost, w.record.amounts.direct, cost, cost)
        row.update(cost=shown.cost, staff_cost=shown.staff, direct_cost=shown.direct)
        yield row


def window_json(stored: StoredWindow, now: float) -> dict[str, Any]:
    """A window as the API (`/api/v1/outages`) and exports show it (`windows_json` sets its
    money to the penny)."""
    w = stored.record
    end = w.end if w.end is not None else max(now, w.start)  # a wall clock behind: 0, not < 0
    uncertainty = (w.start - w.before_start if w.before_start is not None else 0.0) + (
        (w.end - w.before_end) if w.end is not None and w.before_end is not None else 0.0)
    return {
        "id": stored.id, "system": w.system, "state": w.state, "cause": w.cause,
        "start": iso(w.start), "end": iso(w.end), "duration_seconds": round(end - w.start, 3),
        "cost": round(w.amounts.cost, 2), "staff_cost": round(w.amounts.staff, 2),
        "direct_cost": round(w.amounts.direct, 2),
        "recorded_cost": round((stored.recorded or w.amounts).cost, 2),
        "downtime_seconds": round(w.amounts.downtime, 3),
        "uncertainty_seconds": round(uncertainty, 3), "source": w.source, "reason": w.reason,
        # what people added afterwards (`outage-agent annotate | void`); a voided window is
        # a false alarm: it stays listed, and reports and availability do not count it
        "voided_reason": stored.annotations.voided_reason, "note": stored.annotations.note,
        "ticket": stored.annotations.ticket, "corrected_cause": stored.annotations.cause,
    }


def window_export(stored: StoredWindow, now: float) -> dict[str, Any]:
    """The API's fields plus the raw evidence: probe times at both ends and the cost basis."""
    w, b = stored.record, stored.record.basis
    return {
        **window_json(stored, now),
        "last_good_before_start": iso(w.before_start), "last_bad_before_end": iso(w.before_end),
        "degraded_seconds": round(w.amounts.degraded, 3),
        "hourly_cost_per_user": b.hourly_cost_per_user, "users_at_start": b.users_at_start,
        "users_share": b.users_share, "impact": b.impact,
        "direct_cost_per_hour": b.direct_cost_per_hour,
    }


AUDIT_FIELDS = ("window_id", "system", "at", "who", "field", "before", "after")
# An export's CSV columns: window_export's keys (DictWriter refuses a row with any other),
# written as the header even when there are no rows.
CSV_FIELDS = {
    "windows": (
        "id", "system", "state", "cause", "start", "end", "duration_seconds", "cost",
        "staff_cost", "direct_cost", "recorded_cost", "downtime_seconds", "uncertainty_seconds",
        "source", "reason", "voided_reason", "note", "ticket", "corrected_cause",
        "last_good_before_start", "last_bad_before_end", "degraded_seconds",
        "hourly_cost_per_user", "users_at_start", "users_share", "impact",
        "direct_cost_per_hour"),
    "audit": AUDIT_FIELDS,
}


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    values = {**dataclasses.asdict(entry), "at": iso(entry.at)}
    return {name: values[name] for name in AUDIT_FIELDS}


def export(config: Config, ledger: Ledger, what: str, fmt: str, now: float
           ) -> Iterator[str]:
    """Return the windows (`what` = windows), the audit trail (audit) or both (all, JSON), as
    pieces of the document to write as they are made. Each window's money is what a report
    from the first window to now gives it (so the export adds up to the report);
    `recorded_cost` is the ledger's own figure. The ledger is read (and raises LedgerError)
    before the first piece; each row is formatted only as it is written."""
    tables: dict[str, Iterable[dict[str, Any]]] = {}
    if what in ("windows", "all"):
        found = costed_windows(config, ledger, None, math.inf, now)
        tables["windows"] = window_rows(found, now, window_export)
    if what in ("audit", "all"):
        tables["audit"] = (audit_json(entry) for entry in ledger.audit_trail())
    if fmt == "csv":
        return _csv(tables[what], CSV_FIELDS[what])
    if what != "all":
        return _json_list(tables[what], 0)
    return _json_object(tables)


def _json_list(rows: Iterable[dict[str, Any]], depth: int) -> Iterator[str]:
    """A list of flat rows as `json.dumps(rows, indent=1, ensure_ascii=False)` writes it at
    `depth`, a row at a time: one JSON array, as before, never JSON Lines."""
    empty = True
    yield "["
    for row in rows:
        yield ("" if empty else ",") + item(row, depth + 1, indent=1)
        empty = False
    yield "]" if empty else "\n" + " " * depth + "]"


def _json_object(tables: dict[str, Iterable[dict[str, Any]]]) -> Iterator[str]:
    """{"windows": [...], "audit": [...]} as `json.dumps(..., indent=1)` writes it."""
    yield "{"
    for k, (name, rows) in enumerate(tables.items()):
        yield ("," if k else "") + f"\n {json.dumps(name)}: "
        yield from _json_list(rows, 1)
    yield "\n}"


def _csv(rows: Iterable[dict[str, Any]], fields: Sequence[str], batch: int = 1000,
         ) -> Iterator[str]:
    """Rows as CSV under a header of `fields` (written for no rows too, so an empty trail
    still says what its columns are), as the report's CSV: free text neutralised
    (`=HYPERLINK(...)` is shown by a spreadsheet, not run) and rows ending CRLF, so a field
    with a line break is quoted; `batch` rows at a time."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator=LINE_END)
    writer.writeheader()
    for k, row in enumerate(rows, 1):
        writer.writerow({key: cell(value) for key, value in row.items()})
        if k % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()

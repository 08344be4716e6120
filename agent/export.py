"""`outage-agent export`: every window and the audit trail, as CSV or JSON, for people who
keep their own records (a data warehouse, a spreadsheet for the auditors)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from agent.ledger import Ledger, StoredWindow
from agent.loss import round_to_total
from agent.model import Config
from agent.records import AuditEntry
from agent.report.csv import LINE_END, cell
from agent.report.model import to_pennies
from agent.report.source import costed_windows
from agent.text import iso


def windows_json(found: list[StoredWindow], now: float,
                 shape: Callable[[StoredWindow, float], dict[str, Any]] | None = None,
                 ) -> list[dict[str, Any]]:
    """Windows as the API or an export lists them, their money to the penny so that the
    list adds up to its exact total rounded once (what a report of the range says): costs
    rounded to add up, direct costs each, staff time the difference."""
    rows = [(shape or window_json)(w, now) for w in found]
    costs = round_to_total([w.record.amounts.cost for w in found])
    for row, w, cost in zip(rows, found, costs, strict=True):
        shown = to_pennies(cost, w.record.amounts.direct, cost, cost)
        row.update(cost=shown.cost, staff_cost=shown.staff, direct_cost=shown.direct)
    return rows


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


def export(config: Config, ledger: Ledger, what: str, fmt: str, now: float) -> str:
    """Return the windows (`what` = windows), the audit trail (audit) or both (all, JSON).
    Each window's money is what a report from the first window to now gives it (so the
    export adds up to the report); `recorded_cost` is the ledger's own figure."""
    data: dict[str, list[dict[str, Any]]] = {}
    if what in ("windows", "all"):
        data["windows"] = windows_json(costed_windows(config, ledger, None, math.inf, now),
                                       now, window_export)
    if what in ("audit", "all"):
        data["audit"] = [audit_json(entry) for entry in ledger.audit_trail()]
    if fmt == "json":
        return json.dumps(data if what == "all" else data[what], indent=1, ensure_ascii=False)
    return _csv(data[what], CSV_FIELDS[what])


def _csv(rows: list[dict[str, Any]], fields: Sequence[str]) -> str:
    """Rows as CSV under a header of `fields` (written for no rows too, so an empty trail
    still says what its columns are), as the report's CSV: free text neutralised
    (`=HYPERLINK(...)` is shown by a spreadsheet, not run) and rows ending CRLF, so a field
    with a line break is quoted."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator=LINE_END)
    writer.writeheader()
    writer.writerows({key: cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()

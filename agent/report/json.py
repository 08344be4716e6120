"""The report as JSON, for other programs: the organisation's figures and each system's."""

from __future__ import annotations

import json
from typing import Any

from agent.report.model import Pennies, Report, SystemReport, WindowLine
from agent.text import iso


def render(report: Report) -> str:
    """Given a report, return {"site", "from", "to", "currency", "total_cost",
    "total_cost_low", "total_cost_high", "total_downtime_seconds", "basis", "systems": [...]},
    each system with its "windows"; money rounded to 2 places (a system's so that they add up
    to the totals), availability a fraction (null when no time was counted), sla_met null for
    a system without an SLA."""
    shown, total, lines = report.pennies(), report.total_pennies(), report.window_pennies()
    document = {
        "site": report.site, "from": iso(report.start), "to": iso(report.end),
        "currency": report.currency,
        "total_cost": total.cost, "total_cost_low": total.low, "total_cost_high": total.high,
        "total_downtime_seconds": round(report.downtime, 3),
        "basis": "current" if report.model.what_if else "recorded",
        "systems": [system(s, shown[s.name], lines) for s in report.systems],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def system(s: SystemReport, shown: Pennies, lines: dict[int, Pennies]) -> dict[str, Any]:
    """A system's figures, its money as the other formats show it (adding up to the total,
    and its windows' to its own)."""
    return {
        "system": s.name, "incidents": s.incidents, "downtime_seconds": round(s.downtime, 3),
        "availability": None if s.availability is None else round(s.availability, 6),
        "cost": shown.cost, "cost_low": shown.low, "cost_high": shown.high,
        "staff_cost": shown.staff,
        "direct_cost": shown.direct, "sla_met": s.sla_met,
        "windows": [window(w, lines[w.id]) for w in s.windows],
    }


WINDOW_FIELDS = (  # a window's fields in the JSON report, and the CSV's columns in order
    "id", "system", "state", "cause", "start", "end", "downtime_seconds", "staff_cost",
    "direct_cost", "cost", "recorded_cost", "uncertainty_seconds", "source", "voided_reason",
    "ticket", "note", "reason", "cost_low", "cost_high",
)


def window(w: WindowLine, shown: Pennies) -> dict[str, Any]:
    """One window as the report counts it: start and end as recorded (end null while open),
    the figures for the part inside the range (to the penny, as `Report.window_pennies`),
    and the ledger's own for the whole window."""
    return dict(zip(WINDOW_FIELDS, (
        w.id, w.system, w.state, w.cause, iso(w.start), iso(w.end), round(w.downtime, 3),
        shown.staff, shown.direct, shown.cost, round(w.recorded_cost, 2),
        round(w.uncertainty, 3), w.source, w.voided, w.ticket, w.note, w.reason,
        shown.low, shown.high,
    ), strict=True))

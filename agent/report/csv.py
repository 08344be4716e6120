"""The report as CSV: one row per window, for a spreadsheet or another tool."""

from __future__ import annotations

import csv
import io

from agent.report.model import Report, WindowLine
from agent.text import iso

COLUMNS = (
    "id", "system", "state", "cause", "start", "end", "downtime_seconds", "staff_cost",
    "direct_cost", "cost", "recorded_cost", "uncertainty_seconds", "source", "voided_reason",
    "ticket", "note", "reason",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so


def render(report: Report) -> str:
    """Given a report, return one CSV row per window (start and end as recorded, in UTC; the
    figures for the part inside the report's range)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(row(w) for w in report.windows)
    return out.getvalue()


def row(w: WindowLine) -> tuple[object, ...]:
    return (
        w.id, w.system, w.state, text(w.cause), iso(w.start), iso(w.end) or "",
        round(w.downtime, 3), round(w.staff, 2), round(w.direct, 2), round(w.cost, 2),
        round(w.recorded_cost, 2), round(w.uncertainty, 3), w.source, text(w.voided),
        text(w.ticket), text(w.note), text(w.reason),
    )


def text(value: str | None) -> str:
    """Free text as a cell a spreadsheet shows rather than evaluates."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA) else value

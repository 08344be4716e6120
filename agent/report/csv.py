"""The report as CSV: one row per window, for a spreadsheet or another tool."""

from __future__ import annotations

import csv
import io

from agent.report.json import WINDOW_FIELDS, window
from agent.report.model import Report

_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so


def render(report: Report) -> str:
    """Given a report, return one CSV row per window (start and end as recorded, in UTC; the
    figures for the part inside the report's range)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(WINDOW_FIELDS)
    shown = report.window_pennies()
    writer.writerows([cell(value) for value in window(w, shown[w.id]).values()]
                     for w in report.windows)
    return out.getvalue()


def cell(value: object) -> object:
    """A field as a cell: nothing for null, free text as a spreadsheet shows it rather than
    evaluates it."""
    return text(value) if isinstance(value, str) or value is None else value


def text(value: str | None) -> str:
    """Free text as a cell a spreadsheet shows rather than evaluates."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA) else value

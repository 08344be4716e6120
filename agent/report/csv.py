"""The report as CSV: one row per window, for a spreadsheet or another tool."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from agent.report.json import WINDOW_FIELDS, window
from agent.report.model import Report

_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")  # a spreadsheet may run a cell starting so
# RFC 4180's CRLF ends each row. csv.writer quotes a field that holds the delimiter, the
# quote or any character of its lineterminator: with CRLF, every field holding a CR or a LF
# is quoted. With "\n" alone a CR went out unquoted, and a reader started a new row at it
# (a ticket "\r=1+2" became a row whose first cell was the formula =1+2).
LINE_END = "\r\n"


def render(report: Report) -> str:
    """Given a report, return one CSV row per window (start and end as recorded, in UTC; the
    figures for the part inside the report's range)."""
    return "".join(chunks(report))


def chunks(report: Report, rows: int = 1000) -> Iterator[str]:
    """The text `render` returns, `rows` windows at a time, so a year of 100,000 windows is
    written as it is formatted rather than held whole."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=LINE_END)
    writer.writerow(WINDOW_FIELDS)
    shown = report.window_pennies()
    for k, w in enumerate(report.windows, 1):
        writer.writerow([cell(value) for value in window(w, shown[w.id]).values()])
        if k % rows == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def cell(value: object) -> object:
    """A field as a cell: nothing for null, free text as a spreadsheet shows it rather than
    evaluates it."""
    return text(value) if isinstance(value, str) or value is None else value


def text(value: str | None) -> str:
    """Free text as a cell a spreadsheet shows rather than evaluates."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA) else value

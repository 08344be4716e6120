"""The report as Markdown: for a ticket, an email or a wiki page."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.report import summary, words
from agent.report.model import Report, SystemReport, WindowLine
from agent.report.summary import Shown
from agent.text import money

_ESCAPES = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]", "|": "\\|", "<": "&lt;",
                          ">": "&gt;", "&": "&amp;"})
_SCRIPT_SCHEME = re.compile(r"(?i)\b((?:java|vb)script\s*):")


def render(report: Report) -> str:
    """Given a report, return it as Markdown: summarised past `summary.WINDOW_LIMIT`
    windows, saying so."""
    view = summary.shown(report)
    note = words.summary_note(report, view)
    parts = [
        f"# {cell(words.title(report))}",
        cell(words.as_of_text(report)),
        f"> **{words.ESTIMATE}**",
        f"> {cell(note)}" if note else "",
        _totals(report),
        "## Method\n\n" + "\n".join(f"- {cell(line)}" for line in words.method(report)),
        _systems(report, view),
        *(_group(report, label, view) for label in ("supplier", "owner", "tier")),
        *(_system(report, s, view) for s in view.systems),
        _days(report),
        _maintenance(report, view),
        _changes(report, view),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def cell(text: object) -> str:
    """Text as inert Markdown on one line, for a table cell or a line of prose: `<`, `>`
    and `&` as entities (no raw HTML), `[`, `]`, `|` and `\\` backslash-escaped (no links,
    images or extra columns), and the colon of a `javascript:` or `vbscript:` escaped too,
    so no renderer makes a link of it."""
    flat = " ".join(str(text).split()).translate(_ESCAPES)
    return _SCRIPT_SCHEME.sub(r"\1\\:", flat)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _totals(report: Report) -> str:
    return "## Organisation totals\n\n" + table(("", ""), words.totals(report))


def _systems(report: Report, view: Shown) -> str:
    shown = report.pennies()
    rows = [[*words.system_cells(s, shown[s.name], report.currency), words.sla_text(s)]
            for s in view.systems]
    heading = (f"## Systems: the {len(view.systems)} that cost most" if view.summarised
               else "## Systems")
    return f"{heading}\n\n" + table(words.SYSTEM_COLUMNS, rows)


def _group(report: Report, label: str, view: Shown) -> str:
    groups = report.grouped(label)
    if not groups:
        return ""
    if view.summarised:  # a total per value: its systems are too many to list
        rows = [[value, *words.group_total_cells(report, members)] for value, members in groups]
        return f"## By {label}\n\n" + table((label.capitalize(), *words.GROUP_TOTAL_COLUMNS),
                                              rows)
    sections = [f"## By {label}"]
    for value, members in groups:
        rows = [[*words.group_cells(s), _verdict(s), money(s.cost, report.currency)]
                for s in members]
        sections.append(f"### {label.capitalize()}: {cell(value)}\n\n"
                        + table(words.GROUP_COLUMNS, rows))
    return "\n\n".join(sections)


def _verdict(s: SystemReport) -> str:
    return {True: "met", False: "**BREACHED**", None: ""}[s.sla_met]


def _system(report: Report, s: SystemReport, view: Shown) -> str:
    labels = words.labels(s)
    facts = words.facts(s, report)
    head = f"### {cell(s.name)}"
    if s.description:
        head += f"\n\n{cell(s.description)}"
    if labels:
        head += "\n\n" + " · ".join(cell(label) for label in labels)
    listed = [w for w in s.windows if view.lists(w)]
    body = head + "\n\n" + "\n".join(f"- {cell(fact)}" for fact in facts)
    if listed:
        body += "\n\n" + _windows(report, listed)
    return body


def _windows(report: Report, lines: Sequence[WindowLine]) -> str:
    rows = []
    shown = report.window_pennies()
    for w in lines:
        row = words.window_cells(w, shown[w.id], report)
        if w.voided is not None:
            row = [f"~~{c}~~" if c else c for c in row]  # table() escapes the text
        notes = "; ".join(filter(None, [words.notes_text(w), words.evidence_text(w, report)]))
        rows.append([*row, notes])
    return table(words.WINDOW_COLUMNS, rows)


def _days(report: Report) -> str:
    rows = [(day, money(cost, report.currency)) for day, cost in report.days if cost > 0]
    if not rows:
        return ""
    return "## Cost per day\n\n" + table(("Day", "Cost"), rows)


def _maintenance(report: Report, view: Shown) -> str:
    rows = words.maintenance_rows(report, view)
    if not rows:
        return ""
    return "## Planned maintenance excluded\n\n" + table(words.MAINTENANCE_COLUMNS, rows)


def _changes(report: Report, view: Shown) -> str:
    rows = words.change_rows(report, view)
    if not rows:
        return ""
    return "## Corrections (audit trail)\n\n" + table(words.CHANGE_COLUMNS, rows)

"""The report as JSON, for other programs: the organisation's figures and each system's."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

from agent.report.model import Pennies, Report, SystemReport, WindowLine
from agent.text import iso


def render(report: Report) -> str:
    """Given a report, return {"site", "from", "to", "currency", "total_cost",
    "total_cost_low", "total_cost_high", "total_downtime_seconds", "basis", "systems": [...]},
    each system with its "windows"; money rounded to 2 places (a system's so that they add up
    to the totals), availability a fraction (null when no time was counted), sla_met null for
    a system without an SLA."""
    return "".join(chunks(report))


def chunks(report: Report) -> Iterator[str]:
    """The document `render` returns, a system at a time: the text of
    `json.dumps(document, indent=2)`, written by the C encoder one flat object at a time
    instead of the pure-Python indenting encoder over one tree of every window (a year of
    10,000 systems was 13 s of encoding and a dictionary per window held at once)."""
    shown, total, lines = report.pennies(), report.total_pennies(), report.window_pennies()
    head = {
        "site": report.site, "from": iso(report.start), "to": iso(report.end),
        "currency": report.currency,
        "total_cost": total.cost, "total_cost_low": total.low, "total_cost_high": total.high,
        "total_downtime_seconds": round(report.downtime, 3),
        "basis": "current" if report.model.what_if else "recorded",
        "measured_share": (None if report.model.measured_share is None
                           else round(report.model.measured_share, 6)),
    }
    yield "{\n" + members(head, 1) + ',\n  "systems": ['
    for k, s in enumerate(report.systems):
        windows = [item({**window(w, lines[w.id]), "evidence": evidence(w)}, 4) if not
                   w.evidence else nested({**window(w, lines[w.id]), "evidence": evidence(w)}, 4)
                   for w in s.windows]
        listed = "[" + ",".join(windows) + "\n      ]" if windows else "[]"
        yield ("," if k else "") + "\n    {\n" + members(system(s, shown[s.name]), 3) + (
            f',\n      "windows": {listed}\n    }}')
    yield "\n  ]\n}\n" if report.systems else "]\n}\n"


def members(values: Mapping[str, Any], depth: int, indent: int = 2) -> str:
    """A flat object's members (scalar values) as `json.dumps(..., indent=indent,
    ensure_ascii=False)` writes them at `depth`."""
    pad = " " * indent * depth
    return pad + json.dumps(values, ensure_ascii=False, separators=(",\n" + pad, ": "))[1:-1]


def item(values: Mapping[str, Any], depth: int, indent: int = 2) -> str:
    """A flat object as an item of a list at `depth`, as `json.dumps(..., indent=indent)`
    writes it, with the line break before it."""
    pad = " " * indent * depth
    return f"\n{pad}{{\n{members(values, depth + 1, indent)}\n{pad}}}"


def nested(values: Mapping[str, Any], depth: int, indent: int = 2) -> str:
    """`item` for an object with lists of objects in it (a window with its evidence: few),
    by the indenting encoder."""
    text = json.dumps(values, indent=indent, ensure_ascii=False)
    return "\n" + textwrap.indent(text, " " * indent * depth)


def system(s: SystemReport, shown: Pennies) -> dict[str, Any]:
    """A system's figures but its windows, its money as the other formats show it (adding
    up to the total, and its windows' to its own)."""
    return {
        "system": s.name, "incidents": s.incidents, "downtime_seconds": round(s.downtime, 3),
        "availability": None if s.availability is None else round(s.availability, 6),
        "cost": shown.cost, "cost_low": shown.low, "cost_high": shown.high,
        "staff_cost": shown.staff,
        "direct_cost": shown.direct, "sla_met": s.sla_met,
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


def evidence(w: WindowLine) -> list[dict[str, Any]]:
    """What shows why the window was recorded: a service's members' windows that overlap
    it, a heartbeat's pings with their bodies (docs/services.md, docs/heartbeats.md)."""
    return [{"system": e.system, "state": e.state, "start": iso(e.start), "end": iso(e.end),
             "text": e.text} for e in w.evidence]

"""The report as Markdown: for a ticket, an email or a wiki page."""

from __future__ import annotations

from collections.abc import Sequence

from agent.report import words
from agent.report.model import Report, SystemReport, WindowLine
from agent.text import duration, money


def render(report: Report) -> str:
    """Given a report, return it as Markdown."""
    parts = [
        f"# {words.title(report)}",
        words.as_of_text(report),
        f"> **{words.ESTIMATE}**",
        _totals(report),
        "## Method\n\n" + "\n".join(f"- {line}" for line in words.method(report)),
        _systems(report),
        *(_group(report, label) for label in ("supplier", "owner", "tier")),
        *(_system(report, s) for s in report.systems),
        _days(report),
        _maintenance(report),
        _changes(report),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def cell(text: object) -> str:
    """A table cell: pipes escaped, on one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _totals(report: Report) -> str:
    currency = report.currency
    rows = [
        ("Estimated cost", f"{money(report.cost, currency)} (staff time "
                           f"{money(report.staff, currency)}, direct costs "
                           f"{money(report.direct, currency)})"),
        ("Downtime", f"{duration(report.downtime)} in "
                     f"{words.plural(report.incidents, 'incident')}"),
        ("Hourly cost of a full outage", words.full_outage(report.model)),
        ("Cost of an hour of one person's time", words.hourly_derivation(report.model)),
    ]
    return "## Organisation totals\n\n" + table(("", ""), rows)


def _systems(report: Report) -> str:
    currency = report.currency
    rows = [
        (s.name, s.incidents, words.downtime_text(s), words.percent(s.availability),
         words.percent(s.business_availability), money(s.staff, currency),
         money(s.direct, currency), money(s.cost, currency), words.sla_text(s))
        for s in report.systems
    ]
    header = ("System", "Incidents", "Downtime", "Availability 24x7", "Business hours",
              "Staff time", "Direct", "Cost", "SLA")
    return "## Systems\n\n" + table(header, rows)


def _group(report: Report, label: str) -> str:
    groups = [g for g in report.groups if g.label == label]
    if not groups:
        return ""
    by_name = {s.name: s for s in report.systems}
    sections = [f"## By {label}"]
    for group in groups:
        members = [by_name[name] for name in group.systems]
        rows = [(s.name, words.percent(s.sla) if s.sla is not None else "none",
                 duration(s.allowed_downtime) if s.allowed_downtime is not None else "",
                 words.downtime_text(s), words.percent(s.availability),
                 _verdict(s), money(s.cost, report.currency)) for s in members]
        header = ("System", "SLA", "Allowed downtime", "Actual downtime", "Availability",
                  "Result", "Cost")
        sections.append(f"### {label.capitalize()}: {cell(group.value)}\n\n"
                        + table(header, rows))
    return "\n\n".join(sections)


def _verdict(s: SystemReport) -> str:
    return {True: "met", False: "**BREACHED**", None: ""}[s.sla_met]


def _system(report: Report, s: SystemReport) -> str:
    labels = [f"{name}: {value}" for name, value in
              (("Owner", s.owner), ("Supplier", s.supplier), ("Tier", s.tier)) if value]
    facts = [
        f"Downtime {words.incidents_text(s)}; availability "
        f"{words.percent(s.availability)} 24x7, {words.percent(s.business_availability)} "
        "in business hours",
        f"Cost {money(s.cost, report.currency)}: staff time {money(s.staff, report.currency)}, "
        f"direct costs {money(s.direct, report.currency)}",
        f"SLA: {words.sla_text(s)}",
        f"Longest incident: {words.incident_text(s.longest, report)}",
        f"Most expensive incident: {words.incident_text(s.most_expensive, report)}",
    ]
    if s.maintenance:
        facts.append(f"Planned maintenance excluded: {duration(s.maintenance)}")
    if s.unobserved:
        facts.append(f"Not watched (before the agent first saw it, or while it was not "
                     f"running; counted as up): {duration(s.unobserved)}")
    head = f"### {cell(s.name)}"
    if s.description:
        head += f"\n\n{cell(s.description)}"
    if labels:
        head += "\n\n" + " · ".join(cell(label) for label in labels)
    listed = [w for w in s.windows if w.state != "unknown"]
    body = head + "\n\n" + "\n".join(f"- {fact}" for fact in facts)
    if listed:
        body += "\n\n" + _windows(report, listed)
    return body


def _windows(report: Report, lines: Sequence[WindowLine]) -> str:
    rows = []
    for w in lines:
        row = [str(w.id), words.when(w.start, report),
               words.when(w.end, report) if w.end is not None else "open", w.state,
               w.cause or "", *words.window_figures(w, report.currency)]
        if w.voided is not None:
            row = [f"~~{cell(c)}~~" if c else c for c in row]
        rows.append([*row, words.notes_text(w)])
    header = ("#", "Start", "End", "State", "Cause", "Downtime", "Cost", "Notes")
    return table(header, rows)


def _days(report: Report) -> str:
    rows = [(day, money(cost, report.currency)) for day, cost in report.days if cost > 0]
    if not rows:
        return ""
    return "## Cost per day\n\n" + table(("Day", "Cost"), rows)


def _maintenance(report: Report) -> str:
    if not report.maintenance:
        return ""
    rows = [(p.system, words.when(p.start, report), words.when(p.end, report),
             duration(p.end - p.start)) for p in report.maintenance]
    return "## Planned maintenance excluded\n\n" + table(("System", "From", "To", "Length"),
                                                          rows)


def _changes(report: Report) -> str:
    if not report.changes:
        return ""
    rows = [(words.when(c.at, report), c.who, c.window_id, c.system, c.field,
             words.change_text(c.before), words.change_text(c.after)) for c in report.changes]
    header = ("When", "Who", "Window", "System", "Change", "Before", "After")
    return "## Corrections (audit trail)\n\n" + table(header, rows)

"""The sentences a report says, shared by the Markdown and HTML renderers so they agree.

Money, durations and times come from `agent.text`; this module only puts them into words.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

from agent.report.model import CostModel, Incident, Pennies, Report, SystemReport, WindowLine
from agent.report.summary import Shown
from agent.text import duration, local, money, plural

TIMES = "\N{MULTIPLICATION SIGN}"
DIVIDED = "\N{DIVISION SIGN}"

ESTIMATE = (
    "Money in this report is an estimate of productivity cost: the staff time lost to outages, "
    "worked out from the number of people affected and what an hour of their time costs, plus "
    "any direct costs configured per system. It is not a measured or invoiced loss."
)


def count(value: float) -> str:
    """A count or amount with thousands separators, without ".00" when it is whole."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def percent(fraction: float | None) -> str:
    """99.863%, rounded down so that anything short of 100% never reads as 100%."""
    if fraction is None:
        return "n/a"
    if fraction >= 1:
        return "100%"
    figure = f"{math.floor(max(fraction, 0.0) * 100_000) / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{figure}%"


def when(t: float, report: Report) -> str:
    return local(t, report.model.timezone)


def span_text(report: Report) -> str:
    """"2026-11-01 to 2026-11-30" for whole days, else the two local times (end exclusive)."""
    zone = ZoneInfo(report.model.timezone)
    first = dt.datetime.fromtimestamp(report.start, zone)
    after = dt.datetime.fromtimestamp(report.end, zone)
    if first.time() == dt.time() and after.time() == dt.time():
        last = (after.date() - dt.timedelta(days=1)).isoformat()
        return f"{first.date().isoformat()} to {last}"
    return f"{when(report.start, report)} to {when(report.end, report)} (exclusive)"


def title(report: Report) -> str:
    site = f" at {report.site}" if report.site else ""
    return f"Outage report{site}: {span_text(report)}"


def as_of_text(report: Report) -> str:
    text = f"Times in {report.model.timezone}. Figures as of {when(report.as_of, report)}"
    if report.as_of < report.end:
        text += "; the range runs past that, so availability is measured up to it"
    return text + "."


def hourly_derivation(model: CostModel) -> str:
    """How an hour of one person's time was costed."""
    hourly = money(model.hourly_cost_per_user, model.currency)
    if model.annual_cost_per_user is None:
        return f"{hourly} per user-hour, as configured"
    annual = money(model.annual_cost_per_user, model.currency, pence=False)
    return (f"{annual} a year {DIVIDED} {count(model.working_hours_per_year)} working hours = "
            f"{hourly} per user-hour")


def full_outage(model: CostModel) -> str:
    """The hourly cost of a full outage and how it was derived, as the council put it."""
    if model.groups:
        parts = [f"{g.name} {_measured(g.measured, g.source_max)}{count(g.peak_users)} users, "
                 f"{money(g.peak_cost_per_hour, model.currency)}" for g in model.groups]
        total = money(model.full_outage_per_hour, model.currency)
        unbounded = any(g.measured and g.source_max is None for g in model.groups)
        return (f"{'; '.join(parts)}: {total} per hour at the most"
                + (", more as measured" if unbounded else ""))
    users = f"{_measured(model.measured, model.source_max)}{count(model.peak_users)} users"
    if model.measured and model.source_max is not None:
        users += f" (measured, up to the source's max of {count(model.source_max)})"
    elif model.scheduled:
        users += " (the most at once in the users schedule)"
    per_hour = money(model.full_outage_per_hour, model.currency)
    if model.annual_cost_per_user is None:
        rate = money(model.hourly_cost_per_user, model.currency)
        return f"{users} {TIMES} {rate} per user-hour = {per_hour} per hour"
    annual = money(model.annual_cost_per_user, model.currency, pence=False)
    hours = count(model.working_hours_per_year)
    return (f"{users} {TIMES} {annual} a year {DIVIDED} {hours} working hours "
            f"= {per_hour} per hour")


def _measured(measured: bool, most: float | None) -> str:
    """Where users are measured without a max, the peak is as measured: say so."""
    return "as measured (no max), at the fallback's peak " if measured and most is None else ""


def method(report: Report) -> list[str]:
    """The method, as a list of statements a reader can check the figures against."""
    model = report.model
    schedule = "the users schedule" if model.scheduled else "the configured number of users"
    if model.measured_share is not None:  # readings were in force: they come first
        schedule = f"the readings of the users source, else {schedule}"
    holidays = f", bank holidays {model.holidays}" if model.holidays else ""
    excluded = f" ({holidays[2:]} excluded)" if holidays else ""
    business = (
        "In business hours: the same, counting only time inside the users windows of the "
        f"groups of people using the system{excluded}." if model.scheduled else
        "Business-hours availability needs a users schedule with windows; none is configured."
    )
    people = (f"the groups of people ({', '.join(g.name for g in model.groups)}), each with "
              "its own users and hourly cost" if model.groups else
              f"everyone, U(t) the concurrent users at that moment from {schedule} "
              f"({model.timezone}{holidays}), at {hourly_derivation(model)}")
    return [
        f"Staff time, for {people}: while systems are down, each group loses L = 1 - the "
        f"product of (1 - share {TIMES} impact) of its time, over every system down or "
        f"degraded at that moment (degraded_impact while degraded; a system down behind a "
        f"dependency counts as down). Its cost per hour is U(t) {TIMES} the hourly cost per "
        f"user {TIMES} L. Nobody loses more than all of their time, however many systems "
        "are down at once.",
        "Who it is charged to: L is shared out among the root causes down at that moment in "
        "proportion to -ln(1 - x), x = share x impact (a root cause's x includes its "
        "dependants'), so the shares add up to L exactly, equal systems get equal shares, "
        "and none gets more than it would alone. A system that alone takes all of a "
        "group's time takes all of that group's loss. A system down behind a dependency "
        "costs no staff time of its own: its users' time is charged to the root cause. For "
        f"2,000 people at {money(25000 / 1924, model.currency)} an hour, email (share 1.0, "
        "impact 0.5) and care records (share 0.4, impact 1.0) down for an hour cost "
        f"{money(2000 * 25000 / 1924 * 0.7, model.currency)} (0.7 of everyone's time, not "
        "0.9), split 0.5757 to email and 0.4243 to care records.",
        basis_text(model),
        *measured_text(model),
        "Direct costs: each system's direct cost per hour, while it is down.",
        f"Availability (24x7): 1 - downtime {DIVIDED} the period, where the period leaves out "
        f"planned maintenance. {business}",
        "Uncertainty (±): a window runs from the first failed probe to the first good one, so "
        "its true start and end may be earlier by up to the gap to the probe before each. "
        "The cost range is the cost with every window as short, and as long, as that allows.",
        "Imported windows (from a service desk, for example) are costed the same way and marked "
        "imported; they carry no probe times, so no uncertainty.",
        "Voided windows are listed struck out with the reason and count for nothing. Every "
        "correction is in the audit trail.",
        "Money is rounded to the penny so that each column adds up to its total: where "
        "rounding each figure alone would lose or gain a penny, it goes to the figure with "
        "the largest remainder.",
        maintenance_text(report),
    ]


def measured_text(model: CostModel) -> list[str]:
    """Where users were measured: what share of the staff cost rests on readings."""
    share = model.measured_share
    if share is None:
        return []
    return [f"Measured users: {share:.1%} of the staff cost was costed with the people "
            f"actually logged on (each reading kept in the ledger, in force until the next "
            f"or three periods on), {1 - share:.1%} with the users schedules (the fallback)."]


def basis_text(model: CostModel) -> str:
    """Which cost basis the figures use: the one in force at each moment, or today's."""
    if model.what_if:
        return ("WHAT-IF: every moment is costed with today's configuration (report --basis "
                "current), not with the cost basis in force at the time.")
    changed = (f"; {model.bases} bases were in force over this range, one after another"
               if model.bases > 1 else "")
    return ("Each moment is costed with the cost basis (groups, users schedules, hourly "
            "costs, shares, impacts, direct costs) in force at the time, as the ledger "
            f"recorded it{changed}.")


def maintenance_text(report: Report) -> str:
    if not report.maintenance:
        return "No planned maintenance fell in this range."
    spent = sum(p.end - p.start for p in report.maintenance)
    return (f"Planned maintenance excluded from downtime, cost and availability: "
            f"{plural(len(report.maintenance), 'period')}, {duration(spent)} in all (listed "
            "below).")


def incidents_text(s: SystemReport) -> str:
    return f"{downtime_text(s)} in {plural(s.incidents, 'incident')}"


def window_figures(line: WindowLine, cost: float, currency: str) -> tuple[str, str]:
    """(downtime, cost) of a window as listed, given its cost to the penny: for a voided
    one, what was recorded, which the listing strikes out."""
    if line.voided is not None:
        return (duration(line.shown_end - line.shown_start),
                money(line.recorded_cost, currency))
    return duration(line.downtime), money(cost, currency)


def downtime_text(s: SystemReport) -> str:
    text = duration(s.downtime)
    return f"{text} ± {duration(s.uncertainty)}" if s.uncertainty > 0 else text


def sla_text(s: SystemReport) -> str:
    if s.sla is None or s.allowed_downtime is None:
        return "no SLA"
    verdict = "met" if s.sla_met else "BREACHED"
    return (f"{percent(s.sla)}: {verdict} (allowed {duration(s.allowed_downtime)}, "
            f"actual {duration(s.downtime)})")


def incident_text(incident: Incident | None, report: Report) -> str:
    if incident is None:
        return "none"
    return (f"{when(incident.start, report)}, {duration(incident.seconds)}, "
            f"{money(incident.cost, report.currency)}")


def notes_text(line: WindowLine) -> str:
    """What a person should know about a window beyond its figures."""
    parts = []
    if line.voided is not None:
        parts.append(f"VOIDED: {line.voided}")
    if line.source == "imported":
        parts.append("imported")
    if line.ticket:
        parts.append(f"ticket {line.ticket}")
    if line.note:
        parts.append(line.note)
    if line.reason:
        parts.append(line.reason)
    if line.end is None:
        parts.append("still open")
    return "; ".join(parts)


EVIDENCE_TEXT = 200  # characters of a ping's body shown in Markdown and HTML (JSON: all)


def evidence_text(line: WindowLine, report: Report) -> str:
    """A window's evidence in words: "exch-1 down 03 Nov 10:00-12:00 (connection refused)",
    or "fail ping at 03:31: <its body>"."""
    parts = []
    for e in line.evidence:
        text = " ".join(e.text.split())
        if len(text) > EVIDENCE_TEXT:
            text = text[:EVIDENCE_TEXT] + "..."
        if e.end is None and e.state not in ("down", "degraded", "maintenance"):
            parts.append(f"{e.state} ping at {when(e.start, report)}" + (f": {text}" if text
                                                                          else ""))
            continue
        end = when(e.end, report) if e.end is not None else "open"
        parts.append(f"{e.system} {e.state} {when(e.start, report)} to {end}"
                     + (f" ({text})" if text else ""))
    return "evidence: " + "; ".join(parts) if parts else ""


def change_text(value: str | None) -> str:
    return "(none)" if value is None else value


# --- the sections both renderers lay out: the same cells, escaped and styled by each ----------

SYSTEM_COLUMNS = ("System", "Incidents", "Downtime", "Availability 24x7", "Business hours",
                  "Staff time", "Direct", "Cost", "SLA")
GROUP_COLUMNS = ("System", "SLA", "Allowed downtime", "Actual downtime", "Availability",
                 "Result", "Cost")
WINDOW_COLUMNS = ("#", "Start", "End", "State", "Cause", "Downtime", "Cost", "Notes")
MAINTENANCE_COLUMNS = ("System", "From", "To", "Length")
CHANGE_COLUMNS = ("When", "Who", "Window", "System", "Change", "Before", "After")


def cost_range(low: float, high: float, currency: str) -> str:
    """"£1,200.00 to £1,260.00": the range the probe times allow."""
    return f"{money(low, currency)} to {money(high, currency)}"


def totals(report: Report) -> list[tuple[str, str]]:
    """Given a report, return the organisation totals as (label, figure) rows."""
    c = report.currency
    shown = report.total_pennies()
    return [
        ("Estimated cost", f"{money(shown.cost, c)} (staff time {money(shown.staff, c)}, "
                           f"direct costs {money(shown.direct, c)})"),
        ("Range", f"{cost_range(shown.low, shown.high, c)}, as the probe times allow each "
                  "outage to have started and ended"),
        ("Downtime", f"{duration(report.downtime)} in {plural(report.incidents, 'incident')}"),
        ("Hourly cost of a full outage", full_outage(report.model)),
        ("Cost of an hour of one person's time", hourly_derivation(report.model)),
    ]


def system_cells(s: SystemReport, shown: Pennies, currency: str) -> list[object]:
    """Given a system and its figures as shown (`Report.pennies`), return its row of
    SYSTEM_COLUMNS up to, not including, the SLA."""
    return [s.name, s.incidents, downtime_text(s), percent(s.availability),
            percent(s.business_availability), money(shown.staff, currency),
            money(shown.direct, currency), money(shown.cost, currency)]


def group_cells(s: SystemReport) -> list[str]:
    """Given a system in a group, return its row of GROUP_COLUMNS up to the Result."""
    return [s.name, percent(s.sla) if s.sla is not None else "none",
            duration(s.allowed_downtime) if s.allowed_downtime is not None else "",
            downtime_text(s), percent(s.availability)]


def labels(s: SystemReport) -> list[str]:
    """Given a system, return "Owner: ...", "Supplier: ...", "Tier: ..." for those it has."""
    return [f"{name}: {value}" for name, value in
            (("Owner", s.owner), ("Supplier", s.supplier), ("Tier", s.tier)) if value]


def facts(s: SystemReport, report: Report) -> list[str]:
    """Given a system, return the statements its section of the report makes."""
    c = report.currency
    shown = report.pennies()[s.name]
    said = [
        f"Downtime {incidents_text(s)}; availability {percent(s.availability)} 24x7"
        f"{unwatched_note(s)}, {percent(s.business_availability)} in business hours",
        f"Cost {money(shown.cost, c)}: staff time {money(shown.staff, c)}, direct costs "
        f"{money(shown.direct, c)}; {cost_range(shown.low, shown.high, c)} as the probe "
        "times allow",
        f"SLA: {sla_text(s)}",
        f"Longest incident: {incident_text(s.longest, report)}",
        f"Most expensive incident: {incident_text(s.most_expensive, report)}",
    ]
    if s.maintenance:
        said.append(f"Planned maintenance excluded: {duration(s.maintenance)}")
    if s.unobserved:
        said.append(f"Not watched (before the agent first saw it, or while it was not "
                    f"running; counted as up): {duration(s.unobserved)}")
    return said


def unwatched_note(s: SystemReport) -> str:
    """What a 24x7 figure counted as up without watching, said beside it: the status page's
    figure leaves that time out, so the two differ by it."""
    if not s.unobserved:
        return ""
    return f" (with {duration(s.unobserved)} not watched counted as up)"


def window_cells(w: WindowLine, shown: Pennies, report: Report) -> list[str]:
    """Given a window and its figures to the penny, return its row of WINDOW_COLUMNS up to,
    not including, the Notes."""
    return [str(w.id), when(w.start, report), when(w.end, report) if w.end is not None
            else "open", w.state, w.cause or "", *window_figures(w, shown.cost,
                                                                 report.currency)]


def maintenance_rows(report: Report, view: Shown | None = None
                     ) -> list[tuple[str, str, str, str]]:
    """Given a report, return its planned maintenance as rows of MAINTENANCE_COLUMNS (of the
    systems `view` shows, if given)."""
    names = None if view is None or not view.summarised else {s.name for s in view.systems}
    return [(p.system, when(p.start, report), when(p.end, report), duration(p.end - p.start))
            for p in report.maintenance if names is None or p.system in names]


def change_rows(report: Report, view: Shown | None = None) -> list[tuple[object, ...]]:
    """Given a report, return its audit trail as rows of CHANGE_COLUMNS (of the windows
    `view` lists, if given)."""
    listed = None if view is None else view.listed
    return [(when(c.at, report), c.who, c.window_id, c.system, c.field,
             change_text(c.before), change_text(c.after)) for c in report.changes
            if listed is None or c.window_id in listed]


GROUP_TOTAL_COLUMNS = ("Systems", "SLA breached", "Downtime", "Incidents", "Cost")


def summary_note(report: Report, view: Shown) -> str:
    """What a summarised page leaves out, and where to find it ("" for a whole report)."""
    if not view.summarised:
        return ""
    others = len(report.systems) - len(view.systems)
    listed = len(view.listed or ())
    which = (f"the {listed:,} costliest of their windows ({money(view.threshold, report.currency)}"
             " or more each)" if view.threshold is not None else "all of their windows")
    return (f"This report summarises {view.windows:,} windows of {len(report.systems):,} "
            f"systems. It shows the {len(view.systems)} systems that cost most, and lists "
            f"{which}; the other {others:,} systems cost {money(view.other_cost, report.currency)}"
            " in all, and every system is counted in the totals per supplier, owner and tier. "
            "The CSV and JSON formats list every window (--format csv), and --system NAME "
            "lists all of one system's.")


def group_total_cells(report: Report, members: list[SystemReport]) -> list[object]:
    """Given the systems of one supplier, owner or tier, return their row of
    GROUP_TOTAL_COLUMNS: how many, how many breached their SLA, and what they added up to."""
    shown = report.pennies()
    return [len(members), sum(1 for s in members if s.sla_met is False),
            duration(sum(s.downtime for s in members)), sum(s.incidents for s in members),
            money(round(sum(shown[s.name].cost for s in members), 2), report.currency)]

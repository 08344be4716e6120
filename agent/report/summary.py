"""What a Markdown or HTML report shows of a large estate: a year of 10,000 systems is
100,000 windows, a document nobody reads. Past WINDOW_LIMIT windows the page summarises (the
systems that cost most, totals per supplier, owner and tier, and only their windows above a
threshold) and says so; the CSV and JSON formats always list every window, and a report of
one system (`--system`) always lists all of its windows."""

from __future__ import annotations

from dataclasses import dataclass

from agent.report.model import Report, SystemReport, WindowLine

WINDOW_LIMIT = 1_000  # windows a page lists in full; past this it summarises
TOP_SYSTEMS = 50  # systems a summary shows, the costliest


@dataclass(frozen=True)
class Shown:
    """The part of a report a page shows: every system and window unless `summarised`."""

    systems: tuple[SystemReport, ...]  # in the Systems table, each with a section
    listed: frozenset[int] | None  # the ids of the windows listed; None: every window
    threshold: float | None  # windows costing less than this (rounded) are not listed
    windows: int  # windows in the report (unknown ones aside: pages never list them)
    other_cost: float  # what the systems not shown cost, in all

    @property
    def summarised(self) -> bool:
        return self.listed is not None

    def lists(self, line: WindowLine) -> bool:
        return line.state != "unknown" and (self.listed is None or line.id in self.listed)


def shown(report: Report) -> Shown:
    """Given a report, return what a page of it shows: all of it, up to WINDOW_LIMIT
    windows or for one system; else the TOP_SYSTEMS costliest systems, and of their windows
    those costing at least the WINDOW_LIMIT-th costliest."""
    lines = [w for s in report.systems for w in s.windows if w.state != "unknown"]
    if len(report.systems) <= 1 or len(lines) <= WINDOW_LIMIT:
        return Shown(report.systems, None, None, len(lines), 0.0)
    pennies = report.pennies()
    ranked = sorted(report.systems, key=lambda s: (-pennies[s.name].cost, s.name))
    top = tuple(ranked[:TOP_SYSTEMS])
    other = round(sum(pennies[s.name].cost for s in ranked[TOP_SYSTEMS:]), 2)
    window_cost = report.window_pennies()
    candidates = sorted((w for s in top for w in s.windows if w.state != "unknown"),
                        key=lambda w: (-window_cost[w.id].cost, w.id))
    if len(candidates) <= WINDOW_LIMIT:
        return Shown(top, frozenset(w.id for w in candidates), None, len(lines), other)
    threshold = window_cost[candidates[WINDOW_LIMIT - 1].id].cost
    listed = frozenset(w.id for w in candidates[:WINDOW_LIMIT])
    return Shown(top, listed, threshold, len(lines), other)

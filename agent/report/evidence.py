"""What shows why a window was recorded, for a report to print beside it: a service's
members' windows that overlap it (docs/services.md), and the bodies a heartbeat's job sent
with the pings that opened or closed it (docs/heartbeats.md). Pure functions of what the
report read from the ledger."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from agent.ledger import StoredWindow
from agent.model import Config
from agent.records import PingRecord
from agent.report.model import Evidence, SystemReport
from agent.services import ServiceSpec

SHOWN_STATES = ("down", "degraded", "maintenance")  # a member's windows that count against it


Evidences = dict[int, tuple[Evidence, ...]]  # window id -> its evidence, in time order


def members_evidence(windows: Sequence[StoredWindow], config: Config) -> Evidences:
    """Given every window the report read, return for each window of a service the windows
    of its members that overlap it."""
    specs = {s.name: s.check.spec for s in config.systems if isinstance(s.check.spec,
                                                                          ServiceSpec)}
    if not specs:
        return {}
    wanted = {member for spec in specs.values() for member in spec.members}
    by_system: dict[str, list[StoredWindow]] = {}
    for stored in windows:
        if stored.record.system in wanted and stored.record.state in SHOWN_STATES:
            by_system.setdefault(stored.record.system, []).append(stored)
    found: Evidences = {}
    for stored in windows:
        spec = specs.get(stored.record.system)
        if spec is None:
            continue
        start, end = stored.record.start, stored.record.end
        lines = [Evidence(w.record.system, w.record.state, w.record.start, w.record.end,
                          w.record.reason)
                 for member in spec.members for w in by_system.get(member, ())
                 if _overlap(w.record.start, w.record.end, start, end)]
        if lines:
            found[stored.id] = tuple(sorted(lines, key=lambda e: (e.start, e.system)))
    return found


def pings_evidence(windows: Iterable[StoredWindow],
                   pings: Mapping[str, Sequence[PingRecord]]) -> Evidences:
    """Given windows and each heartbeat system's pings with a body, return for each window
    the pings received from its start to its end (the one that opened it with /fail, the
    one that closed it with a success, any in between)."""
    found: Evidences = {}
    for stored in windows:
        record = stored.record
        lines = tuple(Evidence(p.system, p.kind, p.at, None, p.body)
                      for p in pings.get(record.system, ())
                      if record.start <= p.at and (record.end is None or p.at <= record.end))
        if lines:
            found[stored.id] = lines
    return found


def _overlap(start: float, end: float | None, other_start: float,
             other_end: float | None) -> bool:
    """Whether [start, end) and [other_start, other_end) share a moment (None: still open)."""
    return (end is None or end > other_start) and (other_end is None or other_end > start)


def with_evidence(report: SystemReport, evidence: Evidences) -> SystemReport:
    """A system's part of a report with each window's evidence beside it."""
    if not any(line.id in evidence for line in report.windows):
        return report
    return dataclasses.replace(report, windows=tuple(
        dataclasses.replace(line, evidence=evidence[line.id]) if line.id in evidence else line
        for line in report.windows))

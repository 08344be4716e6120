"""`outage-agent import`: downtime windows from a CSV file (a service desk export, say).

Columns `system,start,end` and optionally `state,cause,impact,note,ticket`; ISO 8601 times,
a naive one in cost.timezone. A file with any bad row is refused whole, every problem named
by line and column, and nothing is written.

Windows are costed as a report costs them (agent.report.build.window_amounts): together with
every window of the ledger they overlap, with the cost basis in force at each instant, and
stored as `imported`, with their cost basis; they never touch the live counters. A cause
must be one of the system's dependencies (directly or through others) and be down (live,
imported or in the file) over the whole window; without one, the system's `depends_on` and
its dependencies' windows decide the cause of each part, as live. Within one transaction:
- a window already imported is stored once (importing a file twice changes nothing);
- windows of one system that overlap, in the file or already imported, merge into one window
  over their union, costed once;
- where a window overlaps a live-recorded one of the same system, the live window keeps its
  figures and only the parts outside it are stored, so no time is costed twice.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.basis import basis_of, window_basis
from agent.config.values import did_you_mean
from agent.ledger import ImportScope, Ledger, StoredWindow
from agent.model import Config, System
from agent.records import Amounts, Annotations, ImportChanges, ImportedWindow, WindowRecord
from agent.report.build import amounts_of, cost_together, effective_cause, window_span
from agent.report.costing import Money
from agent.report.period import parse_moment
from agent.report.source import adhoc_maintenance
from agent.spans import Span, clip, merge, subtract
from agent.text import iso, local

REQUIRED = ("system", "start", "end")
OPTIONAL = ("state", "cause", "impact", "note", "ticket")
SEVERITY = {"maintenance": 0, "degraded": 1, "down": 2}  # a merged window takes the worst
BLOCKING = ("down", "degraded", "maintenance")  # live states an import never overwrites
_NUDGE = 0.001  # seconds: (system, start) is a window's key in the ledger

_Bad = Callable[[str, str], None]  # reports a problem: (column, message)


class ImportRefused(Exception):
    """The file cannot be imported; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Row:
    """One window read from the file."""

    line: int
    system: str
    start: float
    end: float
    state: str = "down"
    cause: str | None = None
    impact: float | None = None  # None: the system's configured impact for the state
    note: str | None = None
    ticket: str | None = None
    cause_at: str = ""  # "windows.csv:3: cause (column 5)", to name a cause found wanting


@dataclass
class ImportResult:
    rows: int = 0
    stored: int = 0  # windows written: new, or extended by a merge
    unchanged: int = 0  # already recorded exactly so
    covered: int = 0  # wholly inside live-recorded windows: nothing to store
    lines: list[str] = field(default_factory=list)  # what happened, one line per window


# --- reading the file ---------------------------------------------------------------------------


def read_rows(text: str, name: str, config: Config, now: float) -> list[Row]:
    """Given CSV text, return its windows; raise ImportRefused listing every problem."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused([f"{name}:1: empty file: expected a header such as "
                             "system,start,end"]) from None
    except csv.Error as exc:
        raise ImportRefused([f"{name}:1: {exc}"]) from None
    columns = [column.strip().lower() for column in header]
    _check_header(columns, name)
    problems: list[str] = []
    rows: list[Row] = []
    checker = _RowChecker(config, now)
    try:
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            where = f"{name}:{reader.line_num}"
            if len(fields) != len(columns):
                problems.append(f"{where}: expected {len(columns)} fields "
                                f"({','.join(columns)}), got {len(fields)}")
                continue
            row = checker.row(reader.line_num, dict(zip(columns, fields, strict=True)),
                              columns, where, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        problems.append(f"{name}:{reader.line_num}: {exc}")
    if problems:
        raise ImportRefused(problems)
    return rows


def _check_header(columns: list[str], name: str) -> None:
    problems = []
    known = (*REQUIRED, *OPTIONAL)
    for number, column in enumerate(columns, 1):
        if column not in known:
            problems.append(f"{name}:1: column {number} {column!r}: unknown column (known: "
                            f"{', '.join(known)}){did_you_mean(column, known)}")
        elif columns.index(column) != number - 1:
            problems.append(f"{name}:1: column {number} {column!r}: given twice")
    problems += [f"{name}:1: missing column {column!r}" for column in REQUIRED
                 if column not in columns]
    if problems:
        raise ImportRefused(problems)


class _RowChecker:
    """Checks one row at a time, adding a problem per bad field."""

    def __init__(self, config: Config, now: float) -> None:
        self.systems = {s.name: s for s in config.systems}
        self.zone = zoneinfo.ZoneInfo(config.cost.timezone)
        self.now = now

    def row(self, line: int, values: dict[str, str], columns: list[str], where: str,
            problems: list[str]) -> Row | None:
        found: list[str] = []

        def bad(column: str, message: str) -> None:
            found.append(f"{where}: {column} (column {columns.index(column) + 1}): {message}")

        system = self._system(values["system"].strip(), bad)
        start = self._time(values["start"], "start", bad)
        end = self._time(values["end"], "end", bad)
        if start is not None and end is not None and end <= start:
            bad("end", f"must be after start ({values['start'].strip()})")
        if end is not None and end > self.now:
            bad("end", "is in the future: only past windows can be imported")
        state = values.get("state", "").strip().lower() or "down"
        if state not in SEVERITY:
            bad("state", f"expected down, degraded or maintenance, got {state!r}")
        cause = self._cause(values.get("cause", "").strip(), system, bad)
        impact = self._impact(values.get("impact", "").strip(), bad)
        problems += found
        if found or system is None or start is None or end is None:
            return None
        cause_at = (f"{where}: cause (column {columns.index('cause') + 1})"
                    if "cause" in columns else "")
        return Row(line=line, system=system, start=start, end=end, state=state, cause=cause,
                   impact=impact, note=values.get("note", "").strip() or None,
                   ticket=values.get("ticket", "").strip() or None, cause_at=cause_at)

    def _system(self, name: str, bad: _Bad) -> str | None:
        if not name:
            bad("system", "empty")
            return None
        if name not in self.systems:
            bad("system", f"no system named {name!r} in the configuration"
                          f"{did_you_mean(name, self.systems)}")
            return None
        return name

    def _time(self, text: str, column: str, bad: _Bad) -> float | None:
        if not text.strip():
            bad(column, "empty")
            return None
        try:
            return parse_moment(text, self.zone)
        except ValueError as exc:
            bad(column, str(exc))
            return None

    def _cause(self, name: str, system: str | None, bad: _Bad) -> str | None:
        if not name or name == system:
            return None  # its own root cause
        if name not in self.systems:
            bad("cause", f"the root cause must be a configured system, not {name!r}"
                         f"{did_you_mean(name, self.systems)}")
            return None
        problem = system is not None and not_a_dependency(self.systems, system, name)
        if problem:
            bad("cause", problem)
            return None
        return name

    def _impact(self, text: str, bad: _Bad) -> float | None:
        if not text:
            return None
        try:
            impact = float(text)
        except ValueError:
            impact = -1.0
        if not 0.0 <= impact <= 1.0:
            bad("impact", f"expected a number from 0 to 1, got {text!r}")
            return None
        return impact


# --- dependencies and causes ------------------------------------------------------------------


def dependencies(systems: dict[str, System], name: str) -> list[str]:
    """Every system `name` depends on, directly or through others, nearest first."""
    found: list[str] = []
    frontier = list(systems[name].depends_on)
    while frontier:
        dep = frontier.pop(0)
        if dep not in found and dep in systems:
            found.append(dep)
            frontier.extend(systems[dep].depends_on)
    return found


def not_a_dependency(systems: dict[str, System], system: str, cause: str) -> str | None:
    """Why `cause` cannot be the root cause of `system`'s outage, or None if it can."""
    if cause in dependencies(systems, system):
        return None
    direct = ", ".join(systems[system].depends_on) or "none"
    return (f"{cause!r} is not a dependency of {system!r}, directly or through others (its "
            f"depends_on: {direct})")


def uncovered(span: Span, down: Iterable[Span], timezone: str) -> str | None:
    """Why a cause down over `down` cannot be the cause of an outage over `span` (it was not
    down for all of it), or None if it was."""
    gaps = subtract(span, merge(down))
    if not gaps:
        return None
    a, b = gaps[0]
    return (f"was not down over the whole window: nothing recorded or imported from "
            f"{local(a, timezone, seconds=True)} to {local(b, timezone, seconds=True)}")


Cover = tuple[float, float, str]  # a span in which a system was down, and its root cause


def down_cover(windows: Iterable[StoredWindow], stop: float) -> dict[str, list[Cover]]:
    """When each system was down (voided windows aside), with the root cause of each span."""
    cover: dict[str, list[Cover]] = {}
    for w in windows:
        if w.record.state != "down" or w.annotations.voided_reason is not None:
            continue
        a, b = window_span(w, stop)
        cover.setdefault(w.record.system, []).append(
            (a, b, effective_cause(w) or w.record.system))
    return cover


def split_by_cause(system: System, span: Span, cover: dict[str, list[Cover]]
                   ) -> list[tuple[Span, str | None]]:
    """A span of a system down with no cause given, cut where a dependency was down: there,
    as live, the first dependency (in depends_on order) down is the way to its root cause."""
    pieces: list[tuple[Span, str | None]] = [(span, None)]
    for dep in system.depends_on:
        out: list[tuple[Span, str | None]] = []
        for piece, cause in pieces:
            if cause is not None:
                out.append((piece, cause))
                continue
            hits = [(part, root) for a, b, root in cover.get(dep, [])
                    if (part := clip(piece, a, b))]
            out += hits
            out += [(part, None) for part in subtract(piece, [p for p, _ in hits])]
        pieces = sorted(out)
    return pieces


# --- merging with what is recorded ---------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """A piece of a merge: a row of the file, or a window imported before."""

    start: float
    end: float
    state: str
    cause: str | None
    impact: float | None
    note: str | None
    ticket: str | None
    lines: tuple[int, ...] = ()
    stored: StoredWindow | None = None


def _part_of_row(row: Row) -> _Part:
    return _Part(row.start, row.end, row.state, row.cause, row.impact, row.note, row.ticket,
                 lines=(row.line,))


def _part_of_window(w: StoredWindow) -> _Part:
    r = w.record
    return _Part(r.start, r.end if r.end is not None else r.start, r.state, r.cause,
                 w.impact_override, w.annotations.note, w.annotations.ticket, stored=w)


def clusters(parts: Iterable[_Part]) -> list[list[_Part]]:
    """Given parts, return them grouped where they overlap (touching is not overlapping)."""
    groups: list[list[_Part]] = []
    end = float("-inf")
    for part in sorted(parts, key=lambda p: (p.start, p.end)):
        if groups and part.start < end:
            groups[-1].append(part)
            end = max(end, part.end)
        else:
            groups.append([part])
            end = part.end
    return groups


def _joined(values: Iterable[str | None]) -> str | None:
    distinct = list(dict.fromkeys(v for v in values if v))
    return "; ".join(distinct) or None


class Planner:
    """Decides, inside the import's transaction, what to write given what is recorded."""

    def __init__(self, rows: Sequence[Row], config: Config, source: str,
                 planned: dict[str, list[Span]] | None = None) -> None:
        self.rows = rows
        self.config = config
        self.source = source
        self.systems = {s.name: s for s in config.systems}
        self.basis = basis_of(config)
        self.planned = planned or {}  # ad-hoc maintenance, as reports leave it out
        self.result = ImportResult(rows=len(rows))

    def __call__(self, scope: ImportScope) -> ImportChanges:
        stop = max(r.end for r in self.rows)
        cover = down_cover(scope.around, stop)
        self._check_causes(cover)
        changes = ImportChanges()
        for name in self._dependencies_first(scope.existing):
            rows = [_part_of_row(r) for r in self.rows if r.system == name]
            self._system(self.systems[name], rows, scope.existing[name], changes, cover)
        self._cost(changes, scope)
        return changes

    def _dependencies_first(self, names: Iterable[str]) -> list[str]:
        """The systems in an order where each comes after what it depends on (and so its
        windows can be read as the cause of its dependants')."""
        return sorted(names, key=lambda name: (_depth(self.systems, name), name))

    def _check_causes(self, cover: dict[str, list[Cover]]) -> None:
        """Refuse a given cause that was not down (live, imported, or in the file) over the
        whole window."""
        spans = {name: [(a, b) for a, b, _ in found] for name, found in cover.items()}
        for row in self.rows:
            if row.state == "down":
                spans.setdefault(row.system, []).append((row.start, row.end))
        problems = []
        for row in self.rows:
            if row.cause is None:
                continue
            gap = uncovered((row.start, row.end), spans.get(row.cause, []),
                            self.config.cost.timezone)
            if gap:
                problems.append(f"{row.cause_at}: {row.cause!r} {gap} (import its window "
                                "too, or leave the cause empty)")
        if problems:
            raise ImportRefused(problems)

    def _system(self, system: System, rows: list[_Part], existing: list[StoredWindow],
                changes: ImportChanges, cover: dict[str, list[Cover]]) -> None:
        imported = [_part_of_window(w) for w in existing if w.record.source == "imported"]
        live = [w for w in existing
                if w.record.source != "imported" and w.record.state in BLOCKING]
        for cluster in clusters([*rows, *imported]):
            if any(p.stored is None for p in cluster):
                self._cluster(system, cluster, live, existing, changes, cover)

    def _cluster(self, system: System, cluster: list[_Part], live: list[StoredWindow],
                 existing: list[StoredWindow], changes: ImportChanges,
                 cover: dict[str, list[Cover]]) -> None:
        lead = max(cluster, key=lambda p: (SEVERITY[p.state], p.stored is None))
        union = (min(p.start for p in cluster), max(p.end for p in cluster))
        blockers = [w for w in live if w.record.start < union[1] and _end(w) > union[0]]
        pieces = subtract(union, [(w.record.start, _end(w)) for w in blockers])
        old = sorted((p.stored for p in cluster if p.stored is not None),
                     key=lambda w: w.record.start)
        taken = {w.record.start for w in existing} - {w.record.start for w in old}
        note = _joined(p.note for p in cluster)
        ticket = _joined(p.ticket for p in cluster)
        lines = sorted(line for p in cluster for line in p.lines)
        reason = f"imported from {self.source} line {', '.join(map(str, lines))}"
        ends = {w.record.end for w in live if w.record.state == "down"}
        records = []
        for piece in pieces:
            parts = ([(piece, lead.cause)] if lead.state != "down" or lead.cause is not None
                     else split_by_cause(system, piece, cover))
            for k, ((a, b), cause) in enumerate(parts):
                first = k == 0 and lead.state == "down" and a not in ends
                records.append(self._record(system, (_free(a, taken), b), lead.state, cause,
                                            lead.impact, first, reason))
        cover.setdefault(system.name, []).extend(
            (r.start, r.end or r.start, r.cause or system.name)
            for r in records if r.state == "down")
        unchanged = bool(old) and _same(records, old, note, ticket)
        self._describe(system, cluster, union, blockers, pieces, old, unchanged)
        if unchanged:
            self.result.unchanged += 1
            return
        if not records and not old:
            self.result.covered += 1
            return
        self.result.stored += len(records)
        changes.windows += self._writes(records, old, note, ticket, lines, lead.impact)
        changes.delete += [w.id for w in old[len(records):]]

    def _record(self, system: System, span: Span, state: str, cause: str | None,
                impact: float | None, new_incident: bool, reason: str) -> WindowRecord:
        """A span of one system as an imported window, its money still to be worked out."""
        a, b = span
        if impact is None:
            impact = self.basis.impact(system.name, state)
        return WindowRecord(
            system=system.name, state=state, cause=cause, start=a, end=b, before_start=None,
            before_end=None, last_observed=None, accounted_until=b, amounts=Amounts(),
            basis=window_basis(self.basis, system.name, impact, a), new_incident=new_incident,
            reason=reason, source="imported",
        )

    def _cost(self, changes: ImportChanges, scope: ImportScope) -> None:
        """Cost what is written as what it adds to every window it overlaps: the loss with it
        less the loss without it, day by day, shared among the new windows as a report
        would attribute it. So what the ledger stores never adds up to more than everyone's
        time, and windows recorded before keep their figures."""
        if not changes.windows:
            return
        replaced = {item.id for item in changes.windows} | set(changes.delete)
        written = [StoredWindow(id=item.id if item.id is not None else -1 - k,
                                record=item.record, annotations=item.annotations,
                                impact_override=item.impact_override)
                   for k, item in enumerate(changes.windows)]
        kept = [w for w in scope.around if w.id not in replaced]
        start = min(w.record.start for w in written)
        stop = max(w.record.end or w.record.start for w in written)
        with_them = cost_together([*kept, *written], self.config, start, stop, scope.bases,
                                  self.planned)
        without = cost_together(kept, self.config, start, stop, scope.bases, self.planned)
        added = _added_by_day(with_them, without, [w.id for w in written])
        changes.windows = [
            dataclasses.replace(item, record=dataclasses.replace(item.record, amounts=amounts_of(
                w, with_them[w.id][0], dataclasses.replace(with_them[w.id][1],
                                                           staff=added[w.id]))))
            for item, w in zip(changes.windows, written, strict=True)]

    def _writes(self, records: list[WindowRecord], old: list[StoredWindow], note: str | None,
                ticket: str | None, lines: list[int], impact: float | None,
                ) -> list[ImportedWindow]:
        """Reuse the rows imported before, in order, keeping a void or corrected cause people
        added; add rows for any further pieces; say in the audit trail what changed."""
        provenance = f"{self.source} line {', '.join(map(str, lines))}"
        merged = [("merged", f"#{w.id} {_span_text(w.record.start, w.record.end)}", None)
                  for w in old[len(records):]]
        writes = []
        for k, record in enumerate(records):
            was = old[k] if k < len(old) else None
            audit: list[tuple[str, str | None, str | None]] = []
            notes = Annotations(note=note, ticket=ticket)
            if was is not None:
                notes = Annotations(note=note, ticket=ticket, cause=was.annotations.cause,
                                    voided_reason=was.annotations.voided_reason)
                span_was = _span_text(was.record.start, was.record.end)
                span_now = _span_text(record.start, record.end)
                if span_was != span_now:
                    audit.append(("span", span_was, span_now))
            audit.append(("imported", None, provenance))
            if k == 0:
                audit += merged  # the first window carries the note of what it absorbed
            writes.append(ImportedWindow(record, notes, was.id if was else None, tuple(audit),
                                         impact_override=impact))
        return writes

    def _describe(self, system: System, cluster: list[_Part], union: Span,
                  blockers: list[StoredWindow], pieces: list[Span],
                  old: list[StoredWindow], unchanged: bool) -> None:
        tz = self.config.cost.timezone
        lines = sorted(line for p in cluster for line in p.lines)
        text = f"{system.name} {local(union[0], tz)} to {local(union[1], tz)}"
        if len(lines) > 1:
            text += f": lines {', '.join(map(str, lines))} overlap and are merged"
        else:
            text += f": line {lines[0]}"
        if unchanged:
            ids = ", ".join(f"#{w.id}" for w in old)
            self.result.lines.append(f"{text}: already recorded as {ids}, unchanged")
            return
        if old:
            text += "; merged with imported " + ", ".join(f"#{w.id}" for w in old)
        if blockers:
            ids = ", ".join(f"#{w.id} ({local(w.record.start, tz)} to "
                            f"{local(w.record.end, tz) if w.record.end else 'open'})"
                            for w in blockers)
            kept = ", ".join(f"{local(a, tz)} to {local(b, tz)}" for a, b in pieces)
            text += (f"; overlaps live window {ids}, which keeps its own figures: "
                     + (f"only {kept} imported" if pieces else "nothing left to import"))
        self.result.lines.append(text)


def _added_by_day(with_them: dict[int, tuple[list[Span], Money]],
                  without: dict[int, tuple[list[Span], Money]], new: list[int]
                  ) -> dict[int, float]:
    """Each new window's staff cost: on each day, the loss the new windows add (the staff
    cost of everything with them, less without them), in proportion to what a report
    attributes to each of them that day."""
    gross, before = _staff_by_day(with_them), _staff_by_day(without)
    added = dict.fromkeys(new, 0.0)
    for day, total in gross.items():
        extra = max(0.0, total - before.get(day, 0.0))
        shares = {i: with_them[i][1].staff_days.get(day, 0.0) for i in new}
        weight = math.fsum(shares.values())
        for i in new if weight > 0 else ():
            added[i] += extra * shares[i] / weight
    return added


def _staff_by_day(money: dict[int, tuple[list[Span], Money]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for _, m in money.values():
        for day, staff in m.staff_days.items():
            totals[day] = totals.get(day, 0.0) + staff
    return totals


def _depth(systems: dict[str, System], name: str) -> int:
    """How many levels of dependencies lie under a system (0: it depends on nothing)."""
    deps = [d for d in systems[name].depends_on if d in systems]
    return 1 + max((_depth(systems, d) for d in deps), default=-1)


def _end(w: StoredWindow) -> float:
    """Where a live window ends; an open one blocks everything after its start."""
    return w.record.end if w.record.end is not None else float("inf")


def _free(start: float, taken: set[float]) -> float:
    """A start no other window of the system has (the ledger's key), moved by a millisecond
    at a time if need be, as the engine does for its gap windows."""
    while start in taken:
        start += _NUDGE
    return start


def _same(records: list[WindowRecord], old: list[StoredWindow], note: str | None,
          ticket: str | None) -> bool:
    """Whether the pieces are exactly what was imported before (so nothing is written)."""
    def key(r: WindowRecord) -> tuple[object, ...]:
        return (r.start, r.end, r.state, r.cause, r.basis.impact)

    if [key(r) for r in records] != [key(w.record) for w in old]:
        return False
    return all((w.annotations.note, w.annotations.ticket) == (note, ticket) for w in old)


def _span_text(start: float, end: float | None) -> str:
    return f"{iso(start)}/{iso(end) if end is not None else 'open'}"


# --- the command ------------------------------------------------------------------------------


def import_file(config: Config, path: Path, who: str, now: float,
                dry_run: bool = False) -> ImportResult:
    """Given a CSV file, import its windows into the configured ledger in one transaction;
    return what happened. Raise ImportRefused for a bad file (nothing is written), LedgerError
    if the ledger cannot be written."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused([f"{path.name}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})"]) from None
    except OSError as exc:
        raise ImportRefused([f"{path}: {exc.strerror}"]) from None
    rows = read_rows(text, path.name, config, now)
    if not rows:
        return ImportResult()
    ledger = Ledger.of(config.agent)
    ledger.prepare()
    planner = Planner(rows, config, path.name, adhoc_maintenance(ledger.actions_since(0)))
    span = (min(r.start for r in rows), max(r.end for r in rows))
    ledger.import_windows(span, {r.system for r in rows}, planner, who, now,
                          basis=planner.basis, dry_run=dry_run)
    return planner.result

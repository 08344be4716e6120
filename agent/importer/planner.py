"""Planning an import inside its transaction: what to write, given what is recorded.

Within one transaction:
- a window already imported is stored once (importing a file twice changes nothing);
- windows of one system that overlap, in the file or already imported, merge into one window
  over their union, costed once;
- where a window overlaps a live-recorded one of the same system, the live window keeps its
  figures and only the parts outside it are stored, so no time is costed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agent.basis import basis_of, window_basis
from agent.importer.causes import Cover, depth, down_cover, split_by_cause, uncovered
from agent.importer.marginal import cost_added
from agent.importer.rows import SEVERITY, ImportRefused, Row
from agent.ledger import ImportScope, StoredWindow
from agent.model import Config, System
from agent.records import Amounts, Annotations, ImportChanges, ImportedWindow, WindowRecord
from agent.spans import Span, subtract
from agent.text import iso, local

BLOCKING = ("down", "degraded", "maintenance")  # live states an import never overwrites
_NUDGE = 0.001  # seconds: (system, start) is a window's key in the ledger
SEPARATOR = "; "  # between the notes (and tickets) of the windows a merge joins


@dataclass
class ImportResult:
    """What an import did, for the command to print."""

    rows: int = 0
    stored: int = 0  # windows written: new, or extended by a merge
    unchanged: int = 0  # already recorded exactly so
    covered: int = 0  # wholly inside live-recorded windows: nothing to store
    lines: list[str] = field(default_factory=list)  # what happened, one line per window


@dataclass(frozen=True, slots=True)
class _Part:
    """A piece of a merge: a row of the file, or a window imported before (slots: one per
    row)."""

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
    """Given the notes (or tickets) of a merge's parts, what was recorded first, return each
    distinct one once, joined by "; ". A value joined before is taken apart again, so
    importing the same file twice joins nothing twice ("mail store full; mail store full")."""
    pieces = (piece for v in values if v for piece in v.split(SEPARATOR))
    return SEPARATOR.join(dict.fromkeys(pieces)) or None


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
        parts: dict[str, list[_Part]] = {}  # grouped once: a scan per system was quadratic
        for row in self.rows:
            parts.setdefault(row.system, []).append(_part_of_row(row))
        for name in self._dependencies_first(scope.existing):
            self._system(self.systems[name], parts.get(name, []), scope.existing[name],
                         changes, cover)
        cost_added(changes, scope, self.config, self.planned)
        return changes

    def _dependencies_first(self, names: Iterable[str]) -> list[str]:
        """The systems in an order where each comes after what it depends on (and so its
        windows can be read as the cause of its dependants')."""
        return sorted(names, key=lambda name: (depth(self.systems, name), name))

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
        recorded_first = sorted(cluster, key=lambda p: p.stored is None)
        note = _joined(p.note for p in recorded_first)
        ticket = _joined(p.ticket for p in recorded_first)
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
        _replace_cover(cover, system.name, old, records)
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


def _replace_cover(cover: dict[str, list[Cover]], system: str, old: list[StoredWindow],
                   records: list[WindowRecord]) -> None:
    """Put the records in the cover of `system` in place of the imported windows they
    rewrite, so that each moment is covered once: a dependant cut where this system was down
    gets one piece there, even when the same file is imported again."""
    replaced = {(w.record.start, w.record.end) for w in old}
    kept = [c for c in cover.get(system, []) if (c[0], c[1]) not in replaced]
    cover[system] = kept + [(r.start, r.end or r.start, r.cause or system)
                            for r in records if r.state == "down"]


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


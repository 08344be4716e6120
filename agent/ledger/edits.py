"""The record as people correct it: imports, annotate and void, each change in the audit
trail; and what the CLI adds while the daemon runs (acknowledgements, maintenance) and the
cost basis in force over time. Each is one write transaction of its own, taking turns with
other CLI writers (the write lock) while the daemons' upserts go on."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa

from agent.basis import CostBasis
from agent.ledger import schema as tables
from agent.ledger.connections import Connections
from agent.ledger.reads import bases_of, bases_query
from agent.ledger.rows import (
    ANNOTATION_FIELDS,
    Action,
    ImportScope,
    StoredWindow,
    action_row,
    annotations_row,
    audit_row,
    stored_windows,
    window_row,
)
from agent.ledger.store import LedgerError
from agent.ledger.writes import execute_many
from agent.records import AuditEntry, ImportChanges

IMPORT_CHUNK = 5000  # windows written per executemany by an import


def touching(site: str, start: float, end: float) -> sa.Select:
    """The windows of `site` touching [start, end], oldest first."""
    w = tables.windows
    return (sa.select(w).where(w.c.site == site, w.c.start_ts <= end,
                               sa.or_(w.c.end_ts.is_(None), w.c.end_ts >= start))
            .order_by(w.c.start_ts, w.c.id))


class Edits(Connections):
    """The audited edits, the actions and the cost bases of one site."""

    def add_action(self, action: Action) -> int:
        """Record an action now (from any process); the running daemon picks it up."""
        with self._transaction() as conn:
            return int(conn.execute(sa.insert(tables.actions).returning(tables.actions.c.id),
                                    action_row(self.site, action)).scalar_one())

    def audit_trail(self, window_ids: Iterable[int] | None = None) -> list[AuditEntry]:
        """The audit trail, oldest first: of the given windows, or of every window."""
        a, w = tables.audit, tables.windows
        rows = self._read(
            sa.select(a.c.window_id, a.c.at, a.c.who, a.c.field, a.c.before, a.c.after,
                      sa.func.coalesce(w.c.system, "").label("system"))
            .select_from(a.outerjoin(w, w.c.id == a.c.window_id))
            .where(a.c.site == self.site).order_by(a.c.at, a.c.id))
        wanted = None if window_ids is None else set(window_ids)
        return [AuditEntry(**row) for row in rows
                if wanted is None or row["window_id"] in wanted]

    def annotate(
        self, window_id: int, changes: dict[str, str | None], who: str, at: float
    ) -> list[AuditEntry]:
        """Set fields of one window (note, ticket, cause, voided: see ANNOTATION_FIELDS) and
        add an audit row for each that changes, in one transaction. Return the audit rows
        written (none if nothing changed); raise LedgerError if there is no such window."""
        unknown = set(changes) - set(ANNOTATION_FIELDS)
        if unknown:
            raise ValueError(f"not an annotation: {', '.join(sorted(unknown))}")
        w = tables.windows
        with self._transaction() as conn:
            row = conn.execute(sa.select(*(w.c[c] for c in ANNOTATION_FIELDS.values()))
                               .where(w.c.site == self.site, w.c.id == window_id)
                               ).mappings().first()
            if row is None:
                raise LedgerError(f"no window with id {window_id} in {self.name}")
            current = {name: row[column] for name, column in ANNOTATION_FIELDS.items()}
            entries = [AuditEntry(window_id, at, who, name, current[name], value)
                       for name, value in changes.items() if current[name] != value]
            for entry in entries:
                conn.execute(sa.update(w).where(w.c.id == window_id)
                             .values({ANNOTATION_FIELDS[entry.field]: entry.after}))
            self._add_audit(conn, entries)
        return entries

    def import_windows(
        self, span: tuple[float, float], systems: Iterable[str],
        plan: Callable[[ImportScope], ImportChanges], who: str, at: float,
        basis: CostBasis | None = None, dry_run: bool = False,
    ) -> ImportChanges:
        """Record `basis` as in force from `at` (unless it already is), read every window
        overlapping `span` and each of `systems`' windows touching it, ask `plan` what to
        write given them, and write it, all in one transaction, so a daemon or another
        import cannot change the windows between reading and writing. With dry_run the
        transaction is rolled back. Return the changes."""
        with self._transaction(commit=not dry_run) as conn:
            if basis is not None:
                self._record_basis(conn, basis, at)
            result = conn.execute(touching(self.site, *span))
            keys = list(result.keys())
            found = stored_windows(result.all(), keys)
            wanted = set(systems)
            existing: dict[str, list[StoredWindow]] = {name: [] for name in wanted}
            for w in found:
                if w.record.system in wanted:
                    existing[w.record.system].append(w)
            bases = bases_of(conn.execute(bases_query(self.site)).mappings().all())
            changes = plan(ImportScope(existing=existing, around=found, bases=bases))
            self._write_import(conn, changes, who, at)
        return changes

    def _write_import(
        self, conn: sa.Connection, changes: ImportChanges, who: str, at: float
    ) -> None:
        w = tables.windows
        imported = (w.c.site == self.site, w.c.source == "imported")
        # Deletes first: a window extended in place may take the start of one merged away.
        execute_many(conn, sa.delete(w).where(*imported, w.c.id == sa.bindparam("wid")),
                     [{"wid": wid} for wid in changes.delete])
        # New windows an executemany at a time, their ids returned in order: one statement
        # per window was most of an import of 100,000; a chunk at a time keeps the rows'
        # dictionaries from all being held at once (issue 20).
        for first in range(0, len(changes.windows), IMPORT_CHUNK):
            items = changes.windows[first:first + IMPORT_CHUNK]
            rows = [{**window_row(self.site, item.record), **annotations_row(item.annotations),
                     "impact_override": item.impact_override} for item in items]
            for item, values in zip(items, rows, strict=True):
                if item.id is not None:
                    conn.execute(sa.update(w).where(*imported, w.c.id == item.id)
                                 .values(values))
            new = [values for item, values in zip(items, rows, strict=True) if item.id is None]
            ids = iter(conn.execute(
                sa.insert(w).returning(w.c.id, sort_by_parameter_order=True), new,
            ).scalars().all() if new else [])
            wids = [item.id if item.id is not None else int(next(ids)) for item in items]
            self._add_audit(conn, [AuditEntry(wid, at, who, name, before, after)
                                   for item, wid in zip(items, wids, strict=True)
                                   for name, before, after in item.audit])

    def _add_audit(self, conn: sa.Connection, entries: list[AuditEntry]) -> None:
        execute_many(conn, sa.insert(tables.audit), [audit_row(self.site, e) for e in entries])

    def record_basis(self, basis: CostBasis, since: float) -> bool:
        """Record that `basis` is in force from `since`, unless it already is (the latest
        recorded is the same); return True if a row was added."""
        with self._transaction() as conn:
            return self._record_basis(conn, basis, since)

    def _record_basis(self, conn: sa.Connection, basis: CostBasis, since: float) -> bool:
        b = tables.cost_basis
        latest = conn.execute(sa.select(b.c.digest).where(b.c.site == self.site)
                              .order_by(b.c.since.desc(), b.c.id.desc()).limit(1)).scalar()
        if latest == basis.digest:
            return False
        conn.execute(sa.insert(b).values(site=self.site, since=since, digest=basis.digest,
                                         body=basis.to_json()))
        return True

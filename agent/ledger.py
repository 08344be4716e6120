"""The ledger: the only code that opens or commits transactions. SQLite in WAL mode.

Writes go through one writer thread, in order, batched into one transaction per wake-up, so
the event loop never blocks on the disk and a burst of transitions costs one commit. A batch
that fails to commit is kept and retried (with backoff) ahead of anything newer, so nothing
is lost or reordered while the disk is unwell. Reads open their own short-lived connection:
WAL lets a CLI command or the API read while the daemon writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.records import (
    AlertState,
    Amounts,
    Annotations,
    AuditEntry,
    Basis,
    Batch,
    DayRecord,
    ImportChanges,
    WindowRecord,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE windows (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        state TEXT NOT NULL,
        cause TEXT,
        start_ts REAL NOT NULL,
        end_ts REAL,
        before_start REAL,
        before_end REAL,
        last_observed REAL,
        accounted_until REAL NOT NULL,
        downtime_seconds REAL NOT NULL DEFAULT 0,
        degraded_seconds REAL NOT NULL DEFAULT 0,
        cost REAL NOT NULL DEFAULT 0,
        staff_cost REAL NOT NULL DEFAULT 0,
        direct_cost REAL NOT NULL DEFAULT 0,
        hourly_cost_per_user REAL NOT NULL,
        users_share REAL NOT NULL,
        impact REAL NOT NULL,
        direct_cost_per_hour REAL NOT NULL,
        users_at_start REAL NOT NULL,
        new_incident INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT 'live',
        UNIQUE (site, system, start_ts)
    );
    CREATE INDEX windows_open ON windows (site, end_ts);
    CREATE INDEX windows_start ON windows (start_ts);
    CREATE TABLE days (
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        day TEXT NOT NULL,
        cost REAL NOT NULL, staff_cost REAL NOT NULL, direct_cost REAL NOT NULL,
        downtime_seconds REAL NOT NULL, degraded_seconds REAL NOT NULL,
        PRIMARY KEY (site, system, day)
    );
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        at REAL NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        cause TEXT,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX transitions_at ON transitions (at);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL,
        started REAL NOT NULL,
        heartbeat REAL NOT NULL,
        stopped REAL
    );
    """,
    2: """
    CREATE TABLE alert_state (
        site TEXT NOT NULL DEFAULT '',
        rule TEXT NOT NULL,
        key TEXT NOT NULL,
        system TEXT,
        since REAL NOT NULL,
        fired_at REAL,
        last_sent REAL,
        acked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (site, rule, key)
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        rule TEXT NOT NULL,
        status TEXT NOT NULL,
        title TEXT NOT NULL,
        notifiers TEXT NOT NULL
    );
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        system TEXT NOT NULL,
        at REAL NOT NULL,
        until REAL,
        who TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    """,
    # What people add afterwards (outage-agent annotate / void / import), never written by the
    # daemon: UPSERT_WINDOW's DO UPDATE leaves these columns alone. voided_reason NULL = counted.
    3: """
    ALTER TABLE windows ADD COLUMN note TEXT;
    ALTER TABLE windows ADD COLUMN ticket TEXT;
    ALTER TABLE windows ADD COLUMN voided_reason TEXT;
    ALTER TABLE windows ADD COLUMN annotated_cause TEXT;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        window_id INTEGER NOT NULL,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        field TEXT NOT NULL,
        before TEXT,
        after TEXT
    );
    CREATE INDEX audit_window ON audit (site, window_id);
    CREATE INDEX windows_system ON windows (site, system, start_ts);
    """,
}

WINDOW_COLUMNS = (
    "system, state, cause, start_ts, end_ts, before_start, before_end, last_observed, "
    "accounted_until, downtime_seconds, degraded_seconds, cost, staff_cost, direct_cost, "
    "hourly_cost_per_user, users_share, impact, direct_cost_per_hour, users_at_start, "
    "new_incident, reason, source"
)
UPSERT_WINDOW = f"""
INSERT INTO windows (site, {WINDOW_COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (site, system, start_ts) DO UPDATE SET
    state = excluded.state, cause = excluded.cause, end_ts = excluded.end_ts,
    before_end = excluded.before_end, last_observed = excluded.last_observed,
    accounted_until = excluded.accounted_until, downtime_seconds = excluded.downtime_seconds,
    degraded_seconds = excluded.degraded_seconds, cost = excluded.cost,
    staff_cost = excluded.staff_cost, direct_cost = excluded.direct_cost,
    reason = excluded.reason
"""
UPSERT_DAY = """
INSERT INTO days (site, system, day, cost, staff_cost, direct_cost, downtime_seconds,
                  degraded_seconds)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (site, system, day) DO UPDATE SET
    cost = excluded.cost, staff_cost = excluded.staff_cost, direct_cost = excluded.direct_cost,
    downtime_seconds = excluded.downtime_seconds, degraded_seconds = excluded.degraded_seconds
"""
# What people add to a window (migration 3), by the name the audit trail gives each field.
ANNOTATION_FIELDS = {"note": "note", "ticket": "ticket", "voided": "voided_reason",
                     "cause": "annotated_cause"}
ANNOTATION_COLUMNS = ", ".join(ANNOTATION_FIELDS.values())


SQLITE_HEADER = b"SQLite format 3\x00"


def refuse_foreign_file(path: Path) -> None:
    """Raise LedgerError if `path` holds something other than a SQLite database."""
    try:
        with open(path, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LedgerError(f"{path}: {exc.strerror}") from exc
    if header and header != SQLITE_HEADER:
        raise LedgerError(f"{path}: not a SQLite database; refusing to touch it (move it "
                          "aside, with any -wal and -shm files, to start a new ledger)")


def diagnose(path: Path) -> str:
    """Say why a ledger file's folder cannot take writes, when the filesystem can tell us."""
    try:
        stats = os.statvfs(path.parent)
    except OSError as exc:
        return f" ({exc.strerror})"
    if stats.f_flag & os.ST_RDONLY:
        return " (the filesystem is read-only)"
    if stats.f_bavail * stats.f_frsize < 256 * 1024:
        return " (the disk is full)"
    if not os.access(path.parent, os.W_OK):
        return " (no permission to write there)"
    return ""


def _close(conn: sqlite3.Connection | None) -> None:
    """Close a connection that may be broken; a fresh one is opened for the next try."""
    if conn is not None:
        with suppress(sqlite3.Error):
            conn.close()


class LedgerError(Exception):
    """The ledger cannot be opened or used (not a database, wrong schema, unwritable)."""


@dataclass(frozen=True)
class StoredWindow:
    """A window as read back, with the ledger's id."""

    id: int
    record: WindowRecord
    annotations: Annotations = field(default_factory=Annotations)


@dataclass(frozen=True)
class Action:
    """Something a person did while the daemon runs: `ack`, `maintenance` (from `at` until
    `until`) or `maintenance_end`."""

    kind: str
    system: str
    at: float
    until: float | None
    who: str
    note: str = ""
    id: int = 0


@dataclass(frozen=True)
class SystemTotals:
    amounts: Amounts
    incidents: int


def connect(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the numbered migrations this file has not yet seen; refuse a newer schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LedgerError(f"ledger schema {version} is newer than this agent ({SCHEMA_VERSION})")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in _statements(MIGRATIONS[number]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    for part in script.split(";"):
        if part.strip():
            yield part


def _window_row(site: str, r: WindowRecord) -> tuple[object, ...]:
    a, b = r.amounts, r.basis
    return (
        site, r.system, r.state, r.cause, r.start, r.end, r.before_start, r.before_end,
        r.last_observed, r.accounted_until, a.downtime, a.degraded, a.cost, a.staff, a.direct,
        b.hourly_cost_per_user, b.users_share, b.impact, b.direct_cost_per_hour,
        b.users_at_start, int(r.new_incident), r.reason, r.source,
    )


def _day_row(site: str, r: DayRecord) -> tuple[object, ...]:
    a = r.amounts
    return (site, r.system, r.day, a.cost, a.staff, a.direct, a.downtime, a.degraded)


def window_from_row(row: tuple[Any, ...]) -> StoredWindow:
    (wid, system, state, cause, start, end, before_start, before_end, last_observed,
     accounted_until, downtime, degraded, cost, staff, direct, hourly, share, impact,
     direct_rate, users, new_incident, reason, source) = row
    record = WindowRecord(
        system=system, state=state, cause=cause, start=start, end=end,
        before_start=before_start, before_end=before_end, last_observed=last_observed,
        accounted_until=accounted_until,
        amounts=Amounts(cost=cost, staff=staff, direct=direct, downtime=downtime,
                        degraded=degraded),
        basis=Basis(hourly_cost_per_user=hourly, users_share=share, impact=impact,
                    direct_cost_per_hour=direct_rate, users_at_start=users),
        new_incident=bool(new_incident), reason=reason, source=source,
    )
    return StoredWindow(id=wid, record=record)


def annotated_window_from_row(row: tuple[Any, ...]) -> StoredWindow:
    """Given id, WINDOW_COLUMNS and ANNOTATION_COLUMNS, return the window with its notes."""
    stored = window_from_row(row[:-4])
    note, ticket, voided, cause = row[-4:]
    notes = Annotations(note=note, ticket=ticket, voided_reason=voided, cause=cause)
    return StoredWindow(id=stored.id, record=stored.record, annotations=notes)


class Ledger:
    """One SQLite ledger file for one site."""

    def __init__(self, path: Path, site: str = "") -> None:
        self.path = path
        self.site = site
        self._queue: queue.Queue[tuple[Batch | None, concurrent.futures.Future[None]]] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self.healthy = True  # False while commits are failing (the batch is kept for retry)
        self.pending = 0  # records held in memory, not yet committed
        self._backoff = threading.Event()  # waited on between retries (never set)
        self.last_error = ""
        self.run_id: int | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create or migrate the file; raise LedgerError if it is unusable.

        A file that is not a SQLite database, or fails SQLite's quick check, is refused
        before SQLite touches it (or its -wal and -shm files): history is never overwritten.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        refuse_foreign_file(self.path)
        try:
            with closing(connect(self.path)) as conn:
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise LedgerError(f"{self.path}: damaged ({check}); restore it from a "
                                      "backup or move it aside, with its -wal and -shm files")
                conn.execute("PRAGMA journal_mode = WAL")
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def open(self) -> None:
        """Prepare the file and start the writer; raise LedgerError if it is unusable."""
        self.prepare()
        self._thread = threading.Thread(target=self._writer, name="ledger-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit everything queued, then stop the writer."""
        if self._thread is None:
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((None, done))
        self._thread.join(timeout=30)
        self._thread = None

    # --- writing ----------------------------------------------------------------------------

    def submit(self, batch: Batch) -> concurrent.futures.Future[None]:
        """Queue a batch; the future completes once it is committed."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((batch, future))
        return future

    async def commit(self, batch: Batch) -> None:
        """Queue a batch and wait until it is on disk."""
        await asyncio.wrap_future(self.submit(batch))

    def _writer(self) -> None:
        """Commit queued batches in order. A failed commit keeps its records (compacted) and
        retries with backoff, absorbing what arrives meanwhile; nothing is dropped unless the
        agent is stopping and the ledger still cannot be written after a few tries."""
        conn: sqlite3.Connection | None = None
        pending, waiting = Batch(), list[concurrent.futures.Future[None]]()
        failures, delay, stop = 0, 0.1, False
        while True:
            taken = self._take(block=not waiting)
            stop = stop or any(batch is None for batch, _ in taken)
            pending.absorb_all(batch for batch, _ in taken if batch is not None)
            waiting.extend(future for _, future in taken)
            self.pending = pending.size()
            try:
                conn = conn or self._connect()
                self._write(conn, [pending])
            except sqlite3.Error as exc:
                failures += 1
                self._note_failure(exc, failures)
                _close(conn)
                conn = None
                if not (stop and failures > 3):
                    self._backoff.wait(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                log.error("ledger %s: stopping with %d records never written", self.path,
                          pending.size())
            else:
                if failures:
                    log.warning("ledger %s: writable again; %d records written", self.path,
                                pending.size())
                self.healthy, self.last_error, failures, delay = True, "", 0, 0.1
            for future in waiting:
                if not future.done():
                    future.set_result(None)
            pending, waiting, self.pending = Batch(), [], 0
            if stop:
                _close(conn)
                return

    def _take(self, block: bool) -> list[tuple[Batch | None, concurrent.futures.Future[None]]]:
        items = [self._queue.get()] if block else []
        while len(items) < 5000:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path)
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _note_failure(self, exc: Exception, failures: int) -> None:
        """Log the first failure and every change of error (full, then read-only...)."""
        error = f"{exc}{diagnose(self.path)}"
        if failures == 1 or error != self.last_error:
            log.error("ledger %s: commit failed, holding %d records to retry: %s", self.path,
                      self.pending, error)
        self.healthy, self.last_error = False, error

    def _write(self, conn: sqlite3.Connection, batches: list[Batch]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for batch in batches:
                self._write_batch(conn, batch)
            conn.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):  # SQLite may have rolled back already (disk full)
                conn.execute("ROLLBACK")
            raise

    def _write_batch(self, conn: sqlite3.Connection, batch: Batch) -> None:
        site = self.site
        latest = {(w.system, w.start): w for w in batch.windows}  # a batch may repeat a window
        conn.executemany(UPSERT_WINDOW, [_window_row(site, w) for w in latest.values()])
        conn.executemany(UPSERT_DAY, [_day_row(site, d) for d in batch.days])
        conn.executemany(
            "INSERT INTO transitions (site, system, at, old_state, new_state, cause, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(site, t.system, t.at, t.old_state, t.new_state, t.cause, t.reason)
             for t in batch.transitions],
        )
        conn.executemany(
            "INSERT INTO alert_state (site, rule, key, system, since, fired_at, last_sent, acked)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, rule, key) DO UPDATE SET "
            "fired_at = excluded.fired_at, last_sent = excluded.last_sent, "
            "acked = excluded.acked",
            [(site, a.rule, a.key, a.system, a.since, a.fired_at, a.last_sent, int(a.acked))
             for a in batch.alerts],
        )
        conn.executemany("DELETE FROM alert_state WHERE site = ? AND rule = ? AND key = ?",
                         [(site, rule, key) for rule, key in batch.alerts_cleared])
        conn.executemany(
            "INSERT INTO notifications (site, at, rule, status, title, notifiers) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(site, n.at, n.rule, n.status, n.title, ",".join(n.notifiers))
             for n in batch.notifications],
        )
        if batch.prune_before is not None:  # retention: raw history only, never windows
            for table, column in (("transitions", "at"), ("notifications", "at")):
                conn.execute(f"DELETE FROM {table} WHERE site = ? AND {column} < ?",
                             (site, batch.prune_before))
        if batch.heartbeat is not None and self.run_id is not None:
            conn.execute(
                "UPDATE runs SET heartbeat = MAX(heartbeat, ?) WHERE id = ?",
                (batch.heartbeat, self.run_id),
            )

    # --- reading ----------------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(connect(self.path)) as conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def open_windows(self) -> list[StoredWindow]:
        with self._reader() as conn:
            rows = conn.execute(
                f"SELECT id, {WINDOW_COLUMNS} FROM windows "
                "WHERE site = ? AND end_ts IS NULL AND source = 'live' ORDER BY start_ts",
                (self.site,),
            ).fetchall()
        return [window_from_row(row) for row in rows]

    def windows(
        self, start: float, end: float, system: str | None = None,
        states: tuple[str, ...] = ("down", "degraded", "maintenance", "unknown"),
    ) -> list[StoredWindow]:
        """Windows overlapping [start, end), oldest first, with what people added to them
        (a voided window is included: see `StoredWindow.annotations`)."""
        marks = ",".join("?" * len(states))
        sql = (
            f"SELECT id, {WINDOW_COLUMNS}, {ANNOTATION_COLUMNS} FROM windows WHERE site = ? "
            f"AND state IN ({marks}) AND start_ts < ? AND (end_ts IS NULL OR end_ts > ?)"
        )
        params: list[object] = [self.site, *states, end, start]
        if system is not None:
            sql += " AND system = ?"
            params.append(system)
        with self._reader() as conn:
            rows = conn.execute(sql + " ORDER BY start_ts, id", params).fetchall()
        return [annotated_window_from_row(row) for row in rows]

    def first_seen(self) -> dict[str, float]:
        """When each system was first watched: its earliest transition or window."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT system, MIN(t) FROM (SELECT system, at AS t FROM transitions "
                "WHERE site = ? UNION ALL SELECT system, start_ts FROM windows WHERE site = ?) "
                "GROUP BY system", (self.site, self.site),
            ).fetchall()
        return {system: float(first) for system, first in rows}

    def totals(self) -> dict[str, SystemTotals]:
        """Per-system sums of live-recorded windows: where counters resume after a restart."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT system, SUM(cost), SUM(staff_cost), SUM(direct_cost), "
                "SUM(downtime_seconds), SUM(degraded_seconds), SUM(new_incident) "
                "FROM windows WHERE site = ? AND source = 'live' GROUP BY system",
                (self.site,),
            ).fetchall()
        return {
            system: SystemTotals(
                Amounts(cost=c, staff=s, direct=d, downtime=dn, degraded=dg), int(n)
            )
            for system, c, s, d, dn, dg, n in rows
        }

    def days_since(self, first_day: str) -> list[DayRecord]:
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT system, day, cost, staff_cost, direct_cost, downtime_seconds, "
                "degraded_seconds FROM days WHERE site = ? AND day >= ? ORDER BY day",
                (self.site, first_day),
            ).fetchall()
        return [
            DayRecord(system, day, Amounts(cost=c, staff=s, direct=d, downtime=dn, degraded=dg))
            for system, day, c, s, d, dn, dg in rows
        ]

    def alert_states(self) -> list[AlertState]:
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT rule, key, system, since, fired_at, last_sent, acked FROM alert_state "
                "WHERE site = ?", (self.site,)).fetchall()
        return [AlertState(r, k, s, since, f, last, bool(a)) for r, k, s, since, f, last, a
                in rows]

    # --- actions: acknowledgements and ad-hoc maintenance, from the CLI ----------------------

    def add_action(self, action: Action) -> int:
        """Record an action now (from any process); the running daemon picks it up."""
        with closing(connect(self.path)) as conn:
            cursor = conn.execute(
                "INSERT INTO actions (site, kind, system, at, until, who, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.site, action.kind, action.system, action.at, action.until, action.who,
                 action.note))
            return int(cursor.lastrowid or 0)

    def actions_since(self, after_id: int) -> list[Action]:
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT id, kind, system, at, until, who, note FROM actions "
                "WHERE site = ? AND id > ? ORDER BY id", (self.site, after_id)).fetchall()
        return [Action(kind, system, at, until, who, note, id=i)
                for i, kind, system, at, until, who, note in rows]

    # --- the record as people correct it: reports, imports, annotate and void ---------------

    def report_windows(
        self, start: float, end: float, system: str | None = None
    ) -> list[StoredWindow]:
        """Every window overlapping [start, end), in any state and from any source, voided
        ones included, with what people added to it; oldest first."""
        sql = (f"SELECT id, {WINDOW_COLUMNS}, {ANNOTATION_COLUMNS} FROM windows WHERE site = ? "
               "AND start_ts < ? AND (end_ts IS NULL OR end_ts > ?)")
        params: list[object] = [self.site, end, start]
        if system is not None:
            sql += " AND system = ?"
            params.append(system)
        with self._reader() as conn:
            rows = conn.execute(sql + " ORDER BY start_ts, id", params).fetchall()
        return [annotated_window_from_row(row) for row in rows]

    def window(self, window_id: int) -> StoredWindow | None:
        with self._reader() as conn:
            row = conn.execute(
                f"SELECT id, {WINDOW_COLUMNS}, {ANNOTATION_COLUMNS} FROM windows "
                "WHERE site = ? AND id = ?", (self.site, window_id)).fetchone()
        return annotated_window_from_row(row) if row else None

    def audit_trail(self, window_ids: Iterable[int] | None = None) -> list[AuditEntry]:
        """The audit trail, oldest first: of the given windows, or of every window."""
        sql = ("SELECT a.window_id, a.at, a.who, a.field, a.before, a.after, "
               "COALESCE(w.system, '') FROM audit a LEFT JOIN windows w ON w.id = a.window_id "
               "WHERE a.site = ?")
        with self._reader() as conn:
            rows = conn.execute(sql + " ORDER BY a.at, a.id", (self.site,)).fetchall()
        wanted = None if window_ids is None else set(window_ids)
        return [AuditEntry(*row) for row in rows if wanted is None or row[0] in wanted]

    def annotate(
        self, window_id: int, changes: dict[str, str | None], who: str, at: float
    ) -> list[AuditEntry]:
        """Set fields of one window (note, ticket, cause, voided: see ANNOTATION_FIELDS) and
        add an audit row for each that changes, in one transaction. Return the audit rows
        written (none if nothing changed); raise LedgerError if there is no such window."""
        unknown = set(changes) - set(ANNOTATION_FIELDS)
        if unknown:
            raise ValueError(f"not an annotation: {', '.join(sorted(unknown))}")
        with self._transaction() as conn:
            row = conn.execute(f"SELECT {ANNOTATION_COLUMNS} FROM windows WHERE site = ? AND "
                               "id = ?", (self.site, window_id)).fetchone()
            if row is None:
                raise LedgerError(f"no window with id {window_id} in {self.path}")
            current = dict(zip(ANNOTATION_FIELDS, row, strict=True))
            entries = [AuditEntry(window_id, at, who, name, current[name], value)
                       for name, value in changes.items() if current[name] != value]
            for entry in entries:
                conn.execute(f"UPDATE windows SET {ANNOTATION_FIELDS[entry.field]} = ? "
                             "WHERE id = ?", (entry.after, window_id))
            self._add_audit(conn, entries)
        return entries

    def import_windows(
        self, spans: dict[str, tuple[float, float]],
        plan: Callable[[dict[str, list[StoredWindow]]], ImportChanges],
        who: str, at: float, dry_run: bool = False,
    ) -> ImportChanges:
        """Read every window of each system overlapping its (start, end) span, ask `plan`
        what to write given them, and write it, all in one transaction, so a daemon or
        another import cannot change the windows between reading and writing. With dry_run
        the transaction is rolled back. Return the changes."""
        with self._transaction(commit=not dry_run) as conn:
            existing = {
                name: [annotated_window_from_row(row) for row in conn.execute(
                    f"SELECT id, {WINDOW_COLUMNS}, {ANNOTATION_COLUMNS} FROM windows "
                    "WHERE site = ? AND system = ? AND start_ts <= ? "
                    "AND (end_ts IS NULL OR end_ts >= ?) ORDER BY start_ts, id",
                    (self.site, name, end, start)).fetchall()]
                for name, (start, end) in spans.items()
            }
            changes = plan(existing)
            self._write_import(conn, changes, who, at)
        return changes

    def _write_import(
        self, conn: sqlite3.Connection, changes: ImportChanges, who: str, at: float
    ) -> None:
        # Deletes first: a window extended in place may take the start of one merged away.
        conn.executemany("DELETE FROM windows WHERE site = ? AND id = ? AND source = 'imported'",
                         [(self.site, wid) for wid in changes.delete])
        settable = [*WINDOW_COLUMNS.split(", "), *ANNOTATION_FIELDS.values()]
        for item in changes.windows:
            notes = item.annotations
            values = (*_window_row(self.site, item.record)[1:], notes.note, notes.ticket,
                      notes.voided_reason, notes.cause)
            if item.id is None:
                cursor = conn.execute(
                    f"INSERT INTO windows (site, {', '.join(settable)}) "
                    f"VALUES ({', '.join('?' * (len(settable) + 1))})", (self.site, *values))
                wid = int(cursor.lastrowid or 0)
            else:
                wid = item.id
                assignments = ", ".join(f"{column} = ?" for column in settable)
                conn.execute(f"UPDATE windows SET {assignments} WHERE site = ? AND id = ? "
                             "AND source = 'imported'", (*values, self.site, wid))
            self._add_audit(conn, [AuditEntry(wid, at, who, name, before, after)
                                   for name, before, after in item.audit])

    def _add_audit(self, conn: sqlite3.Connection, entries: list[AuditEntry]) -> None:
        conn.executemany(
            "INSERT INTO audit (site, window_id, at, who, field, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self.site, e.window_id, e.at, e.who, e.field, e.before, e.after)
             for e in entries])

    @contextmanager
    def _transaction(self, commit: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction from the CLI process, beside the daemon's writer thread."""
        try:
            with closing(connect(self.path)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    # --- runs (when the agent was watching) --------------------------------------------------

    def start_run(self, version: str, now: float) -> float | None:
        """Record a new run; return the last heartbeat of the previous one, if any."""
        with closing(connect(self.path)) as conn:
            row = conn.execute(
                "SELECT MAX(heartbeat) FROM runs WHERE site = ?", (self.site,)
            ).fetchone()
            cursor = conn.execute(
                "INSERT INTO runs (site, version, started, heartbeat) VALUES (?, ?, ?, ?)",
                (self.site, version, now, now),
            )
            self.run_id = cursor.lastrowid
        return row[0] if row else None

    def backup(self, destination: Path) -> None:
        """A consistent copy of the ledger, taken online with SQLite's backup API (the
        daemon keeps writing meanwhile)."""
        if destination.exists():
            raise LedgerError(f"{destination}: already exists; not overwriting it")
        try:
            with self._reader() as source, closing(sqlite3.connect(destination)) as target:
                source.backup(target, pages=1024)
                check = target.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error as exc:
            raise LedgerError(f"backup to {destination}: {exc}") from exc
        if check != "ok":
            raise LedgerError(f"backup to {destination}: the copy failed its check ({check})")

    def stop_run(self, now: float) -> None:
        """Mark the run as stopped cleanly (after the writer has drained)."""
        with closing(connect(self.path)) as conn:
            conn.execute(
                "UPDATE runs SET heartbeat = MAX(heartbeat, ?), stopped = ? WHERE id = ?",
                (now, now, self.run_id),
            )

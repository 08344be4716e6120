"""The ledger: the only code that opens or commits transactions, through SQLAlchemy Core.

One code path for two stores: a SQLite file in WAL mode (one agent, the default) or a
PostgreSQL database many agents share, each writing its own site's rows. Writes go through one
writer thread, in order, batched into one transaction per wake-up, so the event loop never
blocks on the database and a burst of transitions costs one commit. A batch that fails to
commit (a full disk, a lost connection) is kept and retried with backoff ahead of anything
newer, so nothing is lost or reordered while the store is unwell. Reads take their own short
connection: WAL (or PostgreSQL) lets a CLI command or the API read while the daemon writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import NullPool

from agent.basis import CostBasis
from agent.journal import Journal, journal_path
from agent.model import AgentConfig
from agent.records import (
    AlertState,
    Amounts,
    Annotations,
    AuditEntry,
    Basis,
    Batch,
    DayRecord,
    GroupDayRecord,
    ImportChanges,
    NotificationRecord,
    OutboxRecord,
    TransitionRecord,
    WindowRecord,
)
from agent.shard import format_shard

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0  # waiting for a lock, or for a connection
RETRY_LOCK_WAIT = 0.25  # waiting for a SQLite lock once commits are failing (the journal has it)
SCHEMA_VERSION = 7
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE windows (
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        state TEXT NOT NULL,
        cause TEXT,
        start_ts {real} NOT NULL,
        end_ts {real},
        before_start {real},
        before_end {real},
        last_observed {real},
        accounted_until {real} NOT NULL,
        downtime_seconds {real} NOT NULL DEFAULT 0,
        degraded_seconds {real} NOT NULL DEFAULT 0,
        cost {real} NOT NULL DEFAULT 0,
        staff_cost {real} NOT NULL DEFAULT 0,
        direct_cost {real} NOT NULL DEFAULT 0,
        hourly_cost_per_user {real} NOT NULL,
        users_share {real} NOT NULL,
        impact {real} NOT NULL,
        direct_cost_per_hour {real} NOT NULL,
        users_at_start {real} NOT NULL,
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
        cost {real} NOT NULL, staff_cost {real} NOT NULL, direct_cost {real} NOT NULL,
        downtime_seconds {real} NOT NULL, degraded_seconds {real} NOT NULL,
        PRIMARY KEY (site, system, day)
    );
    CREATE TABLE transitions (
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        at {real} NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        cause TEXT,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX transitions_at ON transitions (at);
    CREATE TABLE runs (
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL,
        started {real} NOT NULL,
        heartbeat {real} NOT NULL,
        stopped {real}
    );
    """,
    2: """
    CREATE TABLE alert_state (
        site TEXT NOT NULL DEFAULT '',
        rule TEXT NOT NULL,
        key TEXT NOT NULL,
        system TEXT,
        since {real} NOT NULL,
        fired_at {real},
        last_sent {real},
        acked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (site, rule, key)
    );
    CREATE TABLE notifications (
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        at {real} NOT NULL,
        rule TEXT NOT NULL,
        status TEXT NOT NULL,
        title TEXT NOT NULL,
        notifiers TEXT NOT NULL
    );
    CREATE TABLE actions (
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        system TEXT NOT NULL,
        at {real} NOT NULL,
        until {real},
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
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        window_id INTEGER NOT NULL,
        at {real} NOT NULL,
        who TEXT NOT NULL,
        field TEXT NOT NULL,
        before TEXT,
        after TEXT
    );
    CREATE INDEX audit_window ON audit (site, window_id);
    CREATE INDEX windows_system ON windows (site, system, start_ts);
    """,
    # Many agents on one database: each run says which shard of its site it was, and each
    # agent records the systems it watches, so a report knows which sites could see each one.
    4: """
    ALTER TABLE runs ADD COLUMN shard TEXT NOT NULL DEFAULT '';
    CREATE TABLE watched (
        site TEXT NOT NULL,
        system TEXT NOT NULL,
        since {real} NOT NULL,
        PRIMARY KEY (site, system)
    );
    """,
    # Cost model 2: what each group of people lost per day (outage_group_cost_total), every
    # distinct cost basis with the time it came into force, and an imported window's own
    # impact (NULL: the system's configured one).
    5: """
    CREATE TABLE group_days (
        site TEXT NOT NULL DEFAULT '',
        grp TEXT NOT NULL,
        day TEXT NOT NULL,
        cost {real} NOT NULL,
        PRIMARY KEY (site, grp, day)
    );
    CREATE TABLE cost_basis (
        id {serial},
        site TEXT NOT NULL DEFAULT '',
        since {real} NOT NULL,
        digest TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX cost_basis_since ON cost_basis (site, since);
    ALTER TABLE windows ADD COLUMN impact_override {real};
    """,
    # 6 is repair_windows, in code. 7: the notification outbox, so a restart delivers what
    # was queued, and a message is known by its id however often it is retried.
    7: """
    CREATE TABLE outbox (
        site TEXT NOT NULL DEFAULT '',
        notifier TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message TEXT NOT NULL,
        state TEXT NOT NULL,
        created {real} NOT NULL,
        updated {real} NOT NULL,
        PRIMARY KEY (site, notifier, message_id)
    );
    CREATE INDEX outbox_queued ON outbox (site, state);
    """,
}


WINDOW_COLUMNS = (
    "system, state, cause, start_ts, end_ts, before_start, before_end, last_observed, "
    "accounted_until, downtime_seconds, degraded_seconds, cost, staff_cost, direct_cost, "
    "hourly_cost_per_user, users_share, impact, direct_cost_per_hour, users_at_start, "
    "new_incident, reason, source"
)
_WINDOW_NAMES = WINDOW_COLUMNS.split(", ")
_WINDOW_VALUES = ", ".join(f":{name}" for name in _WINDOW_NAMES)
UPSERT_WINDOW = sa.text(f"""
INSERT INTO windows (site, {WINDOW_COLUMNS})
VALUES (:site, {_WINDOW_VALUES})
ON CONFLICT (site, system, start_ts) DO UPDATE SET
    state = excluded.state, cause = excluded.cause, end_ts = excluded.end_ts,
    before_end = excluded.before_end, last_observed = excluded.last_observed,
    accounted_until = excluded.accounted_until, downtime_seconds = excluded.downtime_seconds,
    degraded_seconds = excluded.degraded_seconds, cost = excluded.cost,
    staff_cost = excluded.staff_cost, direct_cost = excluded.direct_cost,
    reason = excluded.reason
""")
UPSERT_OUTBOX = sa.text("""
INSERT INTO outbox (site, notifier, message_id, message, state, created, updated)
VALUES (:site, :notifier, :message_id, :message, :state, :at, :at)
ON CONFLICT (site, notifier, message_id) DO UPDATE SET
    state = excluded.state, updated = excluded.updated
""")
UPSERT_GROUP_DAY = sa.text("""
INSERT INTO group_days (site, grp, day, cost) VALUES (:site, :grp, :day, :cost)
ON CONFLICT (site, grp, day) DO UPDATE SET cost = excluded.cost
""")
UPSERT_DAY = sa.text("""
INSERT INTO days (site, system, day, cost, staff_cost, direct_cost, downtime_seconds,
                  degraded_seconds)
VALUES (:site, :system, :day, :cost, :staff, :direct, :downtime, :degraded)
ON CONFLICT (site, system, day) DO UPDATE SET
    cost = excluded.cost, staff_cost = excluded.staff_cost, direct_cost = excluded.direct_cost,
    downtime_seconds = excluded.downtime_seconds, degraded_seconds = excluded.degraded_seconds
""")
# What people add to a window (migration 3), by the name the audit trail gives each field.
ANNOTATION_FIELDS = {"note": "note", "ticket": "ticket", "voided": "voided_reason",
                     "cause": "annotated_cause"}
ANNOTATION_COLUMNS = ", ".join(ANNOTATION_FIELDS.values())
_SELECT_WINDOWS = (f"SELECT id, {WINDOW_COLUMNS}, {ANNOTATION_COLUMNS}, impact_override "
                   "FROM windows")


@dataclass(frozen=True)
class Dialect:
    """What differs between the two stores: a few words of DDL and how writers serialise."""

    serial: str  # an auto-numbered primary key
    real: str  # a 64-bit float: PostgreSQL's REAL is 32 bits, too coarse for a timestamp
    # Taken at the start of a migration or a CLI write: one at a time across every agent.
    # SQLite needs none (BEGIN IMMEDIATE already takes the database's one write lock).
    write_lock: str | None


DIALECTS = {
    "sqlite": Dialect(serial="INTEGER PRIMARY KEY", real="REAL", write_lock=None),
    "postgresql": Dialect(serial="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                          real="DOUBLE PRECISION",
                          write_lock="SELECT pg_advisory_xact_lock(7300432761)"),
}


def migration_sql(number: int, dialect: str) -> list[str]:
    """The statements of migration `number` in the words of `dialect`."""
    words = DIALECTS[dialect]
    script = MIGRATIONS[number].format(serial=words.serial, real=words.real)
    return [part for part in script.split(";") if part.strip()]


def ledger_url(location: str | Path | sa.URL) -> sa.URL:
    """Given a path (a SQLite file) or a database URL, return its SQLAlchemy URL; raise
    LedgerError for a store the ledger cannot use. No message quotes the URL, which may hold
    a password."""
    if isinstance(location, sa.URL):
        return location
    text = str(location)
    if "://" not in text:
        return sa.URL.create("sqlite", database=text)
    stores = "give a file path, sqlite:///path or postgresql+psycopg://host/database"
    bad_port = ("not a database URL: the port must be a number from 1 to 65535, and an IPv6 "
                "address goes in brackets: postgresql+psycopg://[::1]:5432/database")
    try:
        url = sa.make_url(text)
    except sa_exc.ArgumentError:
        raise LedgerError(f"not a database URL: {stores}") from None
    except ValueError:  # SQLAlchemy's int() of the port: `:abc`, or `[::1` unclosed
        raise LedgerError(bad_port) from None
    if url.port is not None and not 1 <= url.port <= 65535:
        raise LedgerError(bad_port)
    backend = url.get_backend_name()
    if backend == "postgresql":
        if importlib.util.find_spec("psycopg") is None:
            raise LedgerError("a PostgreSQL ledger needs psycopg 3: "
                              "pip install 'outage-cost-agent[postgresql]'")
        return url.set(drivername="postgresql+psycopg")  # psycopg 3, whatever was written
    if backend != "sqlite":
        raise LedgerError(f"unsupported ledger store {backend!r}: {stores}")
    return url


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


def diagnose(path: Path | None) -> str:
    """Say why a ledger file's folder cannot take writes, when the filesystem can tell us."""
    if path is None:
        return ""
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


def reason(exc: BaseException) -> str:
    """The database's own words for an error, without SQLAlchemy's statement and links."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip()
    return str(exc)


class LedgerError(Exception):
    """The ledger cannot be opened or used (not a database, wrong schema, unreachable)."""


@dataclass(frozen=True)
class StoredWindow:
    """A window as read back, with the ledger's id."""

    id: int
    record: WindowRecord
    annotations: Annotations = field(default_factory=Annotations)
    impact_override: float | None = None  # an imported window's own impact
    recorded: Amounts | None = None  # the ledger's figures, where `record` shows a report's


@dataclass(frozen=True)
class ImportScope:
    """What an import plans against, read in its transaction: each imported system's
    windows touching the file's span, every window overlapping it, and the cost bases."""

    existing: dict[str, list[StoredWindow]]
    around: list[StoredWindow]
    bases: list[tuple[float, CostBasis]]


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


def make_engine(url: sa.URL) -> sa.Engine:
    """An engine for the ledger's store. SQLite: a connection per use (nothing held open
    between reads, as the old file-per-call code did), transactions begun by us, so a writer
    takes the write lock at BEGIN rather than failing half-way; PostgreSQL: a small pool,
    checked before use, so a restarted server costs one failed try, not a wedged agent."""
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, poolclass=NullPool,
                                  connect_args={"timeout": TIMEOUT_SECONDS})
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4,
                            connect_args={"connect_timeout": int(TIMEOUT_SECONDS)})


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN: _sqlite_begin says which
    dbapi_connection.execute(f"PRAGMA busy_timeout = {int(TIMEOUT_SECONDS * 1000)}")
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints


def _sqlite_begin(conn: sa.Connection) -> None:
    reading = conn.get_execution_options().get("ledger_read", False)
    conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _window_row(site: str, r: WindowRecord) -> dict[str, object]:
    a, b = r.amounts, r.basis
    return {
        "site": site, "system": r.system, "state": r.state, "cause": r.cause,
        "start_ts": r.start, "end_ts": r.end, "before_start": r.before_start,
        "before_end": r.before_end, "last_observed": r.last_observed,
        "accounted_until": r.accounted_until, "downtime_seconds": a.downtime,
        "degraded_seconds": a.degraded, "cost": a.cost, "staff_cost": a.staff,
        "direct_cost": a.direct, "hourly_cost_per_user": b.hourly_cost_per_user,
        "users_share": b.users_share, "impact": b.impact,
        "direct_cost_per_hour": b.direct_cost_per_hour, "users_at_start": b.users_at_start,
        "new_incident": int(r.new_incident), "reason": r.reason, "source": r.source,
    }


def _day_row(site: str, r: DayRecord) -> dict[str, object]:
    a = r.amounts
    return {"site": site, "system": r.system, "day": r.day, "cost": a.cost, "staff": a.staff,
            "direct": a.direct, "downtime": a.downtime, "degraded": a.degraded}


def window_from_row(row: Iterable[Any]) -> StoredWindow:
    (wid, system, state, cause, start, end, before_start, before_end, last_observed,
     accounted_until, downtime, degraded, cost, staff, direct, hourly, share, impact,
     direct_rate, users, new_incident, reason_, source) = row
    record = WindowRecord(
        system=system, state=state, cause=cause, start=start, end=end,
        before_start=before_start, before_end=before_end, last_observed=last_observed,
        accounted_until=accounted_until,
        amounts=Amounts(cost=cost, staff=staff, direct=direct, downtime=downtime,
                        degraded=degraded),
        basis=Basis(hourly_cost_per_user=hourly, users_share=share, impact=impact,
                    direct_cost_per_hour=direct_rate, users_at_start=users),
        new_incident=bool(new_incident), reason=reason_, source=source,
    )
    return StoredWindow(id=wid, record=record)


def annotated_window_from_row(row: Sequence[Any]) -> StoredWindow:
    """Given id, WINDOW_COLUMNS, ANNOTATION_COLUMNS and impact_override, return the window
    with its notes."""
    stored = window_from_row(row[:-5])
    note, ticket, voided, cause, impact = row[-5:]
    notes = Annotations(note=note, ticket=ticket, voided_reason=voided, cause=cause)
    return StoredWindow(id=stored.id, record=stored.record, annotations=notes,
                        impact_override=impact)


def schema_version(conn: sa.Connection) -> int:
    """The schema's version: the ledger_schema table's, or (a SQLite file from before that
    table) the file's user_version."""
    if sa.inspect(conn).has_table("ledger_schema"):
        return int(conn.execute(sa.text("SELECT MAX(version) FROM ledger_schema")).scalar() or 0)
    if conn.dialect.name == "sqlite":
        return int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    return 0


def take_write_lock(conn: sa.Connection) -> None:
    """In the transaction `conn` is in, wait for the store's one CLI-and-migration write
    lock, if its dialect needs one taken."""
    lock = DIALECTS[conn.dialect.name].write_lock
    if lock:
        conn.exec_driver_sql(lock)


# A window never ends before it starts, nor counts more downtime than it lasts (a millisecond
# of rounding allowed): what a wall clock behind the ledger once produced.
SANE_WINDOW = ("(end_ts IS NULL OR end_ts >= start_ts) AND (end_ts IS NULL OR "
               "downtime_seconds <= end_ts - start_ts + 0.001)")
_NEW_ROW_SANE = (SANE_WINDOW.replace("end_ts", "NEW.end_ts").replace("start_ts", "NEW.start_ts")
                 .replace("downtime_seconds", "NEW.downtime_seconds"))
SANE_WINDOW_TRIGGERS = [  # SQLite cannot add a CHECK to a table; triggers enforce the same
    f"CREATE TRIGGER windows_sane_{event.lower()} BEFORE {event} ON windows "
    f"WHEN NOT ({_NEW_ROW_SANE}) BEGIN SELECT RAISE(ABORT, 'a window must not end before it "
    "starts, nor count more downtime than it lasts'); END"
    for event in ("INSERT", "UPDATE")
]
REPAIRER = "outage-agent (schema 6)"


def repair_windows(conn: sa.Connection, at: float) -> None:
    """Migration 6: clamp the windows that break SANE_WINDOW (an end before the start moves to
    the start; downtime beyond the length is cut to it), each logged and in the audit trail,
    then enforce it for good: a CHECK on PostgreSQL, triggers on SQLite."""
    rows = conn.execute(sa.text(
        "SELECT id, site, system, start_ts, end_ts, downtime_seconds FROM windows "
        f"WHERE NOT ({SANE_WINDOW})")).all()
    for wid, site, system, start, end, downtime in rows:
        fixed_end = max(end, start)
        fixed_downtime = min(downtime, fixed_end - start)
        conn.execute(sa.text("UPDATE windows SET end_ts = :end, downtime_seconds = :downtime "
                             "WHERE id = :id"),
                     {"end": fixed_end, "downtime": fixed_downtime, "id": wid})
        before = f"end {end}, downtime {downtime}s"
        after = f"end {fixed_end}, downtime {fixed_downtime}s"
        conn.execute(sa.text(
            "INSERT INTO audit (site, window_id, at, who, field, before, after) "
            "VALUES (:site, :id, :at, :who, 'repaired', :before, :after)"),
            {"site": site, "id": wid, "at": at, "who": REPAIRER, "before": before,
             "after": after})
        log.warning("ledger: window %s of %s ended before it started or counted more downtime "
                    "than it lasted (%s); repaired to %s", wid, system, before, after)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE windows ADD CONSTRAINT windows_sane CHECK "
                             f"({SANE_WINDOW})")
    else:
        for statement in SANE_WINDOW_TRIGGERS:
            conn.exec_driver_sql(statement)


CODE_MIGRATIONS: dict[int, Callable[[sa.Connection, float], None]] = {6: repair_windows}


def migrate(conn: sa.Connection, at: float) -> None:
    """In the transaction `conn` is in, apply the numbered migrations the store has not yet
    seen; raise LedgerError for a newer schema. Agents starting together take turns."""
    dialect = conn.dialect.name
    take_write_lock(conn)
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise LedgerError(f"ledger schema {version} is newer than this agent ({SCHEMA_VERSION})")
    if version == SCHEMA_VERSION:
        return
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS ledger_schema ("
                         f"version INTEGER PRIMARY KEY, applied {DIALECTS[dialect].real})")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        if number in CODE_MIGRATIONS:
            CODE_MIGRATIONS[number](conn, at)
        else:
            for statement in migration_sql(number, dialect):
                conn.exec_driver_sql(statement)
        conn.execute(sa.text("INSERT INTO ledger_schema (version, applied) VALUES (:v, :at)"),
                     {"v": number, "at": at})
    if dialect == "sqlite":  # agents from before ledger_schema read this, and refuse newer
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


class Ledger:
    """The ledger of one site (and, sharded, one agent of it) in a SQLite file or a shared
    PostgreSQL database."""

    def __init__(self, location: str | Path | sa.URL, site: str = "", shard: str = "") -> None:
        self.url = ledger_url(location)
        self.site = site
        self.shard = shard
        sqlite = self.url.get_backend_name() == "sqlite"
        self.path = Path(self.url.database or "") if sqlite else None  # SQLite's file
        # What the logs and messages call it: never with the password.
        self.name = str(self.path) if self.path else self.url.render_as_string(True)
        self._engine: sa.Engine | None = None
        self._queue: queue.Queue[tuple[Batch | None, concurrent.futures.Future[bool]]] = (
            queue.Queue()
        )
        # What cannot be committed yet is kept here, so a crash cannot lose it (agent.journal).
        self._journal_failing = False
        self.journal = Journal(journal_path(
            self.path, f"{self.url.render_as_string(True)}\0{site}\0{shard}"))
        self._thread: threading.Thread | None = None
        self.healthy = True  # False while commits are failing (the batch is kept for retry)
        self.pending = 0  # records held in memory, not yet committed
        self._backoff = threading.Event()  # waited on between retries (never set)
        self.last_error = ""
        self.run_id: int | None = None
        self._claim: Any = None  # what holds the ledger for this agent alone (see claim)

    @classmethod
    def of(cls, agent: AgentConfig) -> Ledger:
        """The ledger an agent's configuration names, as that agent (site and shard)."""
        return cls(agent.ledger, agent.site, format_shard(agent.shard))

    def for_site(self, site: str) -> Ledger:
        """The same store read as another site (a report across sites), on this one's
        connections."""
        other = Ledger(self.url, site)
        other._engine = self.engine
        return other

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def exists(self) -> bool:
        """False for a SQLite file never created (a database server is asked, not assumed)."""
        return self.path is None or self.path.exists()

    # --- lifecycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create or migrate the store; raise LedgerError if it is unusable.

        A file that is not a SQLite database, or fails SQLite's quick check, is refused
        before SQLite touches it (or its -wal and -shm files): history is never overwritten.
        """
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            refuse_foreign_file(self.path)
        try:
            if self.path is not None:
                self._check_sqlite_file()
            with self.engine.begin() as conn:
                migrate(conn, time.time())
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: {reason(exc)}") from exc

    def _check_sqlite_file(self) -> None:
        """Refuse a damaged file, or one whose numbers a person edited into text, with one
        line saying what to do; then put it in WAL mode."""
        damaged = ("restore it from a backup (outage-agent backup) or move it aside, with its "
                   "-wal and -shm files, to start a new ledger")
        try:
            raw = self.engine.raw_connection()  # no transaction: WAL cannot be set inside one
        except (sqlite3.Error, sa_exc.SQLAlchemyError) as exc:
            raise LedgerError(f"{self.name}: damaged ({reason(exc)}); {damaged}") from exc
        try:
            cursor = raw.cursor()
            check = cursor.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise LedgerError(f"{self.name}: damaged ({check}); {damaged}")
            _refuse_text_in_numbers(cursor, self.name)
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.name}: damaged ({exc}); {damaged}") from exc
        finally:
            raw.close()

    def open(self) -> None:
        """Prepare the store, write what the journal kept from a run that could not, and start
        the writer; raise LedgerError if the store is unusable or the journal cannot be
        written to it (the journal is then kept for the next try)."""
        self.prepare()
        self.replay_journal()
        self._thread = threading.Thread(target=self._writer, name="ledger-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit everything queued, then stop the writer."""
        if self._thread is None:
            return
        done: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self._queue.put((None, done))
        self._thread.join(timeout=30)
        self._thread = None

    def dispose(self) -> None:
        """Close pooled connections (PostgreSQL): the end of a CLI command or of the agent."""
        self.release()
        if self._engine is not None:
            self._engine.dispose()

    # --- one agent per ledger identity ---------------------------------------------------------

    def claim(self) -> None:
        """Take the ledger for this agent alone, for as long as it runs: two agents on one
        SQLite file, or on one site and shard of a PostgreSQL database, would each bill every
        outage. Raise LedgerError, saying who holds it, if another agent does. Readers and
        the CLI's own writes (report, import, ack...) never need it."""
        if self._claim is not None:
            return
        if self.path is not None:
            self._claim = _claim_file(self.path.with_name(self.path.name + ".lock"),
                                      self.site, self.shard)
        else:
            self._claim = self._claim_advisory()

    def release(self) -> None:
        """Give the ledger back (at stop; the kernel or the server does it if we die)."""
        claim, self._claim = self._claim, None
        if claim is not None:
            with suppress(OSError, sa_exc.SQLAlchemyError):
                claim.close()

    def _claim_advisory(self) -> sa.Connection:
        """A session-level PostgreSQL advisory lock keyed by site and shard, held on a
        connection of its own: released at stop, or by the server when the session dies."""
        digest = hashlib.sha256(f"outage-agent\0{self.site}\0{self.shard}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        try:
            conn = self.engine.connect()
            taken = conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                 {"key": key}).scalar()
            conn.commit()
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: {reason(exc)}") from exc
        if not taken:
            conn.close()
            raise LedgerError(f"{self.name}: another agent already runs on site "
                              f"{self.site or '(none)'}{_shard_words(self.shard)} of this "
                              "ledger; two would bill every outage twice. Stop it first, or "
                              "give this agent its own agent.site or agent.shard")
        return conn

    # --- writing ----------------------------------------------------------------------------

    def submit(self, batch: Batch) -> concurrent.futures.Future[bool]:
        """Queue a batch; the future completes once it is safe: True once committed, False
        once kept in the journal because the store cannot take it yet."""
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self._queue.put((batch, future))
        return future

    async def commit(self, batch: Batch) -> None:
        """Queue a batch and wait until it is stored."""
        await asyncio.wrap_future(self.submit(batch))

    def _writer(self) -> None:
        """Commit queued batches in order. A failed commit keeps its records (compacted) in
        memory and in the journal, and retries with backoff, absorbing what arrives meanwhile;
        nothing is dropped unless the agent is stopping and the ledger still cannot be
        written after a few tries (the journal still has it, for the next start)."""
        conn: sa.Connection | None = None
        pending, waiting = Batch(), list[concurrent.futures.Future[bool]]()
        failures, delay, stop = 0, 0.1, False
        while True:
            taken = self._take(block=not waiting)
            stop = stop or any(batch is None for batch, _ in taken)
            pending.absorb_all(batch for batch, _ in taken if batch is not None)
            waiting.extend(future for _, future in taken)
            self.pending = pending.size()
            if failures:  # kept safe first: the next try may block until the store's timeout
                self._keep(pending, waiting, again=False)
            try:
                conn = conn or self.engine.connect()
                if failures and self.path is not None:  # failing: try often, wait little
                    cast(sqlite3.Connection, conn.connection.driver_connection).execute(
                        f"PRAGMA busy_timeout = {int(RETRY_LOCK_WAIT * 1000)}")
                with conn.begin():
                    self._write_batch(conn, pending)
            except sa_exc.SQLAlchemyError as exc:
                failures += 1
                self._note_failure(exc, failures)
                _close(conn)
                conn = None
                self._keep(pending, waiting)
                if not (stop and failures > 3):
                    stop = self._back_off(delay, pending, waiting) or stop
                    delay = min(delay * 2, 5.0)
                    continue
                log.error("ledger %s: stopping with %d records not written; the journal %s "
                          "keeps them for the next start", self.name, pending.size(),
                          self.journal.path)
            else:
                if failures:
                    log.warning("ledger %s: writable again; %d records written", self.name,
                                pending.size())
                    self.journal.clear()
                self.healthy, self.last_error, failures, delay = True, "", 0, 0.1
                _resolve(waiting, True)
            _resolve(waiting, False)
            pending, waiting, self.pending = Batch(), [], 0
            if stop:
                _close(conn)
                return

    def _keep(self, pending: Batch, waiting: list[concurrent.futures.Future[bool]],
              again: bool = True) -> None:
        """Journal what is held back, and let the batches waiting go on (safe, though not
        committed, unless the journal cannot be written either). Unless `again`, a journal
        that failed last time is not tried until the next commit: its disk is the ledger's,
        unwell too, and must be let go of (to be remounted)."""
        if again or not self._journal_failing:
            try:
                self.journal.keep(pending)
                self._journal_failing = False
            except OSError as exc:  # the local disk too: held in memory only, and said so
                if not self._journal_failing:
                    log.error("ledger %s: cannot keep the journal %s either (%s): the held "
                              "records are in memory only until one of them can be written",
                              self.name, self.journal.path, exc.strerror)
                self._journal_failing = True
        _resolve(waiting, False)  # as safe as they can be made: waiting longer gains nothing

    def _back_off(self, delay: float, pending: Batch,
                  waiting: list[concurrent.futures.Future[bool]]) -> bool:
        """Wait `delay` before the next try, journaling what arrives meanwhile at once (a
        scrape waits for its figures to be safe); return True if told to stop."""
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            try:
                batch, future = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            waiting.append(future)
            if batch is None:
                return True
            pending.absorb_all([batch])
            self.pending = pending.size()
            self._keep(pending, waiting, again=False)
        return False

    def replay_journal(self) -> None:
        """Write what the journal kept into the store (transitions and notifications already
        there are not written twice), then remove it; raise LedgerError if it cannot."""
        try:
            kept = self.journal.read()
        except ValueError as exc:
            raise LedgerError(f"{exc}; move it aside to start without it") from exc
        if kept is None:
            return
        try:
            with self.engine.begin() as conn:
                kept.transitions = [t for t in kept.transitions
                                    if not self._transition_recorded(conn, t)]
                kept.notifications = [n for n in kept.notifications
                                      if not self._notification_recorded(conn, n)]
                self._write_batch(conn, kept)
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: cannot write the {kept.size()} records the "
                              f"journal {self.journal.path} kept: {reason(exc)}") from exc
        log.warning("ledger %s: %d records a previous run could not commit written from the "
                    "journal", self.name, kept.size())
        self.journal.clear()

    def _transition_recorded(self, conn: sa.Connection, t: TransitionRecord) -> bool:
        return conn.execute(sa.text(
            "SELECT 1 FROM transitions WHERE site = :site AND system = :system AND at = :at "
            "AND new_state = :state"),
            {"site": self.site, "system": t.system, "at": t.at, "state": t.new_state}
        ).first() is not None

    def _notification_recorded(self, conn: sa.Connection, n: NotificationRecord) -> bool:
        return conn.execute(sa.text(
            "SELECT 1 FROM notifications WHERE site = :site AND at = :at AND rule = :rule "
            "AND status = :status AND title = :title"),
            {"site": self.site, "at": n.at, "rule": n.rule, "status": n.status,
             "title": n.title}).first() is not None

    def _take(self, block: bool) -> list[tuple[Batch | None, concurrent.futures.Future[bool]]]:
        items = [self._queue.get()] if block else []
        while len(items) < 5000:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _note_failure(self, exc: Exception, failures: int) -> None:
        """Log the first failure and every change of error (full, then read-only...)."""
        error = f"{reason(exc)}{diagnose(self.path)}"
        if failures == 1 or error != self.last_error:
            log.error("ledger %s: commit failed, holding %d records to retry: %s", self.name,
                      self.pending, error)
        self.healthy, self.last_error = False, error

    def _write_batch(self, conn: sa.Connection, batch: Batch) -> None:
        site = self.site
        latest = {(w.system, w.start): w for w in batch.windows}  # a batch may repeat a window
        _execute_many(conn, UPSERT_WINDOW, [_window_row(site, w) for w in latest.values()])
        _execute_many(conn, UPSERT_DAY, [_day_row(site, d) for d in batch.days])
        _execute_many(conn, UPSERT_GROUP_DAY, [
            {"site": site, "grp": d.group, "day": d.day, "cost": d.cost}
            for d in batch.group_days])
        _execute_many(conn, sa.text(
            "INSERT INTO transitions (site, system, at, old_state, new_state, cause, reason) "
            "VALUES (:site, :system, :at, :old_state, :new_state, :cause, :reason)"),
            [{"site": site, "system": t.system, "at": t.at, "old_state": t.old_state,
              "new_state": t.new_state, "cause": t.cause, "reason": t.reason}
             for t in batch.transitions])
        _execute_many(conn, sa.text(
            "INSERT INTO alert_state (site, rule, key, system, since, fired_at, last_sent, acked)"
            " VALUES (:site, :rule, :key, :system, :since, :fired_at, :last_sent, :acked) "
            "ON CONFLICT (site, rule, key) DO UPDATE SET "
            "fired_at = excluded.fired_at, last_sent = excluded.last_sent, "
            "acked = excluded.acked"),
            [{"site": site, "rule": a.rule, "key": a.key, "system": a.system, "since": a.since,
              "fired_at": a.fired_at, "last_sent": a.last_sent, "acked": int(a.acked)}
             for a in batch.alerts])
        _execute_many(conn, sa.text(
            "DELETE FROM alert_state WHERE site = :site AND rule = :rule AND key = :key"),
            [{"site": site, "rule": rule, "key": key} for rule, key in batch.alerts_cleared])
        _execute_many(conn, UPSERT_OUTBOX, [
            {"site": site, "notifier": o.notifier, "message_id": o.message_id,
             "message": json.dumps(o.message, sort_keys=True), "state": o.state, "at": o.at}
            for o in batch.outbox])
        _execute_many(conn, sa.text(
            "INSERT INTO notifications (site, at, rule, status, title, notifiers) "
            "VALUES (:site, :at, :rule, :status, :title, :notifiers)"),
            [{"site": site, "at": n.at, "rule": n.rule, "status": n.status, "title": n.title,
              "notifiers": ",".join(n.notifiers)} for n in batch.notifications])
        if batch.prune_before is not None:  # retention: raw history only, never windows
            for table, column in (("transitions", "at"), ("notifications", "at"),
                                  ("outbox", "updated")):
                conn.execute(sa.text(f"DELETE FROM {table} WHERE site = :site AND "
                                     f"{column} < :before"),
                             {"site": site, "before": batch.prune_before})
        if batch.heartbeat is not None and self.run_id is not None:
            conn.execute(sa.text(f"UPDATE runs SET heartbeat = {_LATER} WHERE id = :id"),
                         {"at": batch.heartbeat, "id": self.run_id})

    # --- reading ----------------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn.execution_options(ledger_read=True)
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: {reason(exc)}") from exc

    def _read(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        """The rows of one query, on a short-lived reading connection."""
        statement = sa.text(sql)
        expanding = [name for name, value in params.items() if isinstance(value, tuple)]
        if expanding:
            statement = statement.bindparams(*(sa.bindparam(name, expanding=True)
                                               for name in expanding))
        with self._reader() as conn:
            return [tuple(row) for row in conn.execute(statement, params)]

    def open_windows(self) -> list[StoredWindow]:
        """The site's windows still open (every shard's: the caller keeps its own)."""
        rows = self._read(f"SELECT id, {WINDOW_COLUMNS} FROM windows WHERE site = :site "
                          "AND end_ts IS NULL AND source = 'live' ORDER BY start_ts",
                          site=self.site)
        return [window_from_row(row) for row in rows]

    def windows(
        self, start: float, end: float, system: str | None = None,
        states: tuple[str, ...] = ("down", "degraded", "maintenance", "unknown"),
    ) -> list[StoredWindow]:
        """Windows overlapping [start, end), oldest first, with what people added to them
        (a voided window is included: see `StoredWindow.annotations`)."""
        sql = (f"{_SELECT_WINDOWS} WHERE site = :site AND state IN :states "
               "AND start_ts < :end AND (end_ts IS NULL OR end_ts > :start)")
        if system is not None:
            sql += " AND system = :system"
        rows = self._read(sql + " ORDER BY start_ts, id", site=self.site, states=states,
                          start=start, end=end, system=system)
        return [annotated_window_from_row(row) for row in rows]

    def first_seen(self) -> dict[str, float]:
        """When each system was first watched: its earliest transition or window, or when
        an agent of this site first said it watches it."""
        rows = self._read(
            "SELECT system, MIN(t) FROM (SELECT system, at AS t FROM transitions "
            "WHERE site = :site UNION ALL SELECT system, start_ts FROM windows "
            "WHERE site = :site UNION ALL SELECT system, since FROM watched "
            "WHERE site = :site) AS seen GROUP BY system", site=self.site)
        return {system: float(first) for system, first in rows}

    def totals(self) -> dict[str, SystemTotals]:
        """Per-system sums of live-recorded windows: where counters resume after a restart."""
        rows = self._read(
            "SELECT system, SUM(cost), SUM(staff_cost), SUM(direct_cost), "
            "SUM(downtime_seconds), SUM(degraded_seconds), SUM(new_incident) "
            "FROM windows WHERE site = :site AND source = 'live' GROUP BY system",
            site=self.site)
        return {
            system: SystemTotals(
                Amounts(cost=c, staff=s, direct=d, downtime=dn, degraded=dg), int(n)
            )
            for system, c, s, d, dn, dg, n in rows
        }

    def days_since(self, first_day: str) -> list[DayRecord]:
        rows = self._read(
            "SELECT system, day, cost, staff_cost, direct_cost, downtime_seconds, "
            "degraded_seconds FROM days WHERE site = :site AND day >= :day ORDER BY day",
            site=self.site, day=first_day)
        return [
            DayRecord(system, day, Amounts(cost=c, staff=s, direct=d, downtime=dn, degraded=dg))
            for system, day, c, s, d, dn, dg in rows
        ]

    def group_days_since(self, first_day: str) -> list[GroupDayRecord]:
        """What each group lost per day, from `first_day` on: where the day rows continue."""
        rows = self._read("SELECT grp, day, cost FROM group_days WHERE site = :site "
                          "AND day >= :day ORDER BY day", site=self.site, day=first_day)
        return [GroupDayRecord(group, day, float(cost)) for group, day, cost in rows]

    def latest_record(self) -> float:
        """The latest time anything of the site was recorded at: a window's end or last
        observation, a transition, a run's heartbeat (0 for an empty ledger)."""
        rows = self._read(
            "SELECT MAX(t) FROM (SELECT MAX(start_ts) AS t FROM windows WHERE site = :site "
            "UNION ALL SELECT MAX(end_ts) FROM windows WHERE site = :site "
            "UNION ALL SELECT MAX(accounted_until) FROM windows WHERE site = :site "
            "UNION ALL SELECT MAX(last_observed) FROM windows WHERE site = :site "
            "UNION ALL SELECT MAX(at) FROM transitions WHERE site = :site "
            "UNION ALL SELECT MAX(heartbeat) FROM runs WHERE site = :site) AS seen",
            site=self.site)
        return float(rows[0][0] or 0.0)

    def group_totals(self) -> dict[str, float]:
        """What each group of people has lost, over the site's whole history."""
        rows = self._read("SELECT grp, SUM(cost) FROM group_days WHERE site = :site "
                          "GROUP BY grp", site=self.site)
        return {group: float(cost) for group, cost in rows}

    # --- the cost basis in force over time ----------------------------------------------------

    def record_basis(self, basis: CostBasis, since: float) -> bool:
        """Record that `basis` is in force from `since`, unless it already is (the latest
        recorded is the same); return True if a row was added."""
        with self._transaction() as conn:
            return self._record_basis(conn, basis, since)

    def _record_basis(self, conn: sa.Connection, basis: CostBasis, since: float) -> bool:
        latest = conn.execute(sa.text(
            "SELECT digest FROM cost_basis WHERE site = :site "
            "ORDER BY since DESC, id DESC LIMIT 1"), {"site": self.site}).scalar()
        if latest == basis.digest:
            return False
        conn.execute(sa.text(
            "INSERT INTO cost_basis (site, since, digest, body) "
            "VALUES (:site, :since, :digest, :body)"),
            {"site": self.site, "since": since, "digest": basis.digest,
             "body": basis.to_json()})
        return True

    def bases(self) -> list[tuple[float, CostBasis]]:
        """Every cost basis recorded for the site, with the time it came into force, oldest
        first."""
        rows = self._read("SELECT since, body FROM cost_basis WHERE site = :site "
                          "ORDER BY since, id", site=self.site)
        return [(float(since), CostBasis.from_json(body)) for since, body in rows]

    def outbox_queued(self) -> list[OutboxRecord]:
        """Messages queued and not yet delivered or given up on, oldest first: a restart
        sends them again."""
        rows = self._read("SELECT notifier, message_id, message, state, updated FROM outbox "
                          "WHERE site = :site AND state = 'queued' ORDER BY created, "
                          "message_id", site=self.site)
        return [OutboxRecord(message_id, notifier, json.loads(message), state, float(at))
                for notifier, message_id, message, state, at in rows]

    def alert_states(self) -> list[AlertState]:
        rows = self._read(
            "SELECT rule, key, system, since, fired_at, last_sent, acked FROM alert_state "
            "WHERE site = :site", site=self.site)
        return [AlertState(r, k, s, since, f, last, bool(a)) for r, k, s, since, f, last, a
                in rows]

    def sites(self) -> list[str]:
        """Every site with something in the store, in name order."""
        rows = self._read("SELECT site FROM watched UNION SELECT site FROM windows "
                          "ORDER BY site")
        return [site for (site,) in rows]

    def watchers(self) -> dict[str, dict[str, float]]:
        """For each system, the sites that watch it and since when (for quorum)."""
        found: dict[str, dict[str, float]] = {}
        for site, system, since in self._read("SELECT site, system, since FROM watched"):
            found.setdefault(system, {})[site] = float(since)
        return found

    # --- actions: acknowledgements and ad-hoc maintenance, from the CLI ----------------------

    def add_action(self, action: Action) -> int:
        """Record an action now (from any process); the running daemon picks it up."""
        with self._transaction() as conn:
            return int(conn.execute(sa.text(
                "INSERT INTO actions (site, kind, system, at, until, who, note) "
                "VALUES (:site, :kind, :system, :at, :until, :who, :note) RETURNING id"),
                {"site": self.site, "kind": action.kind, "system": action.system,
                 "at": action.at, "until": action.until, "who": action.who,
                 "note": action.note}).scalar_one())

    def actions_since(self, after_id: int) -> list[Action]:
        rows = self._read(
            "SELECT id, kind, system, at, until, who, note FROM actions "
            "WHERE site = :site AND id > :after ORDER BY id", site=self.site, after=after_id)
        return [Action(kind, system, at, until, who, note, id=i)
                for i, kind, system, at, until, who, note in rows]

    # --- the record as people correct it: reports, imports, annotate and void ---------------

    def report_windows(
        self, start: float, end: float, system: str | None = None
    ) -> list[StoredWindow]:
        """Every window overlapping [start, end), in any state and from any source, voided
        ones included, with what people added to it; oldest first."""
        sql = (f"{_SELECT_WINDOWS} WHERE site = :site "
               "AND start_ts < :end AND (end_ts IS NULL OR end_ts > :start)")
        if system is not None:
            sql += " AND system = :system"
        rows = self._read(sql + " ORDER BY start_ts, id", site=self.site, start=start,
                          end=end, system=system)
        return [annotated_window_from_row(row) for row in rows]

    def window(self, window_id: int) -> StoredWindow | None:
        rows = self._read(f"{_SELECT_WINDOWS} WHERE site = :site AND id = :id",
                          site=self.site, id=window_id)
        return annotated_window_from_row(rows[0]) if rows else None

    def audit_trail(self, window_ids: Iterable[int] | None = None) -> list[AuditEntry]:
        """The audit trail, oldest first: of the given windows, or of every window."""
        rows = self._read(
            "SELECT a.window_id, a.at, a.who, a.field, a.before, a.after, "
            "COALESCE(w.system, '') FROM audit a LEFT JOIN windows w ON w.id = a.window_id "
            "WHERE a.site = :site ORDER BY a.at, a.id", site=self.site)
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
            row = conn.execute(sa.text(f"SELECT {ANNOTATION_COLUMNS} FROM windows "
                                       "WHERE site = :site AND id = :id"),
                               {"site": self.site, "id": window_id}).first()
            if row is None:
                raise LedgerError(f"no window with id {window_id} in {self.name}")
            current = dict(zip(ANNOTATION_FIELDS, row, strict=True))
            entries = [AuditEntry(window_id, at, who, name, current[name], value)
                       for name, value in changes.items() if current[name] != value]
            for entry in entries:
                conn.execute(sa.text(f"UPDATE windows SET {ANNOTATION_FIELDS[entry.field]} = "
                                     ":value WHERE id = :id"),
                             {"value": entry.after, "id": window_id})
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
        start, end = span
        with self._transaction(commit=not dry_run) as conn:
            if basis is not None:
                self._record_basis(conn, basis, at)
            rows = conn.execute(sa.text(
                f"{_SELECT_WINDOWS} WHERE site = :site AND start_ts <= :end "
                "AND (end_ts IS NULL OR end_ts >= :start) ORDER BY start_ts, id"),
                {"site": self.site, "start": start, "end": end})
            found = [annotated_window_from_row(row) for row in rows]
            wanted = set(systems)
            existing: dict[str, list[StoredWindow]] = {name: [] for name in wanted}
            for w in found:
                if w.record.system in wanted:
                    existing[w.record.system].append(w)
            bases = [(float(since), CostBasis.from_json(body)) for since, body in conn.execute(
                sa.text("SELECT since, body FROM cost_basis WHERE site = :site "
                        "ORDER BY since, id"), {"site": self.site})]
            changes = plan(ImportScope(existing=existing, around=found, bases=bases))
            self._write_import(conn, changes, who, at)
        return changes

    def _write_import(
        self, conn: sa.Connection, changes: ImportChanges, who: str, at: float
    ) -> None:
        # Deletes first: a window extended in place may take the start of one merged away.
        _execute_many(conn, sa.text(
            "DELETE FROM windows WHERE site = :site AND id = :id AND source = 'imported'"),
            [{"site": self.site, "id": wid} for wid in changes.delete])
        settable = [*_WINDOW_NAMES, *ANNOTATION_FIELDS.values(), "impact_override"]
        insert = sa.text(f"INSERT INTO windows (site, {', '.join(settable)}) VALUES (:site, "
                         f"{', '.join(':' + name for name in settable)}) RETURNING id")
        update = sa.text(f"UPDATE windows SET {', '.join(f'{c} = :{c}' for c in settable)} "
                         "WHERE site = :site AND id = :id AND source = 'imported'")
        for item in changes.windows:
            notes = item.annotations
            values = {**_window_row(self.site, item.record), "note": notes.note,
                      "ticket": notes.ticket, "voided_reason": notes.voided_reason,
                      "annotated_cause": notes.cause, "impact_override": item.impact_override}
            if item.id is None:
                wid = int(conn.execute(insert, values).scalar_one())
            else:
                wid = item.id
                conn.execute(update, {**values, "id": wid})
            self._add_audit(conn, [AuditEntry(wid, at, who, name, before, after)
                                   for name, before, after in item.audit])

    def _add_audit(self, conn: sa.Connection, entries: list[AuditEntry]) -> None:
        _execute_many(conn, sa.text(
            "INSERT INTO audit (site, window_id, at, who, field, before, after) "
            "VALUES (:site, :window_id, :at, :who, :field, :before, :after)"),
            [{"site": self.site, "window_id": e.window_id, "at": e.at, "who": e.who,
              "field": e.field, "before": e.before, "after": e.after} for e in entries])

    @contextmanager
    def _transaction(self, commit: bool = True) -> Iterator[sa.Connection]:
        """One write transaction from a CLI process, beside the daemons' writer threads:
        CLI writers take turns (the write lock), the daemons' upserts go on."""
        try:
            with self.engine.connect() as conn, conn.begin() as transaction:
                take_write_lock(conn)
                yield conn
                if not commit:
                    transaction.rollback()
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: {reason(exc)}") from exc

    # --- runs (when each agent was watching, and what) -----------------------------------------

    def start_run(self, version: str, now: float) -> None:
        """Record a new run of this agent (its site and shard)."""
        with self._transaction() as conn:
            self.run_id = int(conn.execute(sa.text(
                "INSERT INTO runs (site, shard, version, started, heartbeat) "
                "VALUES (:site, :shard, :version, :now, :now) RETURNING id"),
                {"site": self.site, "shard": self.shard, "version": version,
                 "now": now}).scalar_one())

    def watch(self, systems: Iterable[str], now: float) -> None:
        """Record that this site watches `systems`, from `now` if it did not already: a
        report across sites counts a system's votes among the sites watching it."""
        with self._transaction() as conn:
            _execute_many(conn, sa.text(
                "INSERT INTO watched (site, system, since) VALUES (:site, :system, :now) "
                "ON CONFLICT (site, system) DO NOTHING"),
                [{"site": self.site, "system": name, "now": now} for name in systems])

    def stop_run(self, now: float) -> None:
        """Mark the run as stopped cleanly (after the writer has drained)."""
        with self._transaction() as conn:
            conn.execute(sa.text(f"UPDATE runs SET heartbeat = {_LATER}, stopped = :at "
                                 "WHERE id = :id"), {"at": now, "id": self.run_id})

    def backup(self, destination: Path) -> None:
        """A consistent copy of a SQLite ledger, taken online with SQLite's backup API (the
        daemon keeps writing meanwhile). A PostgreSQL ledger is backed up with pg_dump."""
        if self.path is None:
            raise LedgerError(f"{self.name}: back up a PostgreSQL ledger with pg_dump")
        if destination.exists():
            raise LedgerError(f"{destination}: already exists; not overwriting it")
        try:
            with self._reader() as conn:
                source = cast(sqlite3.Connection, conn.connection.driver_connection)
                with sqlite3.connect(destination) as target:
                    source.backup(target, pages=1024)
                    check = target.execute("PRAGMA quick_check").fetchone()[0]
                target.close()
        except sqlite3.Error as exc:
            raise LedgerError(f"backup to {destination}: {exc}") from exc
        if check != "ok":
            raise LedgerError(f"backup to {destination}: the copy failed its check ({check})")


_LATER = "CASE WHEN heartbeat > :at THEN heartbeat ELSE :at END"  # SQLite's MAX(a, b)


def _execute_many(conn: sa.Connection, statement: sa.TextClause,
                  rows: Sequence[Mapping[str, Any]]) -> None:
    """Run `statement` once per row, in one round of the driver (none for no rows)."""
    if rows:
        conn.execute(statement, rows)


# The numbers of a window: SQLite keeps whatever a person types into them, so check them.
_NUMBERS = ("start_ts", "end_ts", "before_start", "before_end", "last_observed",
            "accounted_until", "downtime_seconds", "degraded_seconds", "cost", "staff_cost",
            "direct_cost", "hourly_cost_per_user", "users_share", "impact",
            "direct_cost_per_hour", "users_at_start")


def _refuse_text_in_numbers(cursor: Any, name: str) -> None:
    """Raise LedgerError naming the first window whose number is text (`cost = 'abc'` typed
    into the file by hand): every use of it would fail. Nothing to check before windows."""
    tables = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'table'")}
    if "windows" not in tables:
        return
    text = " OR ".join(f"typeof({column}) IN ('text', 'blob')" for column in _NUMBERS)
    row = cursor.execute(f"SELECT id, system, {', '.join(_NUMBERS)} FROM windows "
                         f"WHERE {text} LIMIT 1").fetchone()  # one pass over the table
    if row is None:
        return
    wid, system, *values = row
    column, value = next((c, v) for c, v in zip(_NUMBERS, values, strict=True)
                         if isinstance(v, str | bytes))
    raise LedgerError(
        f"{name}: window {wid} of {system} has {column} = {value!r}, not a number (edited by "
        "hand?); set it to a number or restore the ledger from a backup")


def _resolve(futures: list[concurrent.futures.Future[bool]], committed: bool) -> None:
    for future in futures:
        if not future.done():
            future.set_result(committed)


def _shard_words(shard: str) -> str:
    return f", shard {shard}" if shard else ""


def _claim_file(lock: Path, site: str, shard: str) -> IO[str]:
    """Hold an exclusive flock on `lock` (created if need be), saying in it who holds it;
    raise LedgerError naming the holder if another process does. The file held open is only
    read: a filesystem can still be remounted read-only under a running agent."""
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_RDONLY, 0o600))
        handle = open(lock, encoding="utf-8")  # noqa: SIM115 - held while the agent runs
    except OSError as exc:
        raise LedgerError(f"{lock}: {exc.strerror}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = handle.read().strip() or "another process"
        handle.close()
        raise LedgerError(f"{lock.with_suffix('')}: another agent already runs on this ledger "
                          f"({holder}); two would bill every outage twice. Stop it first, "
                          "or give this agent a ledger of its own") from None
    with suppress(OSError), open(lock, "w", encoding="utf-8") as note:  # who holds it, if we can
        note.write(f"pid {os.getpid()}, site {site or '(none)'}{_shard_words(shard)}\n")
    return handle


def _close(conn: sa.Connection | None) -> None:
    """Drop a connection that may be broken; a fresh one is opened for the next try."""
    if conn is not None:
        with suppress(sa_exc.SQLAlchemyError):
            conn.invalidate()
            conn.close()

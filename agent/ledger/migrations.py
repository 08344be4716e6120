"""Numbered migrations: a store of any older schema is brought to SCHEMA_VERSION, each step
recorded in ledger_schema; an empty store is created from the metadata in one step.

The migrations that add tables, columns and indexes are read off the metadata (schema.py says
which migration added each); migration 6 is code (repair_windows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable, ExecutableDDLElement

from agent.ledger import schema
from agent.ledger.rows import audit_row
from agent.ledger.schema import SANE_WINDOW, SANE_WINDOW_DDL, SCHEMA_VERSION, added_by
from agent.ledger.store import LedgerError
from agent.records import AuditEntry

log = logging.getLogger(__name__)

# Taken at the start of a migration or a CLI write: one at a time across every agent. SQLite
# needs none (BEGIN IMMEDIATE already takes the database's one write lock).
WRITE_LOCKS = {"postgresql": "SELECT pg_advisory_xact_lock(7300432761)"}
REPAIRER = "outage-agent (schema 6)"
DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


class AddColumn(ExecutableDDLElement):
    """ALTER TABLE ... ADD COLUMN, the column rendered from its declaration."""

    def __init__(self, column: sa.Column[Any]) -> None:
        self.column = column


@compiles(AddColumn)
def _add_column(element: AddColumn, compiler: Any, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.column.table)
    return f"ALTER TABLE {table} ADD COLUMN {compiler.process(CreateColumn(element.column))}"


def _create_table(table: sa.Table, number: int) -> list[ExecutableDDLElement]:
    """The table as migration `number` created it: without the columns and indexes later
    migrations added (SQLAlchemy renders CreateTable.columns; tests/test_ledger_schema.py
    checks migration 1 against the first schema as shipped)."""
    create = CreateTable(table)
    create.columns = [column for column in create.columns if added_by(column.element) <= number]
    return [create, *_indexes(table, range(1, number + 1))]


def _additions(table: sa.Table, number: int) -> list[ExecutableDDLElement]:
    """The columns, then the indexes, migration `number` added to an older table."""
    columns = [AddColumn(c) for c in table.columns if added_by(c) == number]
    return [*columns, *_indexes(table, range(number, number + 1))]


def _indexes(table: sa.Table, numbers: range) -> list[ExecutableDDLElement]:
    """CREATE INDEX for each index of `table` the migrations `numbers` added, by name."""
    chosen = sorted((i for i in table.indexes if added_by(i) in numbers), key=lambda i: str(i.name))
    return [CreateIndex(index) for index in chosen]


def migration_ddl(number: int) -> list[ExecutableDDLElement]:
    """The statements of migration `number` (not 6, which is code), read off the metadata."""
    if number in CODE_MIGRATIONS or not 1 <= number <= SCHEMA_VERSION:
        raise KeyError(number)
    statements: list[ExecutableDDLElement] = []
    for table in schema.metadata.sorted_tables:
        if table is schema.ledger_schema:
            continue
        if added_by(table) == number:
            statements += _create_table(table, number)
        elif added_by(table) < number:
            statements += _additions(table, number)
    return statements


def migration_sql(number: int, dialect: str) -> list[str]:
    """The statements of migration `number` in the words of `dialect` ("sqlite" or
    "postgresql"): how a ledger of the schema before it was brought to it."""
    return [str(statement.compile(dialect=DIALECTS[dialect])).strip()
            for statement in migration_ddl(number)]


def schema_version(conn: sa.Connection) -> int:
    """The schema's version: the ledger_schema table's, or (a SQLite file from before that
    table) the file's user_version."""
    if sa.inspect(conn).has_table("ledger_schema"):
        return int(conn.execute(sa.select(sa.func.max(schema.ledger_schema.c.version)))
                   .scalar() or 0)
    if conn.dialect.name == "sqlite":
        return int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    return 0


def take_write_lock(conn: sa.Connection) -> None:
    """In the transaction `conn` is in, wait for the store's one CLI-and-migration write
    lock, if its dialect needs one taken."""
    lock = WRITE_LOCKS.get(conn.dialect.name)
    if lock:
        conn.exec_driver_sql(lock)


def repair_windows(conn: sa.Connection, at: float) -> None:
    """Migration 6: clamp the windows that break SANE_WINDOW (an end before the start moves to
    the start; downtime beyond the length is cut to it), each logged and in the audit trail,
    then enforce it for good: a CHECK on PostgreSQL, triggers on SQLite."""
    windows = schema.windows
    rows = conn.execute(sa.select(windows.c.id, windows.c.site, windows.c.system,
                                  windows.c.start_ts, windows.c.end_ts,
                                  windows.c.downtime_seconds)
                        .where(sa.text(f"NOT ({SANE_WINDOW})"))).mappings().all()
    for row in rows:
        end = max(row["end_ts"], row["start_ts"])
        downtime = min(row["downtime_seconds"], end - row["start_ts"])
        conn.execute(sa.update(windows).where(windows.c.id == row["id"])
                     .values(end_ts=end, downtime_seconds=downtime))
        before = f"end {row['end_ts']}, downtime {row['downtime_seconds']}s"
        after = f"end {end}, downtime {downtime}s"
        conn.execute(sa.insert(schema.audit), audit_row(
            row["site"], AuditEntry(row["id"], at, REPAIRER, "repaired", before, after)))
        log.warning("ledger: window %s of %s ended before it started or counted more downtime "
                    "than it lasted (%s); repaired to %s", row["id"], row["system"], before,
                    after)
    for statement in SANE_WINDOW_DDL[conn.dialect.name]:
        conn.exec_driver_sql(statement)


CODE_MIGRATIONS: dict[int, Callable[[sa.Connection, float], None]] = {6: repair_windows}


def migrate(conn: sa.Connection, at: float) -> None:
    """In the transaction `conn` is in, create an empty store or apply the numbered
    migrations it has not yet seen; raise LedgerError for a newer schema. Agents starting
    together take turns."""
    take_write_lock(conn)
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise LedgerError(f"ledger schema {version} is newer than this agent ({SCHEMA_VERSION})")
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        schema.metadata.create_all(conn, checkfirst=False)  # the whole schema in one step
    else:
        schema.ledger_schema.create(conn, checkfirst=True)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            apply_migration(conn, number, at)
    conn.execute(sa.insert(schema.ledger_schema), [
        {"version": number, "applied": at} for number in range(version + 1, SCHEMA_VERSION + 1)])
    if conn.dialect.name == "sqlite":  # agents from before ledger_schema read this, and
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")  # refuse newer


def apply_migration(conn: sa.Connection, number: int, at: float) -> None:
    """Apply migration `number` in the transaction `conn` is in."""
    if number in CODE_MIGRATIONS:
        CODE_MIGRATIONS[number](conn, at)
        return
    for statement in migration_ddl(number):
        conn.execute(statement)

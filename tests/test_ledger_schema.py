"""The ledger's schema is declared once (agent/ledger/schema.py): a ledger created fresh and
one migrated from any older schema as it was shipped are the same to sa.inspect, rows kept, on
SQLite and on a real PostgreSQL; and the old ledgers other tests build with migration_sql are
the ones that were shipped."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from agent.ledger import SCHEMA_VERSION, Ledger, ledger_url, migration_sql

# Test data, never to be edited: the migrations as shipped until schema 7 (DDL text with the
# dialect's words for an auto-numbered id and a 64-bit float), which made every older ledger
# in the field. Migration 6 clamped bad windows (none here) and added what SHIPPED_6 says.
SHIPPED: dict[int, str] = {
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
    4: """
    ALTER TABLE runs ADD COLUMN shard TEXT NOT NULL DEFAULT '';
    CREATE TABLE watched (
        site TEXT NOT NULL,
        system TEXT NOT NULL,
        since {real} NOT NULL,
        PRIMARY KEY (site, system)
    );
    """,
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
    8: """
    CREATE TABLE heartbeats (
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        due {real} NOT NULL,
        last_ping {real},
        last_kind TEXT NOT NULL DEFAULT '',
        last_success {real},
        started {real},
        duration {real},
        verdict TEXT NOT NULL DEFAULT 'new',
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (site, system)
    );
    CREATE TABLE heartbeat_pings (
        site TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL,
        at {real} NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (site, system, at)
    );
    """,
}
SHIPPED_WORDS = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY", "real": "REAL"},
    "postgresql": {"serial": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                   "real": "DOUBLE PRECISION"},
}
_SANE = ("(end_ts IS NULL OR end_ts >= start_ts) AND (end_ts IS NULL OR "
         "downtime_seconds <= end_ts - start_ts + 0.001)")
_NEW_SANE = ("(NEW.end_ts IS NULL OR NEW.end_ts >= NEW.start_ts) AND (NEW.end_ts IS NULL OR "
             "NEW.downtime_seconds <= NEW.end_ts - NEW.start_ts + 0.001)")
SHIPPED_6 = {
    "postgresql": [f"ALTER TABLE windows ADD CONSTRAINT windows_sane CHECK ({_SANE})"],
    "sqlite": [f"CREATE TRIGGER windows_sane_{when.lower()} BEFORE {when} ON windows WHEN NOT "
               f"({_NEW_SANE}) BEGIN SELECT RAISE(ABORT, 'a window must not end before it "
               "starts, nor count more downtime than it lasts'); END"
               for when in ("INSERT", "UPDATE")],
}
SHIPPED_LEDGER_SCHEMA = ("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER PRIMARY KEY, "
                         "applied {real})")
# SQLite agents before schema 4 kept the version in the file's user_version only.
FIRST_WITH_LEDGER_SCHEMA = {"sqlite": 4, "postgresql": 1}

# A row for every table (the columns of schema 7; a ledger of an older schema takes the ones
# it has), each value unlike any default.
ROWS: dict[str, dict[str, Any]] = {
    "windows": {
        "id": 7, "site": "north", "system": "email", "state": "down", "cause": "network",
        "start_ts": 1000.25, "end_ts": 4600.5, "before_start": 990.0, "before_end": 4590.0,
        "last_observed": 4590.0, "accounted_until": 4600.5, "downtime_seconds": 3600.25,
        "degraded_seconds": 1.5, "cost": 51961.5, "staff_cost": 51000.25,
        "direct_cost": 961.25, "hourly_cost_per_user": 12.99, "users_share": 0.5,
        "impact": 0.75, "direct_cost_per_hour": 961.25, "users_at_start": 2000.0,
        "new_incident": 1, "reason": "refused", "source": "imported", "note": "disk full",
        "ticket": "INC-7", "voided_reason": "test server", "annotated_cause": "dns",
        "impact_override": 0.25,
    },
    "days": {"site": "north", "system": "email", "day": "2026-11-03", "cost": 1.5,
             "staff_cost": 1.25, "direct_cost": 0.25, "downtime_seconds": 60.5,
             "degraded_seconds": 2.5},
    "transitions": {"id": 3, "site": "north", "system": "email", "at": 1000.25,
                    "old_state": "up", "new_state": "down", "cause": "network",
                    "reason": "refused"},
    "runs": {"id": 2, "site": "north", "version": "1.0", "started": 900.5,
             "heartbeat": 4600.5, "stopped": 4601.5, "shard": "1/2"},
    "alert_state": {"site": "north", "rule": "down", "key": "email", "system": "email",
                    "since": 1000.25, "fired_at": 1010.5, "last_sent": 1010.5, "acked": 1},
    "notifications": {"id": 4, "site": "north", "at": 1010.5, "rule": "down",
                      "status": "firing", "title": "email is DOWN", "notifiers": "hook"},
    "actions": {"id": 5, "site": "north", "kind": "maintenance", "system": "email",
                "at": 1000.5, "until": 2000.5, "who": "alice", "note": "patching"},
    "audit": {"id": 6, "site": "north", "window_id": 7, "at": 5000.5, "who": "alice",
              "field": "note", "before": None, "after": "disk full"},
    "watched": {"site": "north", "system": "email", "since": 900.5},
    "group_days": {"site": "north", "grp": "everyone", "day": "2026-11-03", "cost": 1.5},
    "cost_basis": {"id": 8, "site": "north", "since": 900.5, "digest": "abc",
                   "body": "{}"},
    "outbox": {"site": "north", "notifier": "hook", "message_id": "m1", "message": "{}",
               "state": "queued", "created": 1010.5, "updated": 1010.5},
    "heartbeats": {"site": "north", "system": "payroll", "due": 90000.5, "last_ping": 3600.5,
                   "last_kind": "success", "last_success": 3600.5, "started": None,
                   "duration": 12.5, "verdict": "up", "reason": ""},
    "heartbeat_pings": {"site": "north", "system": "payroll", "at": 3600.5, "kind": "success",
                        "body": "done"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path) -> Callable[[], str]:
    """A maker of empty stores of one kind: SQLite files, or databases of a real
    PostgreSQL."""
    if request.param == "sqlite":
        files = (str(tmp_path / f"ledger-{k}.db") for k in itertools.count())
        return lambda: next(files)
    cluster = request.getfixturevalue("postgres_cluster")
    return lambda: cluster.create_database("t_" + uuid.uuid4().hex[:12])


@pytest.fixture
def connect() -> Iterator[Callable[[str], sa.Connection]]:
    """Opens connections to ledger locations, all closed at the end."""
    engines: list[sa.Engine] = []

    def opened(location: str) -> sa.Connection:
        engines.append(sa.create_engine(ledger_url(location), poolclass=NullPool))
        return engines[-1].connect()

    yield opened
    for engine in engines:
        engine.dispose()


def build(conn: sa.Connection, version: int, statements: Callable[[int, str], list[str]]
          ) -> None:
    """Bring an empty store to `version` with `statements(number, dialect)` for each
    migration, and record it as the agents of the time did."""
    dialect = conn.dialect.name
    for number in range(1, version + 1):
        for statement in statements(number, dialect):
            conn.exec_driver_sql(statement)
    if version >= FIRST_WITH_LEDGER_SCHEMA[dialect]:
        conn.exec_driver_sql(SHIPPED_LEDGER_SCHEMA.format(**SHIPPED_WORDS[dialect]))
        for number in range(1, version + 1):
            conn.execute(sa.text("INSERT INTO ledger_schema VALUES (:v, 0)"), {"v": number})
    if dialect == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")
    conn.commit()


def shipped(number: int, dialect: str) -> list[str]:
    """The statements of migration `number` as shipped."""
    if number == 6:
        return SHIPPED_6[dialect]
    script = SHIPPED[number].format(**SHIPPED_WORDS[dialect])
    return [part for part in script.split(";") if part.strip()]


def schema_of(conn: sa.Connection) -> dict[str, Any]:
    """The schema as sa.inspect sees it: each table's columns (in order, with type,
    nullability, default and identity), primary key, unique constraints, indexes and checks;
    and SQLite's triggers."""
    inspector = sa.inspect(conn)
    found: dict[str, Any] = {}
    for table in inspector.get_table_names():
        primary_key = inspector.get_pk_constraint(table)["constrained_columns"]
        found[table] = {
            "columns": [column_of(c, primary_key, conn.dialect.name)
                        for c in inspector.get_columns(table)],
            "primary key": primary_key,
            "unique": sorted((u["name"] or "", u["column_names"])
                             for u in inspector.get_unique_constraints(table)),
            "indexes": sorted((i["name"] or "", i["column_names"], bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
            "checks": sorted((c["name"] or "", c["sqltext"])
                             for c in inspector.get_check_constraints(table)),
        }
    if conn.dialect.name == "sqlite":
        found["triggers"] = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all()
    return found


def column_of(column: Any, primary_key: list[str], dialect: str) -> tuple[Any, ...]:
    nullable = column["nullable"]
    if dialect == "sqlite" and primary_key == [column["name"]] and str(column["type"]) == "INTEGER":
        # SQLite's rowid: reported nullable unless declared NOT NULL, yet never NULL either
        # way (a NULL given is numbered), so `id INTEGER PRIMARY KEY` as shipped and
        # `id INTEGER NOT NULL, PRIMARY KEY (id)` as SQLAlchemy renders it are one column.
        nullable = False
    return (column["name"], repr(column["type"]), nullable, column["default"],
            column.get("identity"))


def rows_of(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but ledger_schema, by column name."""
    return {table: [dict(row) for row in conn.execute(
                sa.text(f"SELECT * FROM {table}")).mappings()]
            for table in sa.inspect(conn).get_table_names() if table != "ledger_schema"}


def fill(conn: sa.Connection) -> None:
    """Put ROWS in the tables there are, in the columns they have."""
    inspector = sa.inspect(conn)
    for table in inspector.get_table_names():
        if table in ROWS:
            columns = {c["name"] for c in inspector.get_columns(table)}
            values = {name: v for name, v in ROWS[table].items() if name in columns}
            names = ", ".join(f'"{name}"' for name in values)
            conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES "
                                 f"({', '.join(':' + name for name in values)})"), values)
    conn.commit()


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_ledger_of_each_older_schema_migrates_to_the_fresh_schema_with_its_rows(
        new_store, connect, version):
    old, fresh = new_store(), new_store()
    with connect(old) as conn:
        build(conn, version, shipped)
        fill(conn)
        before = rows_of(conn)
    for location in (old, fresh):
        ledger = Ledger(location)
        ledger.prepare()
        ledger.dispose()
    with connect(old) as migrated, connect(fresh) as created:
        assert schema_of(migrated) == schema_of(created)
        after = rows_of(migrated)
        applied = migrated.execute(sa.text("SELECT version FROM ledger_schema "
                                           "ORDER BY version")).scalars().all()
        recorded = version >= FIRST_WITH_LEDGER_SCHEMA[migrated.dialect.name]
    assert applied == list(range(1 if recorded else version + 1, SCHEMA_VERSION + 1))
    for table, rows in before.items():  # every row kept, each column it had as it was
        assert [{name: row[name] for name in rows[0]} for row in after[table]] == rows
    assert {table for table, rows in after.items() if rows} == set(before)
    ledger = Ledger(old, "north")
    [window] = ledger.report_windows(0, 1e9)
    ledger.dispose()
    assert (window.id, window.record.start, window.record.amounts.cost) == (7, 1000.25, 51961.5)
    assert window.annotations.note == ("disk full" if version >= 3 else None)


def test_migration_sql_makes_the_ledgers_that_were_shipped(new_store, connect):
    """Tests build old ledgers from migration_sql: each is as the shipped migrations made it
    (which also proves migration 1 leaves out what later ones added)."""
    for version in (1, 2, 3, 4, 5):
        made, as_shipped = new_store(), new_store()
        with connect(made) as conn:
            build(conn, version, migration_sql)
            made_schema = schema_of(conn)
        with connect(as_shipped) as conn:
            build(conn, version, shipped)
            assert made_schema == schema_of(conn), f"schema {version}"

"""Where a ledger is and how to reach it: its URL, its engine, and the checks that refuse a
store the ledger must not touch, each failure said in the database's or the filesystem's own
words (never with a password)."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import NullPool

from agent.ledger import schema

TIMEOUT_SECONDS = 5.0  # waiting for a lock, or for a connection
SQLITE_HEADER = b"SQLite format 3\x00"
# The tables whose numbers (their REAL columns) every later read sums or costs: SQLite keeps
# whatever a person types into them, so they are checked at open. Each row is named by the
# words and the key columns given here.
HAND_EDITABLE = {"windows": ("window {} of {}", ("id", "system")),
                 "days": ("the days row of {} on {}", ("system", "day")),
                 "group_days": ("the group_days row of group {} on {}", ("grp", "day"))}


class LedgerError(Exception):
    """The ledger cannot be opened or used (not a database, wrong schema, unreachable)."""


def reason(exc: BaseException) -> str:
    """The database's own words for an error, without SQLAlchemy's statement and links."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip()
    return str(exc)


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


def make_folder(path: Path) -> None:
    """Create the folder a SQLite ledger's file goes in, if need be; raise LedgerError, in one
    line, if it cannot be (a read-only filesystem, /sys, a file where a folder should be)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = exc.filename or path.parent
        if isinstance(exc, FileExistsError | NotADirectoryError):
            raise LedgerError(f"{path}: cannot create it: {where} is not a folder") from exc
        raise LedgerError(f"{path}: cannot create it: {where}: {exc.strerror}") from exc


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


def check_sqlite_file(engine: sa.Engine, name: str) -> None:
    """Refuse a damaged file, or one whose numbers a person edited into text, with one
    line saying what to do; then put it in WAL mode."""
    damaged = ("restore it from a backup (outage-agent backup) or move it aside, with its "
               "-wal and -shm files, to start a new ledger")
    try:
        raw = engine.raw_connection()  # no transaction: WAL cannot be set inside one
    except (sqlite3.Error, sa_exc.SQLAlchemyError) as exc:
        if not Path(name).exists():  # not damaged: it could not be created
            raise LedgerError(f"{name}: cannot create it: {_creation_error(Path(name), exc)}"
                              ) from exc
        raise LedgerError(f"{name}: damaged ({reason(exc)}); {damaged}") from exc
    try:
        cursor = raw.cursor()
        check = cursor.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise LedgerError(f"{name}: damaged ({check}); {damaged}")
        _refuse_text_in_numbers(cursor, name)
        cursor.execute("PRAGMA journal_mode = WAL")
    except sqlite3.Error as exc:
        raise LedgerError(f"{name}: damaged ({exc}); {damaged}") from exc
    finally:
        raw.close()


def _creation_error(path: Path, exc: BaseException) -> str:
    """The filesystem's own words for why SQLite could not create `path` ("permission
    denied", "read-only file system"), where SQLite says only "unable to open database
    file": found by creating it ourselves, and removing it if that works."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as err:
        return (err.strerror or reason(exc)).lower()
    path.unlink()
    return reason(exc)


def _refuse_text_in_numbers(cursor: Any, name: str) -> None:
    """Raise LedgerError naming the first row, its table and its column, whose number is text
    (`cost = 'abc'` typed into the file by hand): every use of it would fail."""
    for table, (words, key) in HAND_EDITABLE.items():
        found = _first_text_number(cursor, table, key)
        if found is not None:
            named, column, value = found
            raise LedgerError(
                f"{name}: {words.format(*named)} has {column} = {value!r}, not a number "
                "(edited by hand?); set it to a number or restore the ledger from a backup")


def _first_text_number(cursor: Any, table: str,
                       key: tuple[str, ...]) -> tuple[tuple[Any, ...], str, Any] | None:
    """Given a table and the columns naming its rows, return the key, column and value of
    the first number that is text, in one pass; None if there is none. Only the columns the
    file has yet: it is checked before it is migrated."""
    present = {row[1] for row in cursor.execute(f"PRAGMA table_info({table})")}
    numbers = [column.name for column in schema.metadata.tables[table].columns
               if isinstance(column.type, sa.Float) and column.name in present]
    if not numbers:  # a table not made yet
        return None
    text = " OR ".join(f"typeof({column}) IN ('text', 'blob')" for column in numbers)
    row = cursor.execute(f"SELECT {', '.join((*key, *numbers))} FROM {table} "
                         f"WHERE {text} LIMIT 1").fetchone()
    if row is None:
        return None
    column, value = next((c, v) for c, v in zip(numbers, row[len(key):], strict=True)
                         if isinstance(v, str | bytes))
    return tuple(row[:len(key)]), column, value


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


def backup_sqlite(source: sa.Connection, destination: Path) -> None:
    """Copy the SQLite database `source` reads to `destination` with SQLite's online backup
    API, then check the copy; raise LedgerError if either fails."""
    try:
        driver = cast(sqlite3.Connection, source.connection.driver_connection)
        with sqlite3.connect(destination) as target:
            driver.backup(target, pages=1024)
            check = target.execute("PRAGMA quick_check").fetchone()[0]
        target.close()
    except sqlite3.Error as exc:
        raise LedgerError(f"backup to {destination}: {exc}") from exc
    if check != "ok":
        raise LedgerError(f"backup to {destination}: the copy failed its check ({check})")

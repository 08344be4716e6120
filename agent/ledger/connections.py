"""One site's way into a ledger store: where it is, its engine, and the short connections
its reads and the CLI's writes take (the daemon's writes have a thread of their own:
writer.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from agent.ledger.migrations import take_write_lock
from agent.ledger.rows import Row
from agent.ledger.store import LedgerError, ledger_url, make_engine, reason


class Connections:
    """The ledger of one site (and, sharded, one agent of it) in a SQLite file or a shared
    PostgreSQL database: its address, and a connection at a time."""

    def __init__(self, location: str | Path | sa.URL, site: str = "", shard: str = "") -> None:
        self.url = ledger_url(location)
        self.site = site
        self.shard = shard
        sqlite = self.url.get_backend_name() == "sqlite"
        self.path = Path(self.url.database or "") if sqlite else None  # SQLite's file
        # What the logs and messages call it: never with the password.
        self.name = str(self.path) if self.path else self.url.render_as_string(True)
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def exists(self) -> bool:
        """Whether a ledger was ever made here: False for a SQLite file never created, or a
        database without the ledger's tables. Raise LedgerError if the server cannot say."""
        if self.path is not None:
            return self.path.exists()
        with self._reader() as conn:
            return sa.inspect(conn).has_table("ledger_schema")

    @contextmanager
    def _reader(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn.execution_options(ledger_read=True)
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: {reason(exc)}") from exc

    def _read(self, statement: sa.Executable) -> Sequence[Row]:
        """The rows of one query, by column name, on a short-lived reading connection."""
        with self._reader() as conn:
            return conn.execute(statement).mappings().all()

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

"""The Ledger: the one object the rest of the agent calls, its lifecycle (prepare, open,
close), its claim on the store, the daemon's writes handed to its writer thread, and the runs
each agent records."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from agent.journal import Journal, journal_path
from agent.ledger import schema as tables
from agent.ledger.claim import claim_advisory, claim_file
from agent.ledger.edits import Edits
from agent.ledger.migrations import migrate
from agent.ledger.reads import Reads
from agent.ledger.store import (
    LedgerError,
    backup_sqlite,
    check_sqlite_file,
    make_folder,
    reason,
    refuse_foreign_file,
)
from agent.ledger.writer import Outcome, Writer
from agent.ledger.writes import Writes, execute_many, later_heartbeat
from agent.model import AgentConfig
from agent.records import Batch
from agent.shard import format_shard

log = logging.getLogger(__name__)


class Ledger(Reads, Edits):
    """The ledger of one site (and, sharded, one agent of it) in a SQLite file or a shared
    PostgreSQL database."""

    def __init__(self, location: str | Path | sa.URL, site: str = "", shard: str = "") -> None:
        super().__init__(location, site, shard)
        self._writes = Writes(self.url.get_backend_name(), site)
        # What cannot be committed yet is kept here, so a crash cannot lose it (agent.journal).
        self.journal = Journal(journal_path(
            self.path, f"{self.url.render_as_string(True)}\0{site}\0{shard}"))
        self._writer = Writer(self, self._writes, self.journal)
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

    # What the writer says of its health, for /healthz and the metrics.
    @property
    def healthy(self) -> bool:
        """False while commits are failing (the batch is kept for retry)."""
        return self._writer.healthy

    @property
    def pending(self) -> int:
        """Records held in memory, not yet committed."""
        return self._writer.pending

    @property
    def last_error(self) -> str:
        return self._writer.last_error

    @property
    def journal_error(self) -> str:
        """Why the journal cannot keep the held records either ("" while it can, or while
        commits go through): they are then in memory only."""
        return self._writer.journal_error

    # --- lifecycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create or migrate the store; raise LedgerError if it is unusable.

        A file that is not a SQLite database, or fails SQLite's quick check, is refused
        before SQLite touches it (or its -wal and -shm files): history is never overwritten.
        """
        if self.path is not None:
            make_folder(self.path)
            refuse_foreign_file(self.path)
        try:
            if self.path is not None:
                check_sqlite_file(self.engine, self.name)
            with self.engine.begin() as conn:
                migrate(conn, time.time())
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.name}: {reason(exc)}") from exc

    def open(self) -> None:
        """Prepare the store, write what the journal kept from a run that could not, and start
        the writer; raise LedgerError if the store is unusable or the journal cannot be
        written to it (the journal is then kept for the next try)."""
        self.prepare()
        self.replay_journal()
        self._writer.start()

    def replay_journal(self) -> None:
        """Write what the journal kept into the store, then remove it; raise LedgerError if
        it cannot."""
        self._writer.replay_journal()

    def close(self) -> None:
        """Commit everything queued, then stop the writer."""
        self._writer.stop()

    def finish(self, now: float) -> None:
        """The agent's stop: commit everything queued, mark the run stopped cleanly, let go
        of the ledger."""
        self.close()
        try:
            self.stop_run(now)
        except LedgerError as exc:  # the next start sees a run that never said it stopped
            log.warning("cannot mark the run as stopped: %s", exc)
        self.dispose()

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
            self._claim = claim_file(self.path, self.site, self.shard)
        else:
            self._claim = claim_advisory(self.engine, self.name, self.site, self.shard)

    def release(self) -> None:
        """Give the ledger back (at stop; the kernel or the server does it if we die)."""
        claim, self._claim = self._claim, None
        if claim is not None:
            with suppress(OSError, sa_exc.SQLAlchemyError):
                claim.close()

    # --- writing ----------------------------------------------------------------------------

    def submit(self, batch: Batch) -> concurrent.futures.Future[Outcome]:
        """Queue a batch; the future completes once it is as safe as it can be made, saying
        how: committed, kept in the journal, or (the journal failing too) in memory only."""
        return self._writer.submit(batch)

    async def commit(self, batch: Batch) -> None:
        """Queue a batch and wait until it is stored."""
        await asyncio.wrap_future(self.submit(batch))

    # --- runs (when each agent was watching, and what) -----------------------------------------

    def start_run(self, version: str, now: float) -> None:
        """Record a new run of this agent (its site and shard)."""
        runs = tables.runs
        with self._transaction() as conn:
            self._writes.run_id = int(conn.execute(sa.insert(runs).returning(runs.c.id), {
                "site": self.site, "shard": self.shard, "version": version, "started": now,
                "heartbeat": now}).scalar_one())

    def watch(self, systems: Iterable[str], now: float) -> None:
        """Record that this site watches `systems`, from `now` if it did not already: a
        report across sites counts a system's votes among the sites watching it."""
        with self._transaction() as conn:
            execute_many(conn, self._writes.watched,
                         [{"site": self.site, "system": name, "since": now} for name in systems])

    def stop_run(self, now: float) -> None:
        """Mark the run as stopped cleanly (after the writer has drained)."""
        runs = tables.runs
        with self._transaction() as conn:
            conn.execute(sa.update(runs).where(runs.c.id == self._writes.run_id)
                         .values(heartbeat=later_heartbeat(now), stopped=now))

    def backup(self, destination: Path) -> None:
        """A consistent copy of a SQLite ledger, taken online with SQLite's backup API (the
        daemon keeps writing meanwhile). A PostgreSQL ledger is backed up with pg_dump."""
        if self.path is None:
            raise LedgerError(f"{self.name}: back up a PostgreSQL ledger with pg_dump")
        if destination.exists():
            raise LedgerError(f"{destination}: already exists; not overwriting it")
        with self._reader() as conn:
            backup_sqlite(conn, destination)

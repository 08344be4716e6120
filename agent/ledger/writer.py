"""The daemon's writes: one thread commits queued batches in order, one transaction per
wake-up, so the event loop never blocks on the database and a burst of transitions costs one
commit. A batch that fails to commit is kept (in memory and in the journal) and retried with
backoff ahead of anything newer, so nothing is lost or reordered while the store is unwell.
Each batch's future says how safe it became (`Outcome`), so that a scrape serves no counter
a crash would take back (agent.safe)."""

from __future__ import annotations

import concurrent.futures
import enum
import logging
import queue
import sqlite3
import threading
import time
from contextlib import suppress
from typing import cast

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from agent.journal import Journal
from agent.ledger.connections import Connections
from agent.ledger.store import LedgerError, diagnose, reason
from agent.ledger.writes import Writes
from agent.records import Batch

log = logging.getLogger(__name__)

RETRY_LOCK_WAIT = 0.25  # waiting for a SQLite lock once commits are failing (the journal has it)
TAKEN_AT_ONCE = 5000  # queued batches absorbed into one transaction at most


class Outcome(enum.Enum):
    """What became of a batch (and everything queued before it), once as safe as it can be."""

    COMMITTED = "committed"  # in the ledger
    JOURNALED = "journaled"  # in the journal: written at the next commit, or the next start
    MEMORY = "memory"  # held in memory only (the journal failed too): a crash would lose it

    @property
    def safe(self) -> bool:
        """True if a restart after a crash now would restore it."""
        return self is not Outcome.MEMORY


Futures = list[concurrent.futures.Future[Outcome]]


class Writer:
    """The writer thread of one ledger, and what it says of its health: `healthy` is False
    while commits are failing, `pending` counts the records held, not yet committed, and
    `journal_error` says why the journal cannot keep them either ("" while it can)."""

    def __init__(self, store: Connections, writes: Writes, journal: Journal) -> None:
        self.store = store
        self.writes = writes
        self.journal = journal  # where what cannot be committed yet is kept
        self.journal_error = ""
        self._queue: queue.Queue[tuple[Batch | None, concurrent.futures.Future[Outcome]]] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self.healthy = True
        self.pending = 0
        self.last_error = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit everything queued, then stop the thread."""
        if self._thread is None:
            return
        done: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        self._queue.put((None, done))
        self._thread.join(timeout=30)
        self._thread = None

    def submit(self, batch: Batch) -> concurrent.futures.Future[Outcome]:
        """Queue a batch; the future completes once it is as safe as it can be made:
        committed, else kept in the journal, else (the journal failing too) in memory only."""
        future: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        self._queue.put((batch, future))
        return future

    def _run(self) -> None:
        """Commit queued batches in order. A failed commit keeps its records (compacted) in
        memory and in the journal, and retries with backoff, absorbing what arrives meanwhile;
        nothing is dropped unless the agent is stopping and the ledger still cannot be
        written after a few tries (the journal still has it, for the next start)."""
        conn: sa.Connection | None = None
        pending, waiting = Batch(), Futures()
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
                conn = conn or self.store.engine.connect()
                if failures and self.store.path is not None:  # failing: try often, wait little
                    cast(sqlite3.Connection, conn.connection.driver_connection).execute(
                        f"PRAGMA busy_timeout = {int(RETRY_LOCK_WAIT * 1000)}")
                with conn.begin():
                    self.writes.write(conn, pending)
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
                          "keeps them for the next start", self.store.name, pending.size(),
                          self.journal.path)
            else:
                if failures:
                    log.warning("ledger %s: writable again; %d records written",
                                self.store.name, pending.size())
                    self.journal.clear()
                self.healthy, self.last_error, failures, delay = True, "", 0, 0.1
                self.journal_error = ""  # not needed while commits go through
                _resolve(waiting, Outcome.COMMITTED)
            pending, waiting, self.pending = Batch(), [], 0
            if stop:
                _close(conn)
                return

    def _keep(self, pending: Batch, waiting: Futures, again: bool = True) -> None:
        """Journal what is held back, and let the batches waiting go on: JOURNALED, or
        MEMORY if the journal cannot be written either. Unless `again`, a journal that failed
        last time is not tried until the next commit: its disk is the ledger's, unwell too,
        and must be let go of (to be remounted)."""
        outcome = Outcome.MEMORY
        if again or not self.journal_error:
            try:
                self.journal.keep(pending)
                self.journal_error, outcome = "", Outcome.JOURNALED
            except OSError as exc:  # the local disk too: held in memory only, and said so
                if not self.journal_error:
                    log.error("ledger %s: cannot keep the journal %s either (%s): the held "
                              "records are in memory only, and scrapes serve the counters "
                              "last kept safe, until one of them can be written",
                              self.store.name, self.journal.path, exc.strerror)
                self.journal_error = f"{self.journal.path}: {exc.strerror}"
        _resolve(waiting, outcome)  # as safe as they can be made: waiting longer gains nothing

    def _back_off(self, delay: float, pending: Batch, waiting: Futures) -> bool:
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

    def _take(self, block: bool) -> list[tuple[Batch | None,
                                               concurrent.futures.Future[Outcome]]]:
        items = [self._queue.get()] if block else []
        while len(items) < TAKEN_AT_ONCE:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _note_failure(self, exc: Exception, failures: int) -> None:
        """Log the first failure and every change of error (full, then read-only...)."""
        error = f"{reason(exc)}{diagnose(self.store.path)}"
        if failures == 1 or error != self.last_error:
            log.error("ledger %s: commit failed, holding %d records to retry: %s",
                      self.store.name, self.pending, error)
        self.healthy, self.last_error = False, error

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
            with self.store.engine.begin() as conn:
                self.writes.drop_recorded(conn, kept)
                self.writes.write(conn, kept)
        except sa_exc.SQLAlchemyError as exc:
            raise LedgerError(f"{self.store.name}: cannot write the {kept.size()} records the "
                              f"journal {self.journal.path} kept: {reason(exc)}") from exc
        log.warning("ledger %s: %d records a previous run could not commit written from the "
                    "journal", self.store.name, kept.size())
        self.journal.clear()


def _resolve(futures: Futures, outcome: Outcome) -> None:
    for future in futures:
        if not future.done():
            future.set_result(outcome)


def _close(conn: sa.Connection | None) -> None:
    """Drop a connection that may be broken; a fresh one is opened for the next try."""
    if conn is not None:
        with suppress(sa_exc.SQLAlchemyError):
            conn.invalidate()
            conn.close()

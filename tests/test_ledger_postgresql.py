"""Many agents on one real PostgreSQL ledger: concurrent writers and migrations, and a lost
connection survived like a full disk. (The store-agnostic ledger tests run on PostgreSQL too:
see the `ledger_location` fixture.)"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.ledgerparts import window
from support.pgparts import PostgresCluster

from agent.ledger import SCHEMA_VERSION, Ledger, Outcome
from agent.records import Batch, DayRecord, TransitionRecord

T0 = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC).timestamp()
SITES = ("north", "south", "east")


def count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def committed_within(ledger: Ledger, seconds: float) -> bool:
    """Send empty batches until one is committed (True) or `seconds` pass (False): one sent
    while the writer waits out its backoff is journaled until its next try."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ledger.submit(Batch()).result(timeout=seconds) is Outcome.COMMITTED:
            return True
        time.sleep(0.2)
    return False


def test_agents_starting_together_migrate_the_schema_once(postgres_url: str) -> None:
    ledgers = [Ledger(postgres_url, site) for site in SITES * 2]
    with concurrent.futures.ThreadPoolExecutor(len(ledgers)) as pool:
        list(pool.map(lambda ledger: ledger.prepare(), ledgers))
    assert count(postgres_url, "SELECT COUNT(*) FROM ledger_schema") == SCHEMA_VERSION
    assert count(postgres_url, "SELECT MAX(version) FROM ledger_schema") == SCHEMA_VERSION
    for ledger in ledgers:
        ledger.dispose()


def test_three_agents_writing_at_once_neither_lose_nor_duplicate_a_window(
        postgres_url: str) -> None:
    ledgers = [Ledger(postgres_url, site) for site in SITES]
    for ledger in ledgers:
        ledger.open()
    systems = [f"sys-{k}" for k in range(20)]

    def write(ledger: Ledger) -> None:
        futures = []
        for step in range(10):  # each window grows, then closes: upserts of the same rows
            end = T0 + 60 * (step + 1) if step == 9 else None
            records = [window(name, T0, end, seen=T0 + 60 * (step + 1)) for name in systems]
            futures.append(ledger.submit(Batch(
                windows=records,
                transitions=[TransitionRecord(systems[step], T0 + step, "up", "down", None)],
                days=[DayRecord(name, "2026-11-03", r.amounts) for name, r in
                      zip(systems, records, strict=True)])))
        for future in futures:
            future.result(timeout=30)

    with concurrent.futures.ThreadPoolExecutor(len(ledgers)) as pool:
        list(pool.map(write, ledgers))
    for ledger in ledgers:
        ledger.close()
        stored = ledger.report_windows(0, 4e9)
        assert len(stored) == len(systems)  # this site's, once each
        assert {w.record.end for w in stored} == {T0 + 600}
        ledger.dispose()
    assert count(postgres_url, "SELECT COUNT(*) FROM windows") == len(SITES) * len(systems)
    assert count(postgres_url, "SELECT COUNT(*) FROM transitions") == len(SITES) * 10
    assert count(postgres_url, "SELECT COUNT(*) FROM days") == len(SITES) * len(systems)


@pytest.mark.fault("the PostgreSQL server stops while the agent writes, and comes back",
                   "the writer holds every record (in memory and the journal), reports "
                   "unhealthy, and commits them all once the server is back; nothing lost or "
                   "doubled")
def test_a_lost_database_connection_is_survived_like_a_full_disk(tmp_path: Path) -> None:
    cluster = PostgresCluster(tmp_path).start()
    try:
        url = cluster.create_database("ledger")
        ledger = Ledger(url, "north")
        ledger.open()
        ledger.submit(Batch(windows=[window("email", T0, None, seen=T0 + 60)])).result(30)
        cluster.halt()
        held = [ledger.submit(Batch(
            windows=[window("email", T0, None, seen=T0 + 60 * k)],
            transitions=[TransitionRecord("email", T0 + k, "down", "down", None)]))
            for k in range(2, 6)]
        # nothing can be committed while the server is away: each is kept in the journal
        assert [future.result(timeout=30) for future in held] == [Outcome.JOURNALED] * 4
        assert not ledger.healthy
        assert ledger.pending > 0
        assert ledger.last_error
        assert ledger.journal.read() is not None
        cluster.resume()
        assert committed_within(ledger, 30)  # the backlog, then an empty batch, committed
        assert ledger.healthy and ledger.journal.read() is None
        [stored] = ledger.report_windows(0, 4e9)
        assert stored.record.last_observed == T0 + 300  # the latest, written once
        assert count(url, "SELECT COUNT(*) FROM transitions") == 4
        ledger.close()
        ledger.dispose()
    finally:
        cluster.stop()

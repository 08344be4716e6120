"""The ledger on both real stores (a SQLite file, a PostgreSQL database: `ledger_location`),
and the engine resuming from it after a restart; then what only SQLite files have."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from support.helpers import DOWN, HOURLY, UP, config, system

from agent.engine import Engine
from agent.ledger import Ledger, LedgerError
from agent.model import Config, State
from agent.records import Batch

T0 = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def sqlite_ledger(tmp_path: Path):
    book = Ledger(tmp_path / "ledger.db", site="shire-hall")
    book.open()
    yield book
    book.close()


def commit(ledger: Ledger, batch: Batch) -> None:
    ledger.submit(batch).result(timeout=10)


def run_outage(engine: Engine, ledger: Ledger, until: float) -> None:
    """email: up at T0, failing from T0+5, confirmed at T0+15, books brought to `until`."""
    for k, result in enumerate([UP, DOWN, DOWN, DOWN]):
        commit(ledger, engine.observe("email", result, T0 + 5 * k))
    commit(ledger, engine.account(until))


def restart(cfg: Config, ledger: Ledger, at: float) -> tuple[Engine, Batch]:
    engine = Engine(cfg, at)
    totals = {name: (t.amounts, t.incidents) for name, t in ledger.totals().items()}
    batch = engine.restore([w.record for w in ledger.open_windows()], totals,
                           ledger.days_since("2026-11-01"), at)
    commit(ledger, batch)
    return engine, batch


def test_open_window_is_committed_with_its_cost_basis(ledger):
    engine = Engine(config(system("email", users_share=0.5)), T0)
    run_outage(engine, ledger, T0 + 65)
    [stored] = ledger.open_windows()
    w = stored.record
    assert (w.system, w.state, w.start, w.end, w.before_start) == ("email", "down", T0 + 5,
                                                                   None, T0)
    assert w.accounted_until == T0 + 65
    assert w.amounts.cost == pytest.approx(2000 * 0.5 * HOURLY * 60 / 3600)
    assert (w.basis.users_share, w.basis.users_at_start) == (0.5, 2000)
    assert ledger.totals()["email"].incidents == 1


def test_restart_within_the_gap_continues_the_same_window(ledger):
    cfg = config(system("email"))
    engine = Engine(cfg, T0)
    run_outage(engine, ledger, T0 + 65)
    exported = engine.view(T0 + 65)[0].totals.cost
    # the agent is killed at T0+65 and back at T0+125 (60 s < max_unobserved_gap of 300 s)
    engine, _ = restart(cfg, ledger, T0 + 125)
    assert engine.view(T0 + 125)[0].totals.cost == pytest.approx(exported)
    commit(ledger, engine.observe("email", DOWN, T0 + 126))  # still down: gap is covered
    commit(ledger, engine.account(T0 + 185))
    [stored] = ledger.open_windows()
    assert stored.record.start == T0 + 5
    assert stored.record.amounts.downtime == pytest.approx(180)
    assert engine.view(T0 + 185)[0].incidents == 1


def test_recovery_seen_after_a_restart_ends_the_window_at_the_last_observation(ledger):
    cfg = config(system("email"))
    engine = Engine(cfg, T0)
    run_outage(engine, ledger, T0 + 65)
    commit(ledger, engine.observe("email", DOWN, T0 + 70))  # last probe before the kill
    engine, _ = restart(cfg, ledger, T0 + 120)
    for at in (T0 + 121, T0 + 123):
        commit(ledger, engine.observe("email", UP, at))
    assert engine.lives["email"].state is State.UP
    [closed] = ledger.windows(T0, T0 + 200)
    assert closed.record.end == T0 + 70
    assert closed.record.amounts.downtime == pytest.approx(65)


def test_a_long_gap_closes_the_window_and_is_recorded_as_unknown(ledger):
    cfg = config(system("email"))
    engine = Engine(cfg, T0)
    run_outage(engine, ledger, T0 + 65)
    engine, _ = restart(cfg, ledger, T0 + 3600)
    assert ledger.open_windows() == []
    down, gap = ledger.windows(T0, T0 + 7200)
    assert (down.record.state, down.record.end) == ("down", T0 + 65)
    assert (gap.record.state, gap.record.start, gap.record.end) == ("unknown", T0 + 65,
                                                                    T0 + 3600)
    assert gap.record.amounts.cost == 0
    # counters resume from the ledger's totals: nothing exported is taken back
    assert engine.view(T0 + 3600)[0].totals.cost == pytest.approx(2000 * HOURLY * 60 / 3600)
    assert engine.lives["email"].state is State.UNKNOWN


def test_writing_the_same_batch_twice_stores_it_once(ledger):
    engine = Engine(config(system("email")), T0)
    batch = Batch()
    for k, result in enumerate([UP, DOWN, DOWN, DOWN]):
        batch.extend(engine.observe("email", result, T0 + 5 * k))
    batch.transitions.clear()
    commit(ledger, batch)
    commit(ledger, dataclasses.replace(batch))
    assert len(ledger.windows(T0, T0 + 100)) == 1
    assert ledger.totals()["email"].incidents == 1


def test_another_process_can_read_while_the_daemon_writes(ledger):
    engine = Engine(config(system("email")), T0)
    run_outage(engine, ledger, T0 + 65)
    reader = sa.create_engine(ledger.url, poolclass=NullPool)
    with reader.connect() as conn:  # a read transaction held open...
        assert conn.execute(sa.text("SELECT COUNT(*) FROM windows")).scalar_one() == 1
        commit(ledger, engine.account(T0 + 70))  # ...does not block the writer (WAL, MVCC)
    reader.dispose()


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match=r"ledger\.db"):
        Ledger(path).open()
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_retention_prunes_old_transitions_but_never_windows(ledger):
    engine = Engine(config(system("email")), T0)
    run_outage(engine, ledger, T0 + 65)
    commit(ledger, Batch(prune_before=T0 + 1))  # the first one (up, at T0) goes
    with ledger.engine.connect() as conn:
        kept = [at for (at,) in conn.execute(sa.text("SELECT at FROM transitions"))]
    assert kept == [T0 + 5]
    assert len(ledger.windows(T0, T0 + 100)) == 1


# --- SQLite files only ----------------------------------------------------------------------


def test_backup_is_a_consistent_copy_and_never_overwrites(sqlite_ledger, tmp_path):
    engine = Engine(config(system("email")), T0)
    run_outage(engine, sqlite_ledger, T0 + 65)
    copy = tmp_path / "copy.db"
    sqlite_ledger.backup(copy)
    assert [w.record.start for w in Ledger(copy, "shire-hall").open_windows()] == [T0 + 5]
    with pytest.raises(LedgerError, match="already exists"):
        sqlite_ledger.backup(copy)


def test_a_postgresql_ledger_is_backed_up_with_pg_dump(tmp_path):
    with pytest.raises(LedgerError, match="pg_dump"):
        Ledger("postgresql+psycopg://agent@db.example.internal/outages").backup(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_ledger_location_is_a_path_or_a_sqlite_or_postgresql_url(tmp_path):
    assert Ledger(tmp_path / "a.db").path == tmp_path / "a.db"
    assert Ledger(f"sqlite:///{tmp_path}/b.db").path == tmp_path / "b.db"
    book = Ledger("postgresql://agent:s3cret@db.example.internal/outages")
    assert book.path is None
    assert book.url.drivername == "postgresql+psycopg"  # psycopg 3, whatever was written
    assert "s3cret" not in book.name  # what logs and messages show
    with pytest.raises(LedgerError, match="unsupported ledger store 'mysql'"):
        Ledger("mysql://agent@db.example.internal/outages")


def test_a_postgresql_ledger_without_psycopg_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real(name, *a))
    with pytest.raises(LedgerError, match=r"pip install 'outage-cost-agent\[postgresql\]'"):
        Ledger("postgresql+psycopg://agent@db.example.internal/outages")


def test_the_store_refuses_a_window_that_ends_before_it_starts(ledger):
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc

    insert = sa.text(
        "INSERT INTO windows (site, system, state, start_ts, end_ts, accounted_until, "
        "downtime_seconds, hourly_cost_per_user, users_share, impact, direct_cost_per_hour, "
        "users_at_start) VALUES ('s', 'x', 'down', 50, :end, 50, :downtime, 13, 1, 1, 0, 2000)")
    for end, downtime in ((40.0, 0.0), (60.0, 11.0)):  # ends early; more downtime than length
        with pytest.raises(sa_exc.IntegrityError), ledger.engine.begin() as conn:
            conn.execute(insert, {"end": end, "downtime": downtime})
    with ledger.engine.begin() as conn:
        conn.execute(insert, {"end": 60.0, "downtime": 10.0})

"""Users readings as evidence (agent.ledger users_readings): written in the agent's ordinary
batches, kept by the journal when the ledger cannot take them, and read back by reports as
each group's step function, on SQLite and a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.helpers import config, system

from agent.basis import basis_of
from agent.journal import Journal
from agent.ledger import Ledger
from agent.records import FALLBACK, Batch, UsersReading

READINGS = [UsersReading("everyone", 1000.0, 812.0, "prometheus", 60.0),
            UsersReading("everyone", 1060.0, None, FALLBACK, 60.0),
            UsersReading("everyone", 1120.0, 790.5, "prometheus", 60.0)]


def test_readings_are_committed_with_a_batch_and_read_back_in_order(ledger: Ledger) -> None:
    ledger.submit(Batch(readings=READINGS[1:])).result(timeout=10)
    ledger.submit(Batch(readings=READINGS[:1])).result(timeout=10)
    assert ledger.users_readings(0.0, 2000.0) == READINGS
    assert ledger.users_readings(1060.0, 1120.0) == READINGS[1:2]


def test_a_report_s_bases_carry_the_readings_of_the_ledger(ledger: Ledger) -> None:
    ledger.record_basis(basis_of(config(system("email"), users=100)), 0.0)
    ledger.submit(Batch(readings=READINGS)).result(timeout=10)
    [(_, basis)] = ledger.bases()
    [calendar] = basis.calendars
    assert [calendar.users_at(t) for t in (999.0, 1000.0, 1060.0, 1120.0, 1300.0)] == [
        100.0, 812.0, 100.0, 790.5, 100.0]


def test_a_journal_replay_writes_each_reading_once(ledger: Ledger) -> None:
    for _ in range(2):
        ledger.submit(Batch(readings=READINGS)).result(timeout=10)
    assert len(ledger.users_readings(0.0, 2000.0)) == 3


def test_the_journal_keeps_readings(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json")
    journal.keep(Batch(readings=READINGS))
    kept = journal.read()
    assert kept is not None and kept.readings == READINGS

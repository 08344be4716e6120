"""The journal of records the ledger could not commit: every kind of record comes back as it
went in, a damaged journal is named rather than guessed at, and it lives where it should."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import HOURLY
from support.ledgerparts import window

from agent.journal import Journal, journal_path
from agent.records import (
    AlertState,
    Amounts,
    Batch,
    DayRecord,
    GroupDayRecord,
    NotificationRecord,
    OutboxRecord,
    TransitionRecord,
)


def every_kind() -> Batch:
    return Batch(
        windows=[window("email", 100.0, None, cost=2 * HOURLY, before_start=90.0)],
        days=[DayRecord("email", "2026-11-03", Amounts(cost=1.5, staff=1.0, direct=0.5,
                                                       downtime=60.0))],
        group_days=[GroupDayRecord("everyone", "2026-11-03", 1.0)],
        transitions=[TransitionRecord("email", 100.0, "up", "down", None, "refused")],
        heartbeat=160.0,
        alerts=[AlertState("down", "email", "email", 100.0, fired_at=110.0)],
        alerts_cleared=[("costly", "email@100.000>=1")],
        notifications=[NotificationRecord(110.0, "down", "firing", "email is DOWN", ("hook",))],
        outbox=[OutboxRecord("a" * 32, "hook", {"alert": "down", "at": 110.0}, "queued", 110.0)],
        prune_before=50.0,
    )


def test_a_batch_comes_back_from_the_journal_as_it_went_in(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "ledger.db.journal")
    assert journal.read() is None
    journal.keep(every_kind())
    assert journal.read() == every_kind()
    journal.keep(Batch(heartbeat=170.0))  # replaced whole, never appended to
    assert journal.read() == Batch(heartbeat=170.0)
    journal.clear()
    assert journal.read() is None and not journal.path.exists()


def test_a_damaged_journal_is_named_not_guessed_at(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "ledger.db.journal")
    journal.path.write_text('{"windows": [')
    with pytest.raises(ValueError, match=r"ledger\.db\.journal: not a journal the agent"):
        journal.read()


def test_the_journal_lives_beside_a_file_or_in_the_state_folder(tmp_path: Path,
                                                                monkeypatch) -> None:
    assert journal_path(tmp_path / "l.db", "x") == tmp_path / "l.db.journal"
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    found = journal_path(None, "postgresql://db/outages\0north\0")
    assert found.parent == tmp_path / "state" and found.name.startswith("ledger-")
    assert found != journal_path(None, "postgresql://db/outages\0south\0")

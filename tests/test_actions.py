"""Reading what people do (`ack`, `maintenance`) while the ledger cannot be read: the agent
retries at every checkpoint, and says so in a few lines, not one a checkpoint."""

from __future__ import annotations

import logging

import pytest

from agent.actions import ActionReader
from agent.ledger import Action, LedgerError

CHECKPOINT = 0.5  # seconds between two reads: the daemon's evaluation interval, at its least


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FailingLedger:
    """Stands in for the ledger: out of descriptors for the first `failures` reads."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.reads = 0

    def actions_since(self, after_id: int) -> list[Action]:
        self.reads += 1
        if self.reads <= self.failures:
            raise LedgerError("(sqlite3.OperationalError) unable to open database file "
                              "[Errno 24] Too many open files")
        return []


@pytest.mark.fault("the ledger unreadable at every checkpoint for 20 minutes (the agent out "
                   "of descriptors): 2,424 failed reads of people's actions",
                   "logged once, then at most once a minute with how many failed since, and "
                   "once when reading works again: 22 lines, not 2,424",
                   area="Agent process")
async def test_a_ledger_that_cannot_be_read_is_logged_once_a_minute_and_its_recovery_once(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    reader = ActionReader(FailingLedger(2424), clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="agent.actions"):
        for _ in range(2425):
            assert await reader.new() == []
            clock.now += CHECKPOINT
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.actions"]
    error = "(sqlite3.OperationalError) unable to open database file [Errno 24] Too many open files"
    assert lines[0] == f"cannot read actions from the ledger (will retry): {error}"
    assert lines[1:21] == [f"cannot read actions from the ledger (will retry; 119 more failures "
                           f"since the last such line): {error}"] * 20
    assert lines[21:] == ["reading actions again after 2424 failures"]


async def test_a_failure_after_a_recovery_is_logged_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    ledger = FailingLedger(1)
    reader = ActionReader(ledger, clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="agent.actions"):
        for _ in range(2):
            assert await reader.new() == []
            clock.now += CHECKPOINT
        ledger.failures, ledger.reads = 1, 0  # fails again a second later: news, said at once
        assert await reader.new() == []
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.actions"]
    assert [line.split(":")[0] for line in lines] == [
        "cannot read actions from the ledger (will retry)",
        "reading actions again after 1 failures",
        "cannot read actions from the ledger (will retry)"]


async def test_while_actions_cannot_be_read_the_live_counters_are_not_held_for_them() -> None:
    # The books wait at the last look for a maintenance command not yet read (it may be
    # dated back to then); a look that failed holds nothing, or the counters would stop.
    reader = ActionReader(FailingLedger(1))  # type: ignore[arg-type]
    assert await reader.new(1000.0) == [] and reader.looked is None
    assert await reader.new(1005.0) == [] and reader.looked == 1005.0

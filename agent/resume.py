"""A start: read back what the ledger holds, and hand it to a fresh engine (agent.takeover
does the bookkeeping)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from agent import __version__
from agent.engine import Engine
from agent.ledger import Ledger, StoredWindow
from agent.model import Config
from agent.records import Amounts, Batch, DayRecord, GroupDayRecord
from agent.shard import keeps_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    """What a restart reads back from its ledger."""

    open_windows: list[StoredWindow]
    totals: dict[str, tuple[Amounts, int]]  # system -> (amounts, incidents)
    days: list[DayRecord]
    group_totals: dict[str, float]
    group_days: list[GroupDayRecord]
    latest: float  # the latest time recorded before this run


def read_recorded(ledger: Ledger, watched: Iterable[str], first_day: str,
                  now: float) -> Recorded:
    """Note this run and the systems it watches, and read back the books from `first_day`
    (blocking: call it in a worker thread)."""
    latest = ledger.latest_record()  # before this run's own records
    ledger.start_run(__version__, now)
    ledger.watch(watched, now)
    return Recorded(
        ledger.open_windows(),
        {name: (t.amounts, t.incidents) for name, t in ledger.totals().items()},
        ledger.days_since(first_day), ledger.group_totals(), ledger.group_days_since(first_day),
        latest)


def resume(engine: Engine, recorded: Recorded, configured: set[str], config: Config,
           now: float, ledger_name: str) -> Batch:
    """Restore `engine` from `recorded`, taking up only the open windows this agent keeps
    (see agent.shard); return what to commit."""
    windows = [w.record for w in recorded.open_windows if keeps_window(
        w.record.system, engine.lives, configured, config.agent.shard)]
    batch = engine.restore(windows, recorded.totals, recorded.days, now,
                           group_totals=recorded.group_totals, group_days=recorded.group_days,
                           not_before=recorded.latest)
    resumed = sum(1 for w in windows if w.system in engine.lives
                  and engine.lives[w.system].window is not None)
    log.info("ledger %s open: %d open window(s) resumed, %d closed after a gap",
             ledger_name, resumed, len(windows) - resumed)
    return batch

"""Windows written to a real ledger file, for the report, import and audit tests.

Windows go through the real Ledger writer thread (the daemon's path), so the report reads back
exactly what a running agent would have committed.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from support.helpers import HOURLY

from agent.ledger import Ledger, StoredWindow
from agent.records import Amounts, Basis, Batch, WindowRecord

LONDON = "Europe/London"
HOUR = 3600.0


def at(text: str, timezone: str = "UTC") -> float:
    """POSIX seconds of a wall-clock time in a zone ("2026-11-03 09:00")."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone)).timestamp()


def window(
    system: str, start: float, end: float | None, *, state: str = "down",
    cause: str | None = None, share: float = 1.0, impact: float = 1.0, direct: float = 0.0,
    users: float = 2000.0, before_start: float | None = None, before_end: float | None = None,
    cost: float = 0.0, source: str = "live", new_incident: bool = True,
    seen: float | None = None,
) -> WindowRecord:
    """A window as the engine would hand it to the ledger; `cost` is its recorded figure,
    `seen` the last time an open window was observed (default: its end, or its start)."""
    seen = seen if seen is not None else end if end is not None else start
    return WindowRecord(
        system=system, state=state, cause=cause, start=start, end=end,
        before_start=before_start, before_end=before_end, last_observed=seen,
        accounted_until=seen,
        amounts=Amounts(cost=cost, staff=cost, downtime=(end or start) - start),
        basis=Basis(hourly_cost_per_user=HOURLY, users_share=share, impact=impact,
                    direct_cost_per_hour=direct, users_at_start=users),
        new_incident=new_incident and state == "down", source=source,
    )


def store(ledger: Ledger, *records: WindowRecord) -> list[StoredWindow]:
    """Commit the windows through the writer thread; return every window in the ledger."""
    ledger.submit(Batch(windows=list(records))).result(timeout=10)
    return ledger.report_windows(0.0, 4e9)


def untouched(location: str) -> bool:
    """True if nothing was ever written at a ledger location: no SQLite file, or a PostgreSQL
    database without the ledger's tables."""
    if "://" not in location:
        return not Path(location).exists()
    engine = sa.create_engine(location, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return not sa.inspect(conn).has_table("ledger_schema")
    finally:
        engine.dispose()


def write_config(tmp_path: Path, systems: str, *, timezone: str = "UTC",
                 users: str = "2000", ledger: str = "ledger.db") -> Path:
    """A config file whose ledger is `ledger` (default tmp_path/ledger.db); `systems` is the
    YAML list's items."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent:\n  ledger: '{ledger}'\n  site: shire-hall\n"
        f"cost:\n  currency: GBP\n  timezone: {timezone}\n  annual_cost_per_user: 25000\n"
        f"  concurrent_users: {users}\n"
        "systems:\n" + textwrap.indent(textwrap.dedent(systems), "  ")
    )
    return path

"""`outage-agent import` of a file already imported changes nothing: no window, note, ticket or
audit row is added or rewritten, however the file's rows merged the first time."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from support.ledgerparts import LONDON, write_config

SYSTEMS = """\
- name: network-core
  probe: {type: tcp, target: "127.0.0.1:9"}
- name: email
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.5
- name: finance
  depends_on: [network-core]
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.2
"""
# Rows that merge (two notes and tickets joined into one window), and a dependant cut where
# its dependency, imported in the same file, was down.
WINDOWS = """\
system,start,end,state,cause,impact,note,ticket
email,2026-11-03 09:00,2026-11-03 10:30,,,,mail store full,INC-4411
email,2026-11-03 10:00,2026-11-03 11:30,,,,disk replaced,INC-4412
network-core,2026-11-04 09:30,2026-11-04 10:00,,,,core switch,INC-4413
finance,2026-11-04 09:00,2026-11-04 10:30,,,,ledger slow,INC-4414
finance,2026-11-04 10:15,2026-11-04 11:00,,,,ledger slow again,
"""


def import_file(config: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["outage-agent", "import", "-c", str(config), str(path)],
                          capture_output=True, text=True, timeout=60)


def contents(ledger: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables an import writes."""
    with sqlite3.connect(ledger) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("windows", "audit", "cost_basis")}


@pytest.mark.fault("the same CSV file imported again, its rows having merged the first time "
                   "(overlapping rows with their notes and tickets; a dependant cut where its "
                   "dependency was down)", "nothing changes: no note or ticket joined again, "
                   "no audit row, no window rewritten; each window said to be already "
                   "recorded", area="Reports and imports")
def test_importing_a_merged_file_again_changes_nothing(tmp_path):
    config = write_config(tmp_path, SYSTEMS, timezone=LONDON)
    path = tmp_path / "windows.csv"
    path.write_text(WINDOWS)
    first = import_file(config, path)
    assert first.returncode == 0, first.stderr
    before = contents(tmp_path / "ledger.db")
    notes = {row[0]: (row[1], row[2]) for row in sqlite3.connect(tmp_path / "ledger.db")
             .execute("SELECT system, note, ticket FROM windows")}
    assert notes["email"] == ("mail store full; disk replaced", "INC-4411; INC-4412")

    for _ in range(2):
        again = import_file(config, path)
        assert again.returncode == 0, again.stderr
        assert contents(tmp_path / "ledger.db") == before
        *lines, total = again.stdout.splitlines()
        assert all(line.endswith("unchanged") for line in lines), lines
        assert total.startswith("5 rows: 0 windows stored, 3 already recorded"), total

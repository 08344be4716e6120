"""`outage-agent export`: every window, with its evidence, and the audit trail."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess

import pytest
from support.ledgerparts import HOUR, at, store, window, write_config

from agent.ledger import Ledger

SYSTEMS = """\
- name: email
  probe: {type: tcp, target: "127.0.0.1:25"}
"""


def export(config, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["outage-agent", "export", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def test_export_writes_windows_and_the_audit_trail(tmp_path, ledger_location):
    config = write_config(tmp_path, SYSTEMS, ledger=ledger_location)
    ledger = Ledger(ledger_location, "shire-hall")
    ledger.open()
    start = at("2026-11-03 09:00")
    [stored] = store(ledger, window("email", start, start + HOUR, cost=25987.53,
                                    before_start=start - 30, before_end=start + HOUR - 30))
    ledger.annotate(stored.id, {"ticket": "INC-4411"}, "ops@shire-hall", start + 2 * HOUR)
    ledger.close()

    rows = list(csv.DictReader(io.StringIO(export(config).stdout)))
    assert [(r["system"], r["cost"], r["ticket"]) for r in rows] == [
        ("email", "25987.53", "INC-4411")]
    assert rows[0]["last_good_before_start"] == "2026-11-03T08:59:30.000Z"
    assert float(rows[0]["hourly_cost_per_user"]) == 25000 / 1924

    both = json.loads(export(config, "--what", "all", "--format", "json").stdout)
    [entry] = both["audit"]
    assert (entry["window_id"], entry["field"], entry["before"], entry["after"], entry["who"]) \
        == (stored.id, "ticket", None, "INC-4411", "ops@shire-hall")
    assert both["windows"][0]["id"] == stored.id
    assert export(config, "--what", "all").returncode == 2  # CSV is one table at a time


@pytest.mark.fault("=HYPERLINK(...), @SUM(...), +cmd and -2+3 in a window's reason, note, "
                   "ticket and audit trail", "the export's CSV shows them as text (a leading "
                   "'), as the report's CSV does; JSON keeps them as they are",
                   area="Security")
def test_export_csv_cells_are_never_spreadsheet_formulas(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    ledger = Ledger(tmp_path / "ledger.db", "shire-hall")
    ledger.open()
    start = at("2026-11-03 09:00")
    record = window("email", start, start + HOUR)
    [stored] = store(ledger, dataclasses.replace(record, reason="=HYPERLINK(\"http://x\",\"y\")"))
    ledger.annotate(stored.id, {"note": "@SUM(A1:A9)", "ticket": "+cmd|' /C calc'!A0"},
                    "-2+3", start + 2 * HOUR)
    ledger.close()

    [row] = csv.DictReader(io.StringIO(export(config).stdout))
    assert (row["reason"], row["note"], row["ticket"]) == (
        "'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1:A9)", "'+cmd|' /C calc'!A0")
    assert (row["system"], row["cost"]) == ("email", "25987.53")  # text and numbers kept
    audit = list(csv.DictReader(io.StringIO(export(config, "--what", "audit").stdout)))
    assert {(a["who"], a["after"]) for a in audit} == {
        ("'-2+3", "'@SUM(A1:A9)"), ("'-2+3", "'+cmd|' /C calc'!A0")}
    [window_json] = json.loads(export(config, "--format", "json").stdout)
    assert window_json["note"] == "@SUM(A1:A9)"


# Text with a line break before a formula: read unquoted, the break started a new row whose
# first cell was the formula.
BROKEN_LINES = {"--ticket": "\r=1+2", "--note": "\n@SUM(A1:A9)"}
VOID_REASON = "false alarm\r\n-2+3\r+cmd"


@pytest.mark.fault("a CR or LF before a formula in a window's ticket, note and void reason "
                   "(`annotate --ticket $'\\r=1+2'`)", "export and report CSV quote every "
                   "field with a line break: read back with Python's csv, one row per window "
                   "and no cell starts with = + - @", area="Security")
def test_csv_line_breaks_cannot_start_a_row_or_a_formula(tmp_path, capsys):
    from agent.cli import main

    config = write_config(tmp_path, SYSTEMS)
    ledger = Ledger(tmp_path / "ledger.db", "shire-hall")
    ledger.open()
    start = at("2026-11-03 09:00")
    [stored] = store(ledger, window("email", start, start + HOUR))
    ledger.close()
    for option, value in BROKEN_LINES.items():
        assert main(["annotate", "-c", str(config), str(stored.id), option, value]) == 0
    assert main(["void", "-c", str(config), str(stored.id), "--reason", VOID_REASON]) == 0
    capsys.readouterr()
    tables = {}
    for what in ("windows", "audit"):
        assert main(["export", "-c", str(config), "--what", what]) == 0
        tables[what] = capsys.readouterr().out
    assert main(["report", "-c", str(config), "--from", "2026-11-01", "--to", "2026-12-01",
                 "--format", "csv"]) == 0
    tables["report"] = capsys.readouterr().out
    for name, text in tables.items():
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == {"audit": 4}.get(name, 2), (name, rows)
        assert all(len(row) == len(rows[0]) for row in rows), (name, rows)
        starts = [cell for row in rows for cell in row if cell.startswith(("=", "+", "-", "@"))]
        assert starts == [], (name, text)
    [window_row] = csv.DictReader(io.StringIO(tables["windows"], newline=""))
    assert (window_row["ticket"], window_row["note"], window_row["voided_reason"]) == (
        "'\r=1+2", "'\n@SUM(A1:A9)", VOID_REASON)

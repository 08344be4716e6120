"""Commands that tell the truth: each says what it did, or in one line why it did nothing,
with the exit code docs/cli.md's table gives. Run as a user runs them: the installed console
script, real files, a real PostgreSQL where the ledger may be one."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from support.ledgerparts import HOUR, at, store, untouched, window, write_config
from support.realparts import free_port

from agent.ledger import Action, Ledger

SYSTEMS = """\
- name: network-core
  probe: {type: tcp, target: "127.0.0.1:9"}
- name: web
  depends_on: [network-core]
  probe: {type: tcp, target: "127.0.0.1:9"}
"""
NOVEMBER = ["--from", "2026-11-01", "--to", "2026-12-01"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["outage-agent", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env={**os.environ, "NO_COLOR": "1"})


def said(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a command printed on stderr, a line each (and never a traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.splitlines()


def ledger_with_a_window(location: str) -> int:
    """A ledger at `location` holding one window of web; its id."""
    ledger = Ledger(location, "shire-hall")
    ledger.open()
    start = at("2026-11-03 09:00")
    [stored] = store(ledger, window("web", start, start + HOUR, cost=100.0))
    ledger.close()
    ledger.dispose()
    return stored.id


# --- every ledger command takes --ledger; those that read one refuse a missing one ----------

NEEDS_A_LEDGER = [
    ["ack", "web"], ["maintenance", "web", "--for", "1h"], ["maintenance", "web", "--end"],
    ["annotate", "1", "--note", "x"], ["void", "1", "--reason", "test"],
    ["report", *NOVEMBER], ["export"], ["backup", "copy.db"],
]


@pytest.mark.parametrize("command", NEEDS_A_LEDGER, ids="-".join)
@pytest.mark.fault("ack, maintenance, annotate, void, report, export or backup given a ledger "
                   "that does not exist (a mistyped --ledger, a config not yet run)",
                   "one line naming it, exit 1; no empty ledger is created, in a SQLite "
                   "file or a PostgreSQL database", area="Command line")
def test_a_command_that_reads_the_ledger_refuses_a_missing_one(tmp_path, ledger_location,
                                                               command):
    config = write_config(tmp_path, SYSTEMS, ledger=str(tmp_path / "configured.db"))
    result = run(command[0], "-c", str(config), "--ledger", ledger_location, *command[1:],
                 cwd=tmp_path)
    named = ledger_location if "://" not in ledger_location else "postgresql+psycopg://"
    [line] = said(result)
    assert result.returncode == 1, line
    assert line.startswith("no ledger at ") and named in line, line
    assert "has the agent run with this configuration?" in line
    assert untouched(ledger_location) and untouched(str(tmp_path / "configured.db"))
    assert not (tmp_path / "copy.db").exists()


def test_ledger_overrides_agent_ledger_for_every_command_that_uses_it(tmp_path):
    config = write_config(tmp_path, SYSTEMS, ledger=str(tmp_path / "configured.db"))
    other = str(tmp_path / "other.db")
    wid = ledger_with_a_window(other)
    given = ["-c", str(config), "--ledger", other]

    exported = run("export", *given)
    assert exported.returncode == 0, exported.stderr
    assert [row["id"] for row in csv.DictReader(io.StringIO(exported.stdout))] == [str(wid)]
    assert run("annotate", *given, str(wid), "--ticket", "INC-1").returncode == 0
    assert run("maintenance", *given, "web", "--for", "1h").returncode == 0
    report = run("report", *given, *NOVEMBER, "--format", "json")
    assert json.loads(report.stdout)["systems"][-1]["windows"][0]["ticket"] == "INC-1"
    assert run("backup", *given, str(tmp_path / "copy.db")).returncode == 0
    windows = tmp_path / "windows.csv"
    windows.write_text("system,start,end\nweb,2026-11-05 09:00,2026-11-05 10:00\n")
    relative = run("import", "-c", str(config), "--ledger", "new.db", str(windows), cwd=tmp_path)
    assert relative.returncode == 0, relative.stderr  # created, relative to where it was typed
    assert [a.kind for a in Ledger(other, "shire-hall").actions_since(0)] == ["maintenance"]
    assert (tmp_path / "new.db").exists() and (tmp_path / "copy.db").exists()
    assert not (tmp_path / "configured.db").exists()


# --- --listen is agent.listen ---------------------------------------------------------------


@pytest.mark.parametrize(("command", "address", "why"), [
    (["run", "-c", "{config}"], "21918",
     "give a host: 127.0.0.1:21918 for this machine, 0.0.0.0:21918 for every interface"),
    (["run", "-c", "{config}"], "0.0.0.0:80x",
     "the port must be a number from 1 to 65535, got '80x'"),
    (["demo"], "bogus", "expected host:port, e.g. 127.0.0.1:9321 or [2001:db8::1]:443"),
])
@pytest.mark.fault("run --listen 21918 (a bare port), run --listen 0.0.0.0:80x, demo --listen "
                   "bogus", "refused as agent.listen is, in one line, exit 2: a bare port is "
                   "not taken for every interface", area="Command line")
def test_listen_is_checked_as_agent_listen_is(tmp_path, command, address, why):
    config = write_config(tmp_path, SYSTEMS)
    argv = [part.format(config=config) for part in command]
    result = run(*argv, "--listen", address)
    assert (result.returncode, said(result)) == (2, [f"outage-agent {argv[0]}: --listen: {why}"])
    config.write_text(config.read_text().replace("agent:\n", f"agent:\n  listen: '{address}'\n"))
    if argv[0] == "run":  # the same words for the same mistake in the file
        assert said(run("check", "-c", str(config))) == [f"{config}:2: agent.listen: {why}"]


# --- a ledger or an output that cannot be written: one line ---------------------------------


@pytest.mark.parametrize("location", ["/sys/kernel/ledger.db", "/sys/kernel/new/ledger.db",
                                      "/dev/null/ledger.db"])
@pytest.mark.fault("agent.ledger where no file can be made (/sys/kernel/ledger.db, a folder "
                   "that cannot be, a file for a folder), for run and import",
                   "one line naming the ledger and why, exit 1; no traceback",
                   area="Command line")
def test_a_ledger_that_cannot_be_created_is_one_line(tmp_path, location):
    config = write_config(tmp_path, SYSTEMS, ledger=location)
    text = config.read_text().replace("agent:\n", f"agent:\n  listen: 127.0.0.1:{free_port()}\n")
    config.write_text(text)
    windows = tmp_path / "windows.csv"
    windows.write_text("system,start,end\nweb,2026-11-05 09:00,2026-11-05 10:00\n")
    for result in (run("run", "-c", str(config)), run("import", "-c", str(config), str(windows))):
        [line] = said(result)
        assert result.returncode == 1 and location in line, line
        assert "cannot" in line and "damaged" not in line, line


@pytest.mark.fault("report, export or dashboards given an -o that cannot be written (a file "
                   "where its folder should be, /sys/kernel)", "one line naming it and why, "
                   "exit 1; no traceback", area="Command line")
def test_an_output_that_cannot_be_written_is_one_line(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    ledger_with_a_window(str(tmp_path / "ledger.db"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    results = {
        "report": run("report", "-c", str(config), *NOVEMBER, "-o", f"{blocker}/r.md"),
        "export": run("export", "-c", str(config), "-o", f"{blocker}/e.csv"),
        "dashboards": run("dashboards", "-o", "/sys/kernel/boards"),
    }
    for command, result in results.items():
        [line] = said(result)
        assert result.returncode == 1, (command, line)
        assert ": cannot write: " in line and line.endswith(
            ("Not a directory", "Operation not permitted", "Permission denied")), line


# --- maintenance --end with nothing to end -------------------------------------------------


@pytest.mark.fault("`maintenance --end` of a system with no maintenance running or planned",
                   "says so, records nothing and exits 1; an end of running maintenance is "
                   "recorded for the daemon", area="Command line")
def test_maintenance_end_with_none_running_says_so_and_exits_1(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    ledger_with_a_window(str(tmp_path / "ledger.db"))
    ledger = Ledger(tmp_path / "ledger.db", "shire-hall")
    maintenance = ["maintenance", "-c", str(config), "web"]

    nothing = run(*maintenance, "--end")
    assert (nothing.returncode, said(nothing), nothing.stdout) == (1, [
        "web: no maintenance started with `outage-agent maintenance` is running or planned; "
        "nothing to end"], "")
    assert ledger.actions_since(0) == []
    assert run(*maintenance, "--for", "1h").returncode == 0
    ended = run(*maintenance, "--end")
    assert (ended.returncode, ended.stdout) == (0, "web: maintenance ended\n")
    assert run(*maintenance, "--end").returncode == 1  # once ended, there is nothing to end
    assert [a.kind for a in ledger.actions_since(0)] == ["maintenance", "maintenance_end"]
    assert "1 no ledger, or --end with no such maintenance" in run(
        "maintenance", "--help").stdout.replace("\n", " ").replace("  ", " ")


def test_maintenance_end_ends_maintenance_planned_for_later_too(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    ledger_with_a_window(str(tmp_path / "ledger.db"))
    ledger = Ledger(tmp_path / "ledger.db", "shire-hall")
    now = at("2030-01-01 00:00")  # the CLI's clock is the wall clock: this is later
    ledger.add_action(Action("maintenance", "web", now, now + HOUR, "ops@desk", ""))
    assert run("maintenance", "-c", str(config), "web", "--end").returncode == 0


# --- currency codes are ISO 4217's ---------------------------------------------------------


@pytest.mark.fault("cost.currency or dashboards --currency `XYZ`: three capitals, but no "
                   "ISO 4217 code", "refused (check: file:line, exit 2; dashboards: exit 2, "
                   "nothing written)", area="Command line")
def test_a_currency_code_must_be_an_iso_4217_one(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    config.write_text(config.read_text().replace("currency: GBP", "currency: XYZ"))
    checked = run("check", "-c", str(config))
    assert (checked.returncode, said(checked)) == (
        2, [f"{config}:5: cost.currency: 'XYZ' is not an ISO 4217 currency code"])
    boards = run("dashboards", "--currency", "XYZ", "-o", str(tmp_path / "boards"))
    assert (boards.returncode, said(boards)) == (
        2, ["--currency: 'XYZ' is not an ISO 4217 currency code"])
    assert not (tmp_path / "boards").exists()
    for code in ("EUR", "CHF", "JPY"):
        config.write_text(config.read_text().replace("currency: XYZ", f"currency: {code}")
                          .replace("currency: EUR", f"currency: {code}")
                          .replace("currency: CHF", f"currency: {code}"))
        assert run("check", "-c", str(config)).returncode == 0, code


# --- export -----------------------------------------------------------------------------


@pytest.mark.fault("export -o exp.json without --format; export -o onto an existing file",
                   "JSON, as the extension says (one array); an existing file is kept, exit "
                   "2, unless --force", area="Command line")
def test_export_writes_the_format_its_file_names_and_never_overwrites_unasked(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    wid = ledger_with_a_window(str(tmp_path / "ledger.db"))
    out = tmp_path / "exp.json"
    export = ["export", "-c", str(config), "-o", str(out)]

    assert run(*export).returncode == 0
    assert [w["id"] for w in json.loads(out.read_text())] == [wid]  # one JSON array
    out.write_text("kept")
    again = run(*export)
    assert (again.returncode, said(again)) == (
        2, [f"{out}: already exists; give --force to overwrite it"])
    assert out.read_text() == "kept"
    assert run(*export, "--force").returncode == 0
    assert json.loads(out.read_text())[0]["id"] == wid
    as_csv = tmp_path / "exp.csv"
    assert run("export", "-c", str(config), "-o", str(as_csv)).returncode == 0
    assert next(csv.DictReader(io.StringIO(as_csv.read_text())))["id"] == str(wid)


def test_an_empty_export_still_has_its_csv_header(tmp_path):
    from agent.export import CSV_FIELDS, window_export

    config = write_config(tmp_path, SYSTEMS)
    wid = ledger_with_a_window(str(tmp_path / "ledger.db"))
    audit = run("export", "-c", str(config), "--what", "audit")
    assert (audit.returncode, audit.stdout.splitlines()) == (
        0, ["window_id,system,at,who,field,before,after"])  # no correction yet: the header
    [stored] = Ledger(tmp_path / "ledger.db", "shire-hall").report_windows(0.0, 4e9)
    assert stored.id == wid
    assert tuple(window_export(stored, at("2027-01-01 00:00"))) == CSV_FIELDS["windows"]


# --- one clear line where a library's words were -------------------------------------------


@pytest.mark.fault("notify-test to a webhook whose port nothing listens on",
                   "one line: the notifier, where, and `connection refused`; exit 1",
                   area="Notifiers")
def test_notify_test_says_why_in_one_line(tmp_path):
    port = free_port()
    config = write_config(tmp_path, SYSTEMS)
    config.write_text(config.read_text() + "notifiers:\n  - {name: hook, type: webhook, url: "
                      f"'http://127.0.0.1:{port}/services/T0/B0/secret'}}\n")
    result = run("notify-test", "-c", str(config), "hook")
    assert (result.returncode, said(result)) == (
        1, [f"hook: failed: 127.0.0.1:{port}: connection refused"])


def test_annotate_suggests_the_system_meant(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    wid = ledger_with_a_window(str(tmp_path / "ledger.db"))
    result = run("annotate", "-c", str(config), str(wid), "--cause", "netwrok-core")
    assert (result.returncode, said(result)) == (2, [
        f"--cause: no system named 'netwrok-core' in {config}; did you mean 'network-core'?"])


def test_one_maintenance_period_is_one_period(tmp_path):
    config = write_config(tmp_path, SYSTEMS)
    ledger_with_a_window(str(tmp_path / "ledger.db"))
    start = at("2026-11-04 09:00")
    Ledger(tmp_path / "ledger.db", "shire-hall").add_action(
        Action("maintenance", "web", start, start + HOUR, "ops@desk", ""))
    report = run("report", "-c", str(config), *NOVEMBER)
    assert "availability: 1 period, 1h in all" in report.stdout

"""The command line as a user runs it: installed console script, real files, real targets."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import EXAMPLE_ENV
from support.realparts import HttpTarget, free_port, get, get_json, parse_metrics, wait_for

from agent import __version__
from agent.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["outage-agent", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **EXAMPLE_ENV})


def test_version_matches_the_package():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"outage-agent {__version__}"


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "agent", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == f"outage-agent {__version__}"


def test_check_summarises_the_example_config():
    result = run("check", "-c", str(REPO / "config" / "example.yaml"))
    assert result.returncode == 0, result.stderr
    assert "£25,000 / 1,924 h = £12.99 per user-hour" in result.stdout
    assert "£38,981.29 per hour" in result.stdout  # its users are measured, up to max 3,000


def test_check_reports_every_problem_and_exits_2(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "cost:\n  currency: GBP\n  concurrent_users: -5\n"
        "systems:\n"
        "  - name: a\n    probe: {type: tcp, target: 'nohost'}\n    users_shar: 1\n"
        "  - name: a\n    probe: {type: http, url: 'http://127.0.0.1:1/'}\n    impact: 2\n"
    )
    result = run("check", "-c", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 4, lines
    assert all(line.startswith(f"{path}:") for line in lines), lines
    assert any("users_shar" in line and "users_share" in line for line in lines)
    assert "Traceback" not in result.stderr


# Every command that reads a config, with what else it needs to get that far.
CONFIG_COMMANDS = [
    ["run"], ["check"], ["probe"], ["notify-test", "mail"], ["ack", "web"],
    ["maintenance", "web", "--end"], ["backup", "copy.db"], ["export"],
    ["report", "--from", "2026-11-01", "--to", "2026-12-01"], ["import", "windows.csv"],
    ["annotate", "1", "--note", "x"], ["void", "1", "--undo"],
]


@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=lambda command: command[0])
def test_every_command_given_an_invalid_config_prints_each_problem_and_exits_2(
        tmp_path, capsys, command):
    path = tmp_path / "config.yaml"
    path.write_text("agent: {ledger: ledger.db}\ncost: {concurrent_users: -5}\nsystems: []\n")
    assert main([command[0], "-c", str(path), *command[1:]]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith(f"{path}:") for line in lines), lines
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no ledger was opened


BAD_PORT = ("not a database URL: the port must be a number from 1 to 65535, and an IPv6 "
            "address goes in brackets: postgresql+psycopg://[::1]:5432/database")


@pytest.mark.parametrize("url", ["postgresql+psycopg://agent:s3cretpw@db.example.internal:abc/o",
                                 "postgresql://agent:s3cretpw@[::1/outages"])
@pytest.mark.fault("a PostgreSQL URL with a bad port given as run --ledger, or as agent.ledger "
                   "to check", "exit 2 with one line (run: naming --ledger; check: file:line); "
                   "the password is never printed", area="Security")
def test_a_bad_ledger_url_is_one_line_without_its_password(tmp_path, url):
    config = tmp_path / "config.yaml"
    config.write_text(f'agent: {{ledger: "{url}"}}\ncost: {{annual_cost_per_user: 1, '
                      "concurrent_users: 1}\nsystems:\n  - name: a\n    probe: "
                      "{type: tcp, target: '127.0.0.1:9'}\n")
    given = run("run", "-c", str(tmp_path / "missing.yaml"), "--ledger", url)
    checked = run("check", "-c", str(config))
    assert (given.returncode, given.stderr.splitlines()) == (
        2, [f"outage-agent run: --ledger: {BAD_PORT}"])
    assert (checked.returncode, checked.stderr.splitlines()) == (
        2, [f"{config}:1: agent.ledger: {BAD_PORT}"])
    for result in (given, checked):
        assert "s3cretpw" not in result.stdout + result.stderr


def test_probe_prints_a_table_and_exits_1_when_a_system_fails(tmp_path):
    up = HttpTarget()
    up.up()
    path = tmp_path / "config.yaml"
    path.write_text(
        "cost: {currency: GBP, concurrent_users: 10, hourly_cost_per_user: 10}\n"
        "systems:\n"
        f"  - name: web\n    probe: {{type: http, url: '{up.url}'}}\n"
        f"  - name: dead\n    probe: {{type: tcp, target: '127.0.0.1:{free_port()}'}}\n"
    )
    try:
        both = run("probe", "-c", str(path))
        only_web = run("probe", "-c", str(path), "web")
    finally:
        up.down()
    assert both.returncode == 1
    rows = {line.split()[0]: line for line in both.stdout.splitlines()[1:]}
    assert rows["web"].split()[1] == "up"
    assert rows["dead"].split()[1] == "down" and "refused" in rows["dead"]
    assert only_web.returncode == 0 and "dead" not in only_web.stdout
    assert run("probe", "-c", str(path), "nope").returncode == 2


def test_demo_shows_cost_accruing_within_a_minute(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        ["outage-agent", "demo", "--listen", f"127.0.0.1:{port}", "--duration", "90",
         "--ledger", str(tmp_path / "demo.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the email outage to cost money", lambda: parse_metrics(
            get(base + "/metrics")[1]).get('outage_cost_total{system="email"}', 0) > 0,
            timeout=60, every=1.0)
        systems = {s["name"]: s for s in get_json(base + "/api/v1/systems")}
        assert systems["email"]["state"] == "down"
        assert systems["email"]["cost_per_hour"] == pytest.approx(
            2000 * 0.9 * 0.5 * 25000 / 1924, abs=0.01)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "system=email state=down" in out


ALERTING = """\
notifiers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/hook"}
alerts:
  - {name: down, condition: state, notify: [hook]}
"""
WEB = '- name: web\n  probe: {type: tcp, target: "127.0.0.1:9"}\n'


def ledger_config(tmp_path: Path) -> Path:
    """A config of one system, web, with no alert rules, and its (empty) ledger."""
    from support.ledgerparts import write_config

    from agent.config import load_config
    from agent.ledger import Ledger

    path = write_config(tmp_path, WEB)
    ledger = Ledger.of(load_config(path).agent)
    ledger.open()
    ledger.close()
    ledger.dispose()
    return path


@pytest.mark.fault("`ack` on a config with no alert rules (no alerts:)", "says that no alert "
                   "rules are configured, not that none is firing; records nothing, exit 1",
                   area="Command line")
def test_ack_with_no_alert_rules_configured_says_so(tmp_path, capsys):
    path = ledger_config(tmp_path)
    assert main(["ack", "-c", str(path), "web"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "web: no alert rules are configured (alerts:), so there is nothing to acknowledge"]


@pytest.mark.fault("`maintenance SYSTEM --for 0s`, `--for 400d`", "refused in one line naming "
                   "the bounds (more than 0, at most 366d), exit 2, nothing recorded",
                   area="Command line")
@pytest.mark.parametrize("length", ["0s", "0", "367d", "1000000d"])
def test_maintenance_refuses_a_length_of_zero_or_over_366_days(tmp_path, capsys, length):
    from agent.ledger import Ledger

    path = ledger_config(tmp_path)
    assert main(["maintenance", "-c", str(path), "web", "--for", length]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"--for: {length} is not a length of maintenance: it must be more than 0 and at most "
        "366d"]
    assert Ledger(str(tmp_path / "ledger.db"), "shire-hall").actions_since(0) == []


def test_maintenance_while_one_runs_says_both_stand_until_the_later_end(tmp_path, capsys):
    path = ledger_config(tmp_path)
    assert main(["maintenance", "-c", str(path), "web", "--for", "2h"]) == 0
    assert capsys.readouterr().out.strip() == "web: planned maintenance for 2h from now"
    assert main(["maintenance", "-c", str(path), "web", "--for", "30m"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("web: planned maintenance for 30m from now; the maintenance already "
                          "running (until 20"), out
    assert out.endswith("(--end ends both)")
    [running, lasts] = re.findall(r"until (\S+?)\)? ", out + " ")[:2]
    assert running == lasts  # the 2h one ends later: the 30m one takes nothing from it


@pytest.mark.fault("`ack` of a system no alert is firing about, or one already acknowledged",
                   "says so (`no alert is firing about it`, `already acknowledged`), records "
                   "nothing and exits 1; an ack of a firing alert is recorded for the daemon",
                   area="Command line")
def test_ack_says_when_there_is_nothing_to_acknowledge(tmp_path, capsys):
    from support.ledgerparts import write_config

    from agent.config import load_config
    from agent.ledger import Ledger
    from agent.records import AlertState, Batch

    path = write_config(tmp_path, '- name: web\n  probe: {type: tcp, target: "127.0.0.1:9"}\n'
                                  '- name: mail\n  probe: {type: tcp, target: "127.0.0.1:9"}\n')
    path.write_text(path.read_text() + ALERTING)
    ledger = Ledger.of(load_config(path).agent)
    ledger.open()
    ledger.submit(Batch(alerts=[AlertState("down", "web", "web", 100.0, fired_at=160.0),
                                AlertState("down", "mail", "mail", 100.0)])).result(10)
    ledger.close()

    def ack(system: str, code: int = 1) -> str:
        assert main(["ack", "-c", str(path), system]) == code
        said = capsys.readouterr()
        return (said.out + said.err).strip()

    assert ack("mail").endswith("mail: no alert is firing about it; nothing to acknowledge")
    assert ack("web", 0) == "web: acknowledged; reminders for the current incident stop"
    ledger.open()
    assert [(a.kind, a.system) for a in ledger.actions_since(0)] == [("ack", "web")]
    ledger.submit(Batch(alerts=[AlertState("down", "web", "web", 100.0, fired_at=160.0,
                                           acked=True)])).result(10)
    ledger.close()
    assert ack("web").endswith("web: already acknowledged (down)")
    ledger.open()
    assert len(ledger.actions_since(0)) == 1
    ledger.close()

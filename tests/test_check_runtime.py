"""`outage-agent check` lists the systems and tests what `run` will need: the ledger opens for
writing or can be created, the listen address is free, the TLS files can be read, and with
--connect each target answers. What it finds are warnings: the exit code stays 0 for a valid
config, as the systemd unit's ExecReload needs while the agent holds the port and ledger."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support.certs import write_cert
from support.realparts import AgentProcess, HttpTarget, free_port, wait_for

from agent.cli import main
from agent.config import load_config
from agent.ledger.claim import claim_file
from agent.preflight import findings
from agent.preflight.files import tls_findings
from agent.preflight.holders import lock_holder, port_listener
from agent.preflight.ledger import ledger_finding

REPO = Path(__file__).resolve().parent.parent


def config_text(listen: str, ledger: str = "ledger.db", systems: str = "") -> str:
    return (f"agent: {{listen: '{listen}', ledger: '{ledger}'}}\n"
            "cost: {currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}\n"
            "defaults: {interval: 1s, retry_interval: 500ms, timeout: 400ms}\n"
            "systems:\n"
            "  - name: intranet\n"
            "    probe: {type: tcp, target: '127.0.0.1:1'}\n"
            "    users_share: 0.5\n"
            "    impact: 0.5\n" + systems)


def check(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
          *options: str) -> str:
    """Run check on `text` as config.yaml: it must exit 0; return what it printed."""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert main(["check", "-c", str(path), *options]) == 0
    return capsys.readouterr().out


def test_check_lists_each_system_with_probe_share_and_peak_cost(tmp_path, capsys):
    out = check(tmp_path, capsys, config_text(f"127.0.0.1:{free_port()}"))
    assert re.search(r"^SYSTEM +PROBE +USERS +PEAK COST/HOUR$", out, re.MULTILINE), out
    # 2,000 users x £12.99 x 0.5 share x 0.5 impact
    assert re.search(r"^intranet +tcp 127\.0\.0\.1:1 +50% +£6,496\.88$", out, re.MULTILINE), out


def test_check_lists_the_groups_and_each_systems_share_of_them(capsys):
    assert main(["check", "-c", str(REPO / "config" / "groups.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Group office-staff: peak 1,500 users" in out
    assert re.search(r"^email +http \S+ +office-staff 95%, care-workers 40%, contact-centre "
                     r"60% +£10,337\.32$", out, re.MULTILINE), out


def test_a_fresh_config_needs_a_ledger_created_and_a_free_port(tmp_path, capsys):
    listen = f"127.0.0.1:{free_port()}"
    out = check(tmp_path, capsys, config_text(listen, ledger="state/ledger.db"))
    assert f"ok: ledger {tmp_path / 'state' / 'ledger.db'}: will be created by run" in out
    assert f"ok: listen {listen}: free" in out
    assert "warning" not in out
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # check created nothing


def test_an_existing_ledger_is_opened_for_writing_and_left_as_it_was(tmp_path, capsys):
    ledger = tmp_path / "ledger.db"
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TABLE t (x)")
    before = ledger.read_bytes()
    out = check(tmp_path, capsys, config_text(f"127.0.0.1:{free_port()}"))
    assert f"ok: ledger {ledger}: opens for writing" in out
    assert ledger.read_bytes() == before


@pytest.mark.fault("agent.ledger (a path, or a sqlite:/// URL) in a folder that does not exist "
                   "yet", "check says run will create it, and run does: the folders, the "
                   "ledger and its lock, before it takes the ledger", area="Ledger")
@pytest.mark.parametrize("ledger", ["state/sub/ledger.db", "sqlite:///{d}/state/sub/ledger.db"],
                         ids=["path", "url"])
def test_a_ledger_in_a_missing_folder_is_created_by_run_as_check_says(tmp_path, capsys, ledger):
    made = tmp_path / "state" / "sub" / "ledger.db"
    out = check(tmp_path, capsys, config_text(f"127.0.0.1:{free_port()}",
                                              ledger=ledger.format(d=tmp_path)))
    assert f"ok: ledger {made}: will be created by run" in out
    agent = AgentProcess(tmp_path / "config.yaml", tmp_path).start()
    try:
        assert made.is_file() and made.with_name("ledger.db.lock").is_file()
    finally:
        agent.stop()


@pytest.mark.parametrize(("make", "ledger", "expected"), [
    pytest.param(lambda d: (d / "ledger.db").write_text("my notes\n"), "ledger.db",
                 "ledger.db: not a SQLite database", id="not-sqlite"),
    pytest.param(lambda d: (d / "file").write_text(""), "file/sub/ledger.db",
                 "cannot be created: {d}/file is not a folder", id="under-a-file"),
])
def test_a_ledger_run_could_not_use_is_a_warning_not_an_error(tmp_path, capsys, make, ledger,
                                                               expected):
    make(tmp_path)
    out = check(tmp_path, capsys, config_text(f"127.0.0.1:{free_port()}", ledger=ledger))
    warning = next(line for line in out.splitlines() if "warning: ledger" in line)
    assert expected.format(d=tmp_path) in warning


def test_a_listen_address_held_by_another_program_names_it(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as held:
        listen = f"127.0.0.1:{held.getsockname()[1]}"
        out = check(tmp_path, capsys, config_text(listen))
    assert re.search(rf"warning: listen {listen}: in use by another process \(pid "
                     rf"{os.getpid()}: .*python", out), out


@pytest.mark.fault("`check` (the unit's ExecReload) while the agent holds the ledger and the "
                   "port", "exit 0; both reported as in use by the running agent, with its pid, "
                   "read from /proc without taking either", area="Command line")
def test_while_the_agent_runs_check_exits_0_and_says_it_holds_ledger_and_port(tmp_path):
    path = tmp_path / "config.yaml"
    agent = AgentProcess(path, tmp_path)
    listen = f"127.0.0.1:{agent.port}"
    path.write_text(config_text(listen))
    agent.start()
    try:
        assert agent.proc is not None
        held = f"in use by a running agent (pid {agent.proc.pid})"
        wait_for("the agent's claim on the ledger",
                 lambda: held in str(ledger_finding(str(tmp_path / "ledger.db"))))
        result = subprocess.run(["outage-agent", "check", "-c", str(path)], capture_output=True,
                                text=True, timeout=60)
    finally:
        agent.stop()
    assert result.returncode == 0, result.stderr
    assert f"warning: ledger {tmp_path / 'ledger.db'}: {held}" in result.stdout
    assert f"warning: listen {listen}: {held}" in result.stdout


def test_check_connect_probes_each_target_once_and_warns_of_those_down(tmp_path, capsys):
    target = HttpTarget()
    target.up()
    try:
        systems = (f"  - name: web\n    probe: {{type: http, url: '{target.url}'}}\n")
        out = check(tmp_path, capsys, config_text(f"127.0.0.1:{free_port()}", systems=systems),
                    "--connect")
    finally:
        target.down()
    assert re.search(r"^web +up +\d+ ms", out, re.MULTILINE), out
    assert re.search(r"^intranet +down +\d+ ms +connection refused", out, re.MULTILINE), out
    assert "warning: intranet is down: connection refused" in out
    assert "warning: web" not in out


def test_without_connect_nothing_is_probed(tmp_path, capsys):
    out = check(tmp_path, capsys, config_text(f"127.0.0.1:{free_port()}"))
    assert "RESULT" not in out and "connection refused" not in out


def test_tls_files_are_read_and_one_gone_since_loading_is_a_warning(tmp_path):
    cert = write_cert(tmp_path, "agent")
    (tmp_path / "web.yml").write_text(
        f"tls_server_config: {{cert_file: {cert.cert}, key_file: {cert.key}}}\n")
    path = tmp_path / "config.yaml"
    path.write_text(config_text(f"127.0.0.1:{free_port()}").replace(
        "agent: {", "agent: {web_config: web.yml, ") +
        f"  - name: web\n    probe: {{type: http, url: 'https://127.0.0.1:1/', "
        f"ca_file: {cert.cert}}}\n")
    config = load_config(path, env={})
    assert [str(f) for f in tls_findings(config)] == ["ok: TLS files: 2 readable"]
    cert.key.unlink()
    assert [str(f) for f in tls_findings(config)] == [
        f"warning: TLS file {cert.key}: cannot read: No such file or directory"]
    assert any("TLS file" in str(f) and not f.ok for f in findings(config))


def test_check_help_names_its_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "exit codes: 0 valid; 2 invalid" in out and "--connect" in out


def pid_only_proc(tmp_path: Path) -> Path:
    """/proc as systemd's ProcSubset=pid shows it to the unit's ExecReload: the processes'
    own folders, and no /proc/locks or /proc/net."""
    view = tmp_path / "proc"
    view.mkdir()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() or entry.name == "self":
            (view / entry.name).symlink_to(entry)
    return view


@pytest.mark.parametrize("proc", ["real", "pid-only"])
def test_the_holder_of_a_ledger_claim_is_found_with_or_without_proc_locks(tmp_path, proc):
    view = Path("/proc") if proc == "real" else pid_only_proc(tmp_path)
    ledger = tmp_path / "ledger.db"
    lock = tmp_path / "ledger.db.lock"
    with claim_file(ledger, "", ""):
        assert lock_holder(lock, view) == os.getpid()
    assert lock_holder(lock, view) is None


@pytest.mark.parametrize("proc", ["real", "pid-only"])
def test_the_process_listening_on_a_port_is_found_with_or_without_proc_net(tmp_path, proc):
    view = Path("/proc") if proc == "real" else pid_only_proc(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        assert port_listener(port, view) == os.getpid()
    assert port_listener(port, view) is None

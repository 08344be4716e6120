"""`outage-agent init`: a starter config that passes `check` as written, probes nothing but
loopback, shows a commented example of every probe type, and is never written over an
existing file without --force."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.realparts import AgentProcess, free_port, wait_for

from agent.cli import main
from agent.config import load_config
from agent.probes import PROBE_TYPES


def init(tmp_path: Path, *options: str) -> tuple[int, Path]:
    path = tmp_path / "config.yaml"
    return main(["init", "-o", str(path), *options]), path


def uncommented(text: str) -> str:
    """The file with its commented-out example systems turned on, as the file says to."""
    return re.sub(r"^  # (  |- )", r"  \1", text, flags=re.MULTILINE)


def test_init_writes_a_config_that_check_passes_as_written(tmp_path, capsys):
    code, path = init(tmp_path)
    assert code == 0
    capsys.readouterr()
    assert main(["check", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Peak cost of a full outage: 100 \N{MULTIPLICATION SIGN} £12.9938" in out
    assert re.search(r"^this-agent +http http://127\.0\.0\.1:9321/healthz +0% +£0\.00$", out,
                     re.MULTILINE), out


def test_init_takes_the_cost_figures_currency_and_time_zone(tmp_path):
    code, path = init(tmp_path, "--users", "2000", "--annual-cost", "25000", "--currency",
                      "EUR", "--timezone", "Europe/London")
    assert code == 0
    cost = load_config(path, env={}).cost
    assert (cost.users.default, cost.annual_cost_per_user) == (2000, 25000)
    assert (cost.currency, cost.timezone) == ("EUR", "Europe/London")


def test_the_one_system_left_on_probes_only_loopback(tmp_path):
    _, path = init(tmp_path)
    [system] = load_config(path, env={}).systems
    host = urlsplit(system.check.spec.url).hostname
    assert host is not None and ipaddress.ip_address(host).is_loopback


def test_the_commented_examples_are_valid_and_cover_every_probe_type(tmp_path):
    _, path = init(tmp_path)
    path.write_text(uncommented(path.read_text()))
    systems = load_config(path, env={}).systems
    assert sorted(system.check.spec.type for system in systems) == sorted(PROBE_TYPES)
    assert len(systems) == len(PROBE_TYPES)  # one of each; only this-agent was on before


def test_init_prints_the_next_three_steps(tmp_path, capsys):
    init(tmp_path)
    out = capsys.readouterr().out
    assert f"outage-agent check -c {tmp_path / 'config.yaml'}" in out
    assert f"outage-agent run -c {tmp_path / 'config.yaml'}" in out
    assert "scrape_configs:" in out and 'targets: ["127.0.0.1:9321"]' in out


@pytest.mark.fault("init -o onto an existing file", "the file is kept, exit 2, unless "
                   "--force (which replaces it whole, no partial file)", area="Command line")
def test_init_refuses_to_overwrite_an_existing_file_without_force(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("mine\n")
    assert init(tmp_path)[0] == 2
    assert "already exists; give --force to overwrite it" in capsys.readouterr().err
    assert path.read_text() == "mine\n"
    assert init(tmp_path, "--force")[0] == 0
    assert load_config(path, env={}).systems[0].name == "this-agent"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no partial file left


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--timezone", "Europe/Londn", "did you mean 'Europe/London'?"),
    ("--currency", "pounds", "ISO 4217"),
    ("--users", "-5", "--users: "),
    ("--annual-cost", "nan", "--annual-cost: "),
])
def test_an_invalid_option_is_named_and_nothing_is_written(tmp_path, capsys, option, value,
                                                           message):
    code, path = init(tmp_path, option, value)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{option}: ") and message in err, err
    assert not path.exists()


def test_init_into_a_missing_folder_fails_in_one_line_with_exit_1(tmp_path, capsys):
    assert main(["init", "-o", str(tmp_path / "no" / "config.yaml")]) == 1
    assert capsys.readouterr().err.strip().endswith("cannot write: No such file or directory")


def test_init_help_names_its_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    assert "exit codes: 0 written" in capsys.readouterr().out


def test_run_on_the_init_config_shows_its_system_up(tmp_path):
    _, path = init(tmp_path)
    agent = AgentProcess(path, tmp_path)
    path.write_text(path.read_text().replace("127.0.0.1:9321", f"127.0.0.1:{agent.port}"))
    agent.start()
    try:
        wait_for("this-agent up", lambda: agent.state("this-agent") == "up", timeout=30)
    finally:
        agent.stop()


@pytest.mark.fault("a currency in lower case (`gbp`), or an ISO X-code that is not money "
                   "(XXX, XTS, XAU, XDR), to init, dashboards, estimate or cost.currency",
                   "one rule everywhere: refused in one line (lower case: the code to "
                   "write), exit 2, nothing written", area="Command line")
@pytest.mark.parametrize(("code", "why"), [
    ("gbp", "'gbp': write the code in capitals, GBP"),
    ("XXX", "'XXX' is ISO 4217's code for no currency at all, not a currency"),
    ("XTS", "'XTS' is ISO 4217's code for testing, not a currency"),
    ("XAU", "'XAU' is ISO 4217's code for a precious metal, not a currency"),
    ("XDR", "'XDR' is ISO 4217's code for a unit of account, not a currency"),
])
def test_one_currency_rule_for_init_dashboards_estimate_and_the_config(tmp_path, capsys, code,
                                                                       why):
    code_init, path = init(tmp_path, "--currency", code)
    assert code_init == 2 and not path.exists()
    assert capsys.readouterr().err.splitlines()[0] == f"--currency: {why}"
    boards = tmp_path / "boards"
    assert main(["dashboards", "--currency", code, "-o", str(boards)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"--currency: {why}"]
    assert not boards.exists()
    assert main(["estimate", "--users", "10", "--annual-cost", "25000", "--outage", "1h",
                 "--currency", code]) == 2
    assert capsys.readouterr().err.splitlines() == [f"--currency: {why}"]
    init(tmp_path)
    path.write_text(path.read_text().replace('currency: "GBP"', f'currency: "{code}"'))
    assert main(["check", "-c", str(path)]) == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"cost.currency: {why}")


def test_the_currencies_of_real_money_with_x_codes_are_taken(tmp_path):
    for code in ("XOF", "XAF", "XPF", "XCD"):
        assert init(tmp_path, "--currency", code, "--force")[0] == 0, code


@pytest.mark.fault("init --users 2.5 (or 0)", "refused: a whole number of people, at least 1; "
                   "exit 2, nothing written", area="Command line")
@pytest.mark.parametrize("users", ["2.5", "0", "nan"])
def test_init_users_must_be_a_whole_number_of_people(tmp_path, capsys, users):
    code, path = init(tmp_path, "--users", users)
    assert code == 2 and not path.exists()
    assert capsys.readouterr().err.splitlines()[0] == (
        f"--users: {users} is not a number of people: a whole number, at least 1")


@pytest.mark.fault("check --connect on init's config before `run`", "this-agent is noted as "
                   "the agent itself, not running yet, rather than warned of as down; a "
                   "system down that is not the agent is still a warning", area="Command line")
def test_check_connect_on_the_init_config_says_this_agent_is_not_running_yet(tmp_path,
                                                                            capsys):
    _, path = init(tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    path.write_text(path.read_text().replace("127.0.0.1:9321", listen)
                    + '  - name: other\n    probe: {type: tcp, target: "127.0.0.1:1"}\n')
    capsys.readouterr()
    assert main(["check", "-c", str(path), "--connect"]) == 0
    out = capsys.readouterr().out
    assert f"note: this-agent is this agent itself ({listen}), which is not running yet: it " \
           "answers once `outage-agent run` starts" in out
    assert "warning: this-agent" not in out
    assert "warning: other is down: connection refused" in out

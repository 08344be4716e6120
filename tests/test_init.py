"""`outage-agent init`: a starter config that passes `check` as written, probes nothing but
loopback, shows a commented example of every probe type, and is never written over an
existing file without --force."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from realparts import AgentProcess, wait_for

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

"""`outage-agent run` as a subprocess against real loopback targets, killed mid-outage; the
first tests on both ledger stores (a SQLite file and a PostgreSQL database)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.realparts import (
    AgentProcess,
    HttpTarget,
    configured_agent,
    fast_config,
    get,
    get_json,
    http_targets,
    require_tool,
    wait_for,
)

CONFIG = fast_config("""\
  - name: intranet
    probe: {{type: http, url: "{intranet}"}}
    users_share: 0.5
  - name: finance
    depends_on: [intranet]
    probe: {{type: tcp, target: "127.0.0.1:{finance_port}"}}
    users_share: 0.2
""", ledger="{ledger}")


def run_estate(tmp_path: Path, ledger: str) -> Iterator[tuple[AgentProcess, HttpTarget,
                                                               HttpTarget]]:
    intranet, finance = http_targets("intranet", "finance").values()
    agent = configured_agent(tmp_path, CONFIG, intranet=intranet.url, finance_port=finance.port,
                             ledger=ledger)
    yield agent, intranet, finance
    agent.stop()
    intranet.down()
    finance.down()


@pytest.fixture
def estate(tmp_path):
    yield from run_estate(tmp_path, "ledger.db")


@pytest.fixture
def any_estate(tmp_path, ledger_location):
    """The estate with its ledger in each store in turn."""
    yield from run_estate(tmp_path, ledger_location)


def series(name: str, system: str) -> str:
    return f'{name}{{system="{system}"}}'


def test_outage_is_costed_live_survives_sigkill_and_closes_on_recovery(any_estate):
    agent, intranet, _ = any_estate
    agent.start_all_up()

    intranet.down()
    wait_for("intranet confirmed down",
             lambda: agent.metrics()[series("outage_system_up", "intranet")] == 0)
    first = agent.metrics()[series("outage_cost_total", "intranet")]
    rate = agent.metrics()[series("outage_cost_per_hour", "intranet")]
    assert rate == pytest.approx(2000 * 0.5 * 25000 / 1924, rel=1e-6)
    wait_for("cost to rise", lambda: agent.metrics()[series("outage_cost_total", "intranet")]
             > first)
    [open_window] = get_json(agent.base + "/api/v1/outages?system=intranet")
    assert open_window["end"] is None and open_window["state"] == "down"

    before_kill = agent.metrics()[series("outage_cost_total", "intranet")]
    assert agent.kill(signal.SIGKILL) == -signal.SIGKILL
    agent.start()
    after = agent.metrics()
    assert after[series("outage_cost_total", "intranet")] >= before_kill  # not a reset
    assert after[series("outage_incidents_total", "intranet")] == 1
    [resumed] = get_json(agent.base + "/api/v1/outages?system=intranet")
    assert resumed["start"] == open_window["start"]
    wait_for("intranet seen down again after the restart",
             lambda: agent.state("intranet") == "down")

    intranet.up()
    wait_for("intranet back up", lambda: agent.state("intranet") == "up")
    [closed] = get_json(agent.base + "/api/v1/outages?system=intranet")
    assert closed["end"] is not None
    assert closed["cost"] == pytest.approx(
        2000 * 0.5 * 25000 / 1924 * closed["downtime_seconds"] / 3600, abs=0.01)  # pence, ms
    final = agent.metrics()
    assert final[series("outage_cost_total", "intranet")] == pytest.approx(closed["cost"],
                                                                           abs=0.01)
    assert final[series("outage_cost_per_hour", "intranet")] == 0


def test_dependant_down_behind_its_dependency_costs_nothing_of_its_own(any_estate):
    agent, intranet, finance = any_estate
    agent.start_all_up()
    intranet.down()
    finance.down()
    wait_for("finance down behind intranet", lambda: {
        name: (s["state"], s["cause"]) for name, s in agent.systems().items()
    }["finance"] == ("down", "intranet"))
    metrics = agent.metrics()
    assert metrics[series("outage_cost_total", "finance")] == 0
    assert metrics[series("outage_cost_total", "intranet")] > 0
    assert metrics[series("outage_downtime_seconds_total", "finance")] > 0


def test_metrics_pass_promtool_lint(estate):
    promtool = require_tool("promtool", "prometheus")
    agent, intranet, _ = estate
    agent.start()
    intranet.down()
    wait_for("an outage", lambda: agent.metrics()[series("outage_system_up", "intranet")] == 0)
    text = agent.metrics_text()
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "_created" not in text


@pytest.mark.fault("bad from/to/system or unknown parameters to "
                   "/api/v1/outages; an unknown /api path",
                   "400 with a JSON error; 404 with a JSON error")
def test_api_rejects_bad_parameters_with_json_errors(estate):
    agent, _, _ = estate
    agent.start()
    for query in ("from=yesterday", "system=nope", "from=2026-01-02&to=2026-01-01", "bogus=1"):
        status, body = get(agent.base + "/api/v1/outages?" + query)
        assert status == 400, query
        assert "error" in get_json_text(body)
    status, body = get(agent.base + "/api/v1/nothing-here")
    assert status == 404 and "error" in get_json_text(body)


def get_json_text(body: str) -> dict:
    return json.loads(body)


@pytest.mark.fault("outage-agent run with an invalid config",
                   "exit 2, the message names file:line and key; no traceback",
                   area="Configuration")
def test_invalid_config_exits_2_and_names_the_place(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        cost:
          currency: GBP
        systems:
          - name: a
            probe: {type: http, url: "not a url"}
        """))
    result = subprocess.run(["outage-agent", "run", "-c", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "bad.yaml:5: systems[0].probe.url:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.fault("SIGHUP with an invalid config",
                   "refused and logged; the running config carries on; "
                   "outage_config_last_reload_successful 0", area="Configuration")
def test_sighup_applies_a_valid_config_and_keeps_running_on_an_invalid_one(estate):
    agent, intranet, _ = estate
    agent.start()
    intranet.down()
    wait_for("intranet down", lambda: agent.state("intranet") == "down")
    [before] = get_json(agent.base + "/api/v1/outages?system=intranet")

    extra = HttpTarget()
    extra.up()
    text = agent.config.read_text()
    agent.config.write_text(
        text + f'  - name: payroll\n    probe: {{type: http, url: "{extra.url}"}}\n')
    agent.signal(signal.SIGHUP)
    wait_for("payroll to appear", lambda: agent.state("payroll") == "up")
    [after] = get_json(agent.base + "/api/v1/outages?system=intranet")
    assert after["start"] == before["start"] and after["end"] is None  # state kept
    assert agent.metrics()["outage_config_last_reload_successful"] == 1

    agent.config.write_text(text.replace("users_share: 0.5", "users_share: 5"))
    agent.signal(signal.SIGHUP)
    wait_for("the reload to be refused",
             lambda: agent.metrics()["outage_config_last_reload_successful"] == 0)
    assert agent.state("payroll") == "up"  # the running config carries on
    assert "users_share" in agent.log.read_text()
    extra.down()


def test_backup_while_the_daemon_writes(estate, tmp_path):
    agent, intranet, _ = estate
    agent.start()
    intranet.down()
    wait_for("intranet down", lambda: agent.state("intranet") == "down")
    copy = tmp_path / "backup.db"
    done = subprocess.run(["outage-agent", "backup", "-c", str(agent.config), str(copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT system, end_ts FROM windows").fetchall()
    assert ("intranet", None) in rows
    again = subprocess.run(["outage-agent", "backup", "-c", str(agent.config), str(copy)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_a_voided_window_shows_in_the_api_and_leaves_availability_alone(estate):
    agent, intranet, _ = estate
    agent.start_all_up()
    intranet.down()
    wait_for("intranet down", lambda: agent.state("intranet") == "down")
    intranet.up()
    wait_for("intranet up", lambda: agent.state("intranet") == "up")
    [window] = get_json(agent.base + "/api/v1/outages?system=intranet")
    assert window["voided_reason"] is None
    before = get_json(agent.base + "/api/v1/availability?days=1")
    done = subprocess.run(["outage-agent", "void", "-c", str(agent.config), str(window["id"]),
                           "--reason", "probe pointed at the wrong port"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [voided] = get_json(agent.base + "/api/v1/outages?system=intranet")
    assert voided["voided_reason"] == "probe pointed at the wrong port"
    # the record is kept as it was; the cost, as a report counts it, is nothing
    assert (voided["recorded_cost"], voided["cost"]) == (window["recorded_cost"], 0.0)
    assert window["cost"] == window["recorded_cost"] > 0  # live: the same arithmetic
    after = get_json(agent.base + "/api/v1/availability?days=1")
    down = {s["name"]: s["down_seconds"] for s in before["systems"]}
    assert down["intranet"] > 0
    assert {s["name"]: s["down_seconds"] for s in after["systems"]}["intranet"] == 0


def test_live_counters_the_report_the_api_and_the_export_agree_to_the_penny(estate, tmp_path):
    """Issue 13, case 7: intranet goes down, then finance behind it (its users count too),
    both recover; the report, /api/v1/outages and export add up to what /metrics counted."""
    agent, intranet, finance = estate
    agent.start_all_up()
    intranet.down()
    wait_for("intranet down", lambda: agent.state("intranet") == "down")
    finance.down()
    wait_for("finance down behind intranet",
             lambda: agent.systems()["finance"]["cause"] == "intranet")
    # both down: 1 - (1 - 0.5)(1 - 0.2) = 0.6 of 2,000 people's time, charged to intranet
    rate = agent.metrics()[series("outage_cost_per_hour", "intranet")]
    assert rate == pytest.approx(2000 * 0.6 * 25000 / 1924, rel=1e-6)
    assert agent.systems()["intranet"]["affected_users"] == pytest.approx(1200, abs=0.1)
    finance.up()
    intranet.up()
    wait_for("both up", lambda: {s["state"] for s in agent.systems().values()} == {"up"})
    wait_for("the books caught up", lambda: all(
        w["end"] is not None for w in get_json(agent.base + "/api/v1/outages")))
    counted = sum(v for k, v in agent.metrics().items() if k.startswith("outage_cost_total{"))
    config = str(agent.config)
    day = "2000-01-01"
    done = subprocess.run(["outage-agent", "report", "-c", config, "--from", day, "--to",
                           "2100-01-01", "--format", "json"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total_cost"] == pytest.approx(counted, abs=0.011)
    listed = get_json(agent.base + "/api/v1/outages")
    assert round(sum(w["cost"] for w in listed), 2) == report["total_cost"]
    exported = subprocess.run(["outage-agent", "export", "-c", config, "--format", "json"],
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    windows = json.loads(exported.stdout)
    assert round(sum(w["cost"] for w in windows), 2) == report["total_cost"]
    assert [w["cost"] for w in windows] == pytest.approx([w["recorded_cost"] for w in windows],
                                                         abs=0.011)

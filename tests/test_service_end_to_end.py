"""A business service end to end: `outage-agent run` against two real loopback HTTP servers
behind a service `exchange` (down when both are, degraded when one is) and a system that
depends on the service. One member down is degraded; both down is down; the whole episode
(degraded, down, degraded, up) is one incident; its cost, worked out by hand from the windows
the ledger recorded, is what /metrics counted and what the report says."""

from __future__ import annotations

import itertools
import json
import signal
import sqlite3
import subprocess
import time

import pytest
from support.realparts import configured_agent, fast_config, http_targets, wait_for

HOURLY = 25000 / 1924
CONFIG = fast_config("""\
  - name: exch-1
    probe: {{type: http, url: "{exch1}"}}
  - name: exch-2
    probe: {{type: http, url: "{exch2}"}}
  - name: calendar
    depends_on: [exchange]
    probe: {{type: http, url: "{calendar}"}}
    users_share: 0.5
services:
  - name: exchange
    members: [exch-1, exch-2]
    down_when: all
    degraded_when: any
    users_share: 1.0
    impact: 1.0
    degraded_impact: 0.25
""").replace("agent:\n", "agent:\n  evaluation_interval: 500ms\n")


def windows(ledger: str, system: str) -> list[tuple[str, float, float | None, str | None]]:
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT state, start_ts, end_ts, cause FROM windows WHERE system = ? "
                          "ORDER BY start_ts", (system,)).fetchall()


def test_a_two_member_service_degraded_down_degraded_up_is_one_incident(tmp_path) -> None:
    targets = http_targets("exch-1", "exch-2", "calendar")
    agent = configured_agent(tmp_path, CONFIG, exch1=targets["exch-1"].url,
                             exch2=targets["exch-2"].url, calendar=targets["calendar"].url)
    try:
        agent.start_all_up()
        exchange = agent.systems()["exchange"]
        assert exchange["service"] == {"members": ["exch-1", "exch-2"], "down_when": "all",
                                       "degraded_when": "any"}
        assert exchange["last_probe"]["status"] == "up"
        targets["exch-1"].down()
        wait_for("exchange degraded", lambda: agent.state("exchange") == "degraded")
        targets["exch-2"].down()
        wait_for("exchange down", lambda: agent.state("exchange") == "down")
        targets["calendar"].down()
        wait_for("calendar down behind exchange", lambda: (
            agent.systems()["calendar"]["cause"] == "exchange"))
        metrics = agent.metrics()
        assert metrics['outage_service_members{state="down",system="exchange"}'] == 2
        assert metrics['outage_service_members{state="up",system="exchange"}'] == 0
        assert agent.systems()["exchange"]["last_probe"]["reason"] == "exch-1, exch-2 down"
        # a restart in the middle of the outage goes on with the same windows, once the
        # members are seen still failing
        assert agent.kill(signal.SIGTERM) == 0
        restarted = time.time()
        agent.start()
        wait_for("both members seen failing again", lambda: all(
            agent.metrics().get(f'outage_probe_last_timestamp_seconds{{system="{name}"}}', 0)
            > restarted for name in ("exch-1", "exch-2", "calendar")))
        assert agent.state("exchange") == "down"
        targets["calendar"].up()
        targets["exch-2"].up()
        wait_for("exchange degraded again", lambda: agent.state("exchange") == "degraded")
        targets["exch-1"].up()
        wait_for("everything up", lambda: {s["state"] for s in agent.systems().values()}
                 == {"up"})
        wait_for("the books caught up", lambda: all(
            end is not None for _, _, end, _ in windows(str(tmp_path / "ledger.db"),
                                                        "exchange")))
        metrics = agent.metrics()
    finally:
        agent.stop()
        for target in targets.values():
            target.down()
    recorded = windows(str(tmp_path / "ledger.db"), "exchange")
    assert [state for state, *_ in recorded] == ["degraded", "down", "degraded"]
    assert all(a[2] == b[1] for a, b in itertools.pairwise(recorded))  # no gaps
    assert metrics['outage_incidents_total{system="exchange"}'] == 1
    # by hand: 2,000 users x £12.99/h x (degraded seconds x 0.25 + down seconds x 1)
    seconds = {"degraded": 0.0, "down": 0.0}
    for state, start, end, _ in recorded:
        seconds[state] += end - start
    by_hand = 2000 * HOURLY * (seconds["degraded"] * 0.25 + seconds["down"]) / 3600
    assert metrics['outage_cost_total{system="exchange"}'] == pytest.approx(by_hand, abs=0.01)
    assert metrics['outage_downtime_seconds_total{system="exchange"}'] == pytest.approx(
        seconds["down"], abs=0.001)
    report = subprocess.run(["outage-agent", "report", "-c", str(agent.config), "--from",
                             "2000-01-01", "--to", "2100-01-01", "--format", "json",
                             "--system", "exchange"],
                            capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    exchange = json.loads(report.stdout)["systems"][0]
    assert exchange["cost"] == pytest.approx(by_hand, abs=0.011)
    assert exchange["incidents"] == 1
    # the members carry no users of their own: their windows are the evidence, at no cost;
    # the calendar was down only behind the service: its users' time is the service's
    assert metrics['outage_cost_total{system="exch-1"}'] == 0
    assert metrics['outage_cost_total{system="calendar"}'] == 0
    assert [s for s, *_ in windows(str(tmp_path / "ledger.db"), "exch-1")] == ["down"]

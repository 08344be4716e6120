"""A month with a business service and a heartbeat, reported by `outage-agent report` from a
real SQLite ledger and checked against hand figures.

November 2026 (Europe/London is GMT all month), 2,000 people at £25,000 / 1,924 h:
- exchange (members exch-1, exch-2; down when both are; users_share 0.8, degraded_impact 0.1):
  3 Nov exch-1 down 10:00-12:00 and exch-2 down 11:00-11:30: degraded 1 h 30 min, down
  30 min, one incident; 17 Nov both down 14:00-15:00: down 1 h, a second incident.
- payroll-export, a heartbeat with no users and £120 an hour of direct cost: its 03:30 run
  missed on 10 Nov until the job reported in at 06:30: 3 h down.
The month is driven through the real engine with time injected, its windows committed through
the ledger's writer as a running agent commits them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.helpers import DOWN, HOURLY, UP
from support.ledgerparts import at

from agent.config import load_config
from agent.engine import Engine
from agent.ledger import Ledger
from agent.model import ProbeResult, Status
from agent.records import Batch, PingRecord

LONDON = "Europe/London"
CONFIG = """\
agent: {ledger: ledger.db}
cost: {currency: GBP, timezone: Europe/London, annual_cost_per_user: 25000,
       concurrent_users: 2000}
systems:
  - name: exch-1
    probe: {type: tcp, target: "127.0.0.1:9"}
  - name: exch-2
    probe: {type: tcp, target: "127.0.0.1:9"}
  - name: payroll-export
    probe: {type: heartbeat, every: 1d, grace: 1h, token: "0123456789abcdef0123456789abcdef"}
    users_share: 0
    direct_cost_per_hour: 120
services:
  - name: exchange
    members: [exch-1, exch-2]
    users_share: 0.8
    degraded_impact: 0.1
"""
MISSED = ProbeResult(Status.DOWN, 0.0, "no success by 04:30 (due 03:30, grace 1h)")


def outage(engine: Engine, name: str, start: float, end: float) -> list:
    """`name` down from `start` (three failures, 5 s apart, confirm it) to `end`."""
    batches = [engine.observe(name, DOWN, start + 5 * k) for k in range(3)]
    return batches + [engine.observe(name, UP, end + 5 * k) for k in range(2)]


def test_a_month_of_a_service_and_a_heartbeat_is_reported_to_the_penny(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    config = load_config(path, env={})
    start = at("2026-11-01 00:00", LONDON)
    engine = Engine(config, start)
    batches = [engine.observe(name, UP, start + 1) for name in ("exch-1", "exch-2")]
    batches.append(engine.observe("payroll-export", UP, start + 2))
    events = [  # (time, system, result), in time order
        (at("2026-11-03 10:00", LONDON), "exch-1", DOWN),
        (at("2026-11-03 11:00", LONDON), "exch-2", DOWN),
        (at("2026-11-03 11:30", LONDON), "exch-2", UP),
        (at("2026-11-03 12:00", LONDON), "exch-1", UP),
        (at("2026-11-10 03:30", LONDON), "payroll-export", MISSED),
        (at("2026-11-10 06:30", LONDON), "payroll-export", UP),
        (at("2026-11-17 14:00", LONDON), "exch-1", DOWN),
        (at("2026-11-17 14:00", LONDON) + 1, "exch-2", DOWN),
        (at("2026-11-17 15:00", LONDON), "exch-1", UP),
        (at("2026-11-17 15:00", LONDON) + 1, "exch-2", UP),
    ]
    thresholds = {"exch-1": (3, 2), "exch-2": (3, 2), "payroll-export": (2, 1)}
    probes = []  # each streak, 2 s apart and dated back to its first result, all in time order
    for when, name, result in events:
        failures, successes = thresholds[name]
        count = failures if result.status is Status.DOWN else successes
        probes += [(when + 2 * k, name, result) for k in range(count)]
    for when, name, result in sorted(probes, key=lambda probe: probe[0]):
        batches.append(engine.observe(name, result, when))
    end = at("2026-12-01 00:00", LONDON)
    batches.append(engine.account(end))
    batches.append(Batch(pings=[  # the job's output, kept with its ping (docs/heartbeats.md)
        PingRecord("payroll-export", at("2026-11-10 06:30", LONDON), "success",
                   "exported 1,204 rows after a retry")]))
    ledger = Ledger(str(tmp_path / "ledger.db"))
    ledger.open()
    try:
        for batch in batches:
            ledger.submit(batch).result(timeout=10)
    finally:
        ledger.close()
        ledger.dispose()
    done = subprocess.run(["outage-agent", "report", "-c", str(path), "--from", "2026-11-01",
                           "--to", "2026-12-01", "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = {s["system"]: s for s in json.loads(done.stdout)["systems"]}
    people = 2000 * 0.8 * HOURLY  # an hour of exchange down
    # 3 Nov: degraded 10:00-11:00 and 11:30-12:00 at 0.1, down 11:00-11:30
    degraded_3, down_3 = 1.5, 0.5
    down_17 = (3600 - 1) / 3600  # 14:00:01 (the second member) to 15:00:00 (the first back)
    # 17 Nov: degraded for the second between the two members' first failures, and again
    # between their recoveries
    degraded_17 = 2 / 3600
    assert report["exchange"]["cost"] == pytest.approx(
        people * ((degraded_3 + degraded_17) * 0.1 + down_3 + down_17), abs=0.005)
    assert report["exchange"]["incidents"] == 2
    assert report["exchange"]["downtime_seconds"] == pytest.approx((down_3 + down_17) * 3600)
    assert report["payroll-export"]["cost"] == pytest.approx(3 * 120, abs=0.005)
    [missed] = report["payroll-export"]["windows"]
    assert [(e["state"], e["text"]) for e in missed["evidence"]] == [
        ("success", "exported 1,204 rows after a retry")]
    assert report["exch-1"]["cost"] == report["exch-2"]["cost"] == 0  # evidence, no users
    # under each service window, its members' windows that overlap it, as evidence
    [first_down] = [w for w in report["exchange"]["windows"] if w["state"] == "down"][:1]
    assert [(e["system"], e["state"], e["start"][11:19]) for e in first_down["evidence"]] == [
        ("exch-1", "down", "10:00:00"), ("exch-2", "down", "11:00:00")]
    markdown = subprocess.run(["outage-agent", "report", "-c", str(path), "--from",
                               "2026-11-01", "--to", "2026-12-01", "--system", "exchange"],
                              capture_output=True, text=True, timeout=60)
    assert "evidence: exch-1 down 2026-11-03 10:00" in markdown.stdout, markdown.stdout
    total = json.loads(done.stdout)["total_cost"]
    assert total == pytest.approx(report["exchange"]["cost"] + 360, abs=0.011)

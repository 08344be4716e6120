"""Wall-clock steps under a running agent (libfaketime moves its clock, not ours): probing
keeps its rhythm, and no outage becomes negative, doubled or hugely inflated."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from support.realparts import (
    AgentProcess,
    configured_agent,
    get_json,
    http_targets,
    one_target_config,
    wait_for,
)

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
CONFIG = one_target_config()


@pytest.fixture
def faked(tmp_path):
    if not LIBFAKETIME.exists():
        if os.environ.get("CI"):
            pytest.fail("libfaketime is missing: .ci/run installs Debian's faketime package")
        pytest.skip("libfaketime not installed (apt-get install faketime)")
    offset = tmp_path / "offset"
    offset.write_text("+0\n")
    [target] = http_targets("intranet").values()
    agent = configured_agent(tmp_path, CONFIG, target=target.url, extra_env={
        "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    yield agent, target, offset
    agent.stop()
    target.down()


def downtime(agent: AgentProcess) -> float:
    return agent.metrics()['outage_downtime_seconds_total{system="intranet"}']


def probes(agent: AgentProcess) -> float:
    return sum(v for k, v in agent.metrics().items() if k.startswith("outage_probes_total"))


def rise_over(agent: AgentProcess, seconds: float) -> tuple[float, float, float]:
    """(downtime added, probes run, real seconds from just before the first reading to just
    after the last) over about `seconds`: on a busy machine a scrape can take a while."""
    began = time.monotonic()
    d0, p0 = downtime(agent), probes(agent)
    time.sleep(seconds)
    added, ran = downtime(agent) - d0, probes(agent) - p0
    return added, ran, time.monotonic() - began


@pytest.mark.fault('The wall clock steps back 10 minutes, then forward an hour, during an outage',
                   'Probing keeps its rhythm; downtime grows with real time (no negative,'
                   ' frozen or inflated window); the clock realigns when idle')
def test_wall_clock_steps_neither_stall_probing_nor_distort_outages(faked):
    agent, target, offset = faked
    agent.start()
    target.down()
    wait_for("down", lambda: agent.state("intranet") == "down")

    offset.write_text("-600\n")  # the wall clock steps back ten minutes
    added, ran, took = rise_over(agent, 4.0)
    assert 3.0 <= added <= took + 1.5, (added, took)  # neither frozen nor negative
    assert ran >= 2, ran  # probing did not wait ten minutes for the clock to catch up

    offset.write_text("+3600\n")  # and then an hour forward
    added, ran, took = rise_over(agent, 4.0)
    assert 3.0 <= added <= took + 1.5, (added, took)  # not an hour of made-up downtime
    assert ran >= 2, ran

    target.up()
    wait_for("up", lambda: agent.state("intranet") == "up")
    [window] = get_json(agent.base + "/api/v1/outages")
    assert 5 < window["duration_seconds"] < 60, window
    # nothing is being timed now: the agent realigns with the (stepped) wall clock
    expected = time.time() + 3600

    def realigned() -> bool:
        at = agent.systems()["intranet"]["last_probe"]["at"]
        seen = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        return abs(seen - expected) < 10

    wait_for("the agent's clock to realign with the wall clock", realigned, timeout=15)
    assert "wall clock stepped" in agent.log.read_text()


@pytest.mark.fault("Restart during an outage with the wall clock two hours behind the ledger "
                   "(a boot before NTP, a VM snapshot restored)",
                   "not resumed across the backward gap: the window closes where it was last "
                   "seen, nothing is dated before the ledger's latest record, no window ends "
                   "before it starts and no made-up money is counted")
def test_a_restart_with_the_wall_clock_behind_never_invents_money(faked, tmp_path):
    agent, target, offset = faked
    agent.start()
    target.down()
    wait_for("down", lambda: agent.state("intranet") == "down")
    time.sleep(3)
    agent.stop()
    offset.write_text("-7200\n")  # restarted two hours in the past
    agent.start()
    wait_for("seen down again", lambda: agent.state("intranet") == "down")
    time.sleep(3)
    cost = agent.metrics()['outage_cost_total{system="intranet"}']
    per_second = 2000 * 25000 / 1924 / 3600
    assert cost < per_second * 60, cost  # seconds of outage, not two hours (£51,961)
    windows = get_json(agent.base + "/api/v1/outages?from=0&to=4102444800")  # its now: 2 h ago
    # the window open at the stop closed where it was last seen; the outage seen after the
    # restart is a new window, dated no earlier than that (not two hours before it)
    first, second = sorted(windows, key=lambda w: w["start"])
    assert first["end"] is not None and second["end"] is None
    assert second["start"] >= first["end"]
    for window in windows:
        start = dt.datetime.fromisoformat(window["start"].replace("Z", "+00:00")).timestamp()
        if window["end"] is not None:
            end = dt.datetime.fromisoformat(window["end"].replace("Z", "+00:00")).timestamp()
            assert end >= start, window
            assert window["downtime_seconds"] <= end - start + 0.001, window
        assert window["duration_seconds"] >= 0, window
    assert "behind the ledger's latest record" in agent.log.read_text()


@pytest.mark.fault("Restart during an outage with the wall clock two hours behind, then NTP "
                   "corrects it while the system is still down",
                   "the outage seen after the restart is timed and costed in real time "
                   "throughout (never frozen at the ledger's latest record), and the clock "
                   "realigns once the system is up")
def test_a_wall_clock_behind_the_ledger_still_times_outages_in_real_time(faked):
    agent, target, offset = faked
    agent.start()
    target.down()
    wait_for("down", lambda: agent.state("intranet") == "down")
    time.sleep(2)
    agent.stop()
    time.sleep(3)  # away for a while: the corrected wall clock ends up ahead of the agent's
    offset.write_text("-7200\n")  # restarted two hours in the past
    agent.start()
    wait_for("seen down again", lambda: agent.state("intranet") == "down")
    added, _, took = rise_over(agent, 3.0)
    assert 2.0 <= added <= took + 1.5, (added, took)  # timed, not held at the latest record
    offset.write_text("+0\n")  # NTP puts the wall clock right while the system is down
    added, _, took = rise_over(agent, 3.0)
    assert 2.0 <= added <= took + 1.5, (added, took)  # neither frozen nor two hours inflated
    assert agent.metrics()["outage_clock_offset_seconds"] < -1  # not realigned mid-outage
    target.up()
    wait_for("up", lambda: agent.state("intranet") == "up")
    wait_for("the clock to realign", lambda: abs(
        agent.metrics()["outage_clock_offset_seconds"]) < 1.5, timeout=15)
    windows = get_json(agent.base + "/api/v1/outages?from=0&to=4102444800")
    second = max(windows, key=lambda w: w["start"])
    assert second["end"] is not None and second["duration_seconds"] >= 5, second

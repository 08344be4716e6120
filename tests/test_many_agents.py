"""Three real agents (three sites' vantage points) and two shards of one site, all writing to
one real PostgreSQL ledger on loopback (issue 9)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.realparts import (
    AgentProcess,
    configured_agent,
    fast_config,
    get_json,
    http_targets,
    wait_for,
)

from agent.config import load_config
from agent.shard import share

SITES = ("north", "south", "east")
RATE = 2000 * 25000 / 1924  # £ an hour: every user, the council's figure
ONE_SYSTEM = """\
  - name: email
    probe: {{type: http, url: "{url}"}}
"""


def report(config: Path, *options: str) -> dict:
    """`outage-agent report` for today and tomorrow (UTC), as JSON."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    done = subprocess.run(["outage-agent", "report", "-c", str(config), "--from", today,
                           "--to", tomorrow, "--format", "json", *options],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def quorum_span(windows: list[dict]) -> float:
    """Seconds during which at least two of three closed windows overlap, by hand: from the
    second start to the second end (each site's one window overlaps the other two)."""
    starts = sorted(seconds(w["start"]) for w in windows)
    ends = sorted(seconds(w["end"]) for w in windows)
    return ends[1] - starts[1]


def down_windows(document: dict) -> list[dict]:
    """The down windows of a JSON report, oldest first."""
    found = [w for s in document["systems"] for w in s["windows"] if w["state"] == "down"]
    return sorted(found, key=lambda w: w["start"])


@pytest.fixture
def three_sites(tmp_path: Path, postgres_url: str):
    targets = http_targets(*SITES)
    agents = {}
    for site in SITES:
        workdir = tmp_path / site
        workdir.mkdir()
        agents[site] = configured_agent(workdir, fast_config(ONE_SYSTEM, site=site,
                                                             ledger=postgres_url),
                                        url=targets[site].url)
    yield agents, targets
    for agent in agents.values():
        agent.stop()
    for target in targets.values():
        target.down()


def test_one_site_down_is_no_outage_and_all_down_is_one_outage_costed_once(three_sites):
    agents, targets = three_sites
    for agent in agents.values():
        agent.start_all_up()
    config = agents["east"].config

    # North's uplink breaks: north sees email down, south and east see it up.
    targets["north"].down()
    wait_for("north to confirm email down", lambda: agents["north"].state("email") == "down")
    time.sleep(2)
    assert [agents[s].state("email") for s in ("south", "east")] == ["up", "up"]
    targets["north"].up()
    wait_for("north to see email back", lambda: agents["north"].state("email") == "up")
    assert get_json(agents["south"].base + "/api/v1/outages?site=all") == []
    organisation = report(config, "--all-sites")
    assert organisation["total_cost"] == 0
    assert organisation["total_downtime_seconds"] == 0
    assert report(config, "--site", "north")["total_downtime_seconds"] > 0  # north's own

    # Email really fails: every site sees it, each at its own moment.
    for target in targets.values():
        target.down()
    for site, agent in agents.items():
        wait_for(f"{site} to confirm email down", lambda a=agent: a.state("email") == "down")
    time.sleep(3)
    for target in targets.values():
        target.up()
    for site, agent in agents.items():
        wait_for(f"{site} to see email back", lambda a=agent: a.state("email") == "up")

    last = [down_windows(report(config, "--site", site))[-1] for site in SITES]
    organisation = report(config, "--all-sites")
    assert organisation["site"] == "all sites (quorum of east, north, south)"
    [outage] = down_windows(organisation)
    expected = RATE * quorum_span(last) / 3600
    assert outage["cost"] == pytest.approx(expected, abs=0.02)
    assert organisation["total_cost"] == pytest.approx(expected, abs=0.02)
    assert organisation["total_cost"] < 0.5 * sum(w["cost"] for w in last)  # never tripled
    [api] = get_json(agents["north"].base + "/api/v1/outages?site=all")
    assert api["source"] == "quorum"
    assert api["cost"] == pytest.approx(expected, abs=0.02)


def test_two_shards_of_one_site_share_the_ledger_without_touching_each_other(
        tmp_path: Path, postgres_url: str):
    names = [f"sys-{k}" for k in range(8)]
    targets = http_targets(*names)
    systems = "".join(f'  - name: {name}\n    probe: {{{{type: http, url: "{target.url}"}}}}\n'
                      for name, target in targets.items())
    shards: list[AgentProcess] = []
    for k in (1, 2):
        workdir = tmp_path / f"shard-{k}"
        workdir.mkdir()
        template = fast_config(systems, site="county", ledger=postgres_url).replace(
            "  site: county\n", f"  site: county\n  shard: \"{k}/2\"\n")
        shards.append(configured_agent(workdir, template))
    try:
        for agent in shards:
            agent.start_all_up()
        owned = [{s.name for s in share(load_config(a.config).systems, (k, 2))}
                 for k, a in enumerate(shards, start=1)]
        assert owned[0] and owned[1] and not owned[0] & owned[1]
        assert set(shards[0].systems()) == owned[0]
        first, second = sorted(owned[0])[0], sorted(owned[1])[0]
        targets[first].down()
        targets[second].down()
        wait_for("both shards to confirm their outage", lambda: (
            shards[0].state(first), shards[1].state(second)) == ("down", "down"))
        # Shard 1 is killed and restarted while shard 2 is frozen (so it cannot write its
        # window back): shard 1 takes up its own open window and leaves shard 2's alone.
        assert shards[1].proc is not None
        shards[1].proc.send_signal(signal.SIGSTOP)
        try:
            assert shards[0].kill(signal.SIGKILL) == -signal.SIGKILL
            shards[0].start()
            wait_for("shard 1 back with its outage", lambda: shards[0].state(first) == "down")
            in_ledger = {w["system"]: w for w in down_windows(report(shards[0].config))}
        finally:
            shards[1].proc.send_signal(signal.SIGCONT)
        assert set(in_ledger) == {first, second}  # the site's report covers both shards
        assert in_ledger[second]["end"] is None  # still open: shard 1 did not close it
        assert in_ledger[first]["end"] is None  # one window, resumed across the restart
        outages = {w["system"]: w for w in get_json(shards[1].base + "/api/v1/outages")}
        assert [outages[name]["end"] for name in (first, second)] == [None, None]
        assert len(outages) == 2
    finally:
        for agent in shards:
            agent.stop()
        for target in targets.values():
            target.down()

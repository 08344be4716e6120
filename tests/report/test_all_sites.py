"""The report of one site, another site or all of them (quorum) from one shared ledger file.

Three councils' agents (north, south, east) write one SQLite ledger and each watches email,
which every council's 2,000 users use (users_share 1). H = £25,000 / 1,924 h an hour.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support.helpers import HOURLY, config, system
from support.ledgerparts import at, store, window, write_config

from agent.cli import main
from agent.ledger import Ledger
from agent.report.source import ALL_SITES, NoSuchSite, read_report

SITES = ("north", "south", "east")
DAY = (at("2026-11-03 00:00"), at("2026-11-04 00:00"))
AFTER = at("2027-01-01 00:00")


def open_agents(location: Path | str) -> dict[str, Ledger]:
    """A ledger per council's agent, all on one store, each watching email from 08:00."""
    books = {site: Ledger(location, site=site) for site in SITES}
    for book in books.values():
        book.open()
        book.watch(["email"], at("2026-11-03 08:00"))
    return books


@pytest.fixture
def agents(tmp_path: Path):
    books = open_agents(tmp_path / "ledger.db")
    yield books
    for book in books.values():
        book.close()


def site_config(location: Path | str, site: str):
    """A site's configuration (its agent.site), reading the shared ledger at `location`."""
    cfg = config(system("email"), ledger=location)
    return dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, site=site))


def all_down_a_minute_apart(agents: dict[str, Ledger]) -> None:
    """Email fails for everyone at 11:00, seen a minute apart: down at quorum from 11:01 (the
    second site) to 11:30 (when only south is left)."""
    store(agents["north"], window("email", at("2026-11-03 11:00"), at("2026-11-03 11:30")))
    store(agents["south"], window("email", at("2026-11-03 11:01"), at("2026-11-03 11:31")))
    store(agents["east"], window("email", at("2026-11-03 11:02"), at("2026-11-03 11:29")))


def test_one_site_down_is_no_outage_and_all_down_is_costed_once(agents, tmp_path):
    cfg = site_config(tmp_path / "ledger.db", "north")
    # North's uplink fails: only north sees email down, 09:00-10:00.
    store(agents["north"], window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00")))
    everyone = read_report(cfg, *DAY, AFTER, sites=ALL_SITES)
    assert everyone.site == "all sites (quorum of east, north, south)"
    assert (everyone.incidents, everyone.downtime, everyone.cost) == (0, 0.0, 0.0)
    north = read_report(cfg, *DAY, AFTER)  # the configured site: north's own hour
    assert north.site == "north"
    assert (north.incidents, north.downtime) == (1, 3600.0)
    assert north.cost == pytest.approx(2000 * HOURLY)

    all_down_a_minute_apart(agents)  # 11:01 to 11:30 at quorum: 29 minutes, costed once
    everyone = read_report(cfg, *DAY, AFTER, sites=ALL_SITES)
    [line] = everyone.windows
    assert (line.start, line.end) == (at("2026-11-03 11:01"), at("2026-11-03 11:30"))
    assert (line.source, line.state) == ("quorum", "down")
    assert (everyone.incidents, everyone.downtime) == (1, 29 * 60.0)
    # 29 min x 2,000 users x H = 966.67 H = £12,560.64, not three times that.
    assert everyone.cost == pytest.approx(29 * 2000 * HOURLY / 60)
    assert everyone.cost == pytest.approx(12_560.64, abs=0.01)


def test_another_site_s_report_shows_its_own_windows(agents, tmp_path):
    store(agents["north"], window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00")))
    store(agents["south"], window("email", at("2026-11-03 11:01"), at("2026-11-03 11:31")))
    cfg = site_config(tmp_path / "ledger.db", "south")
    north = read_report(cfg, *DAY, AFTER, sites="north")
    assert north.site == "north"
    [line] = north.windows
    assert (line.start, line.downtime) == (at("2026-11-03 09:00"), 3600.0)
    assert north.cost == pytest.approx(2000 * HOURLY)
    with pytest.raises(NoSuchSite, match=r"no site named 'west'.*east, north, south"):
        read_report(cfg, *DAY, AFTER, sites="west")


def test_the_report_command_takes_site_or_all_sites(agents, tmp_path, capsys):
    path = write_config(tmp_path, '- name: email\n  probe: {type: tcp, target: "127.0.0.1:9"}\n')
    path.write_text(path.read_text().replace("site: shire-hall", "site: north"))
    for site, start, end in (("north", "11:00", "11:30"), ("south", "11:01", "11:31"),
                             ("north", "09:00", "10:00")):
        store(agents[site], window("email", at(f"2026-11-03 {start}"), at(f"2026-11-03 {end}")))
    base = ["report", "-c", str(path), "--from", "2026-11-03", "--to", "2026-11-04",
            "--format", "json"]
    # Two of three sites down 11:01-11:30: 29 minutes, once.
    assert main([*base, "--all-sites"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total_downtime_seconds"] == 29 * 60.0
    assert document["total_cost"] == round(29 * 2000 * HOURLY / 60, 2)
    assert main([*base, "--site", "south"]) == 0
    assert json.loads(capsys.readouterr().out)["total_downtime_seconds"] == 30 * 60.0
    assert main([*base]) == 0  # north, as configured: 90 minutes
    assert json.loads(capsys.readouterr().out)["total_downtime_seconds"] == 90 * 60.0
    assert main([*base[:-2], "--all-sites"]) == 0
    assert "# Outage report at all sites (quorum of east, north, south)" in (
        capsys.readouterr().out)
    assert main([*base, "--site", "unknown"]) == 2
    assert "--site: no site named 'unknown' in the ledger" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--site", "south", "--all-sites"])  # one or the other


def test_the_quorum_is_the_same_from_a_shared_postgresql_ledger(postgres_url):
    agents = open_agents(postgres_url)
    try:
        all_down_a_minute_apart(agents)
        everyone = read_report(site_config(postgres_url, "east"), *DAY, AFTER, sites=ALL_SITES)
    finally:
        for book in agents.values():
            book.close()
            book.dispose()
    assert everyone.site == "all sites (quorum of east, north, south)"
    assert everyone.downtime == 29 * 60.0
    assert everyone.cost == pytest.approx(29 * 2000 * HOURLY / 60)

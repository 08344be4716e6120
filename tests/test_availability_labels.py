"""One system's availability is shown in three places with two definitions, so each figure
says what it is a share of: the status page and /api/v1/availability of the time watched
(and how much that was), a report of the whole range with the time not watched counted as
up (and how much that was)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from support.ledgerparts import HOUR, at, store, window, write_config
from support.realparts import (
    AgentProcess,
    HttpTarget,
    configured_agent,
    get_json,
    one_target_config,
)
from test_status_page import CHROMIUM, CHROMIUM_ARGS

from agent.ledger import Ledger


@pytest.fixture
def watched(tmp_path) -> Iterator[AgentProcess]:
    """An agent watching one system, up, for the first time: a few seconds watched."""
    target = HttpTarget()
    target.up()
    agent = configured_agent(tmp_path, one_target_config(), target=target.url)
    try:
        yield agent.start_all_up()
    finally:
        agent.stop()
        target.down()


def test_the_api_says_how_much_time_its_availability_is_a_share_of(watched):
    [system] = get_json(watched.base + "/api/v1/availability?days=90")["systems"]
    assert system["availability"] == 1.0
    assert 0 < system["counted_seconds"] < 600  # the seconds watched, not 90 days
    assert system["counted_seconds"] == pytest.approx(
        sum(day["counted_seconds"] for day in system["days"]), abs=0.01)


def test_the_status_page_labels_its_figure_with_the_time_watched(watched):
    from support.realparts import require_tool

    require_tool("chromium", "chromium")
    sync_playwright: Any = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(watched.base + "/", wait_until="load")
        page.wait_for_selector("li.system .bar-foot .pct", timeout=20_000)
        shown = page.locator("li.system .bar-foot .pct").inner_text()
        legend = page.locator("#systems").inner_text()
        browser.close()
    assert re.fullmatch(r"100% of (\d+m )?\d+s watched", shown), shown
    assert "Reports count time not watched as up" in legend


def test_a_report_says_how_much_unwatched_time_it_counted_as_up(tmp_path):
    config = write_config(tmp_path, '- name: web\n  probe: {type: tcp, target: "127.0.0.1:9"}\n')
    ledger = Ledger(tmp_path / "ledger.db", "shire-hall")
    ledger.open()
    start = at("2026-11-03 09:00")  # first seen then: November's first 2 d 9 h unwatched
    store(ledger, window("web", start, start + HOUR))
    ledger.close()
    report = subprocess.run(["outage-agent", "report", "-c", str(config), "--from",
                             "2026-11-01", "--to", "2026-12-01"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    assert ("availability 99.861% 24x7 (with 2d 9h not watched counted as up), n/a in "
            "business hours") in report

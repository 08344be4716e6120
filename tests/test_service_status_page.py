"""A business service on the status page, in real headless Chromium: its card shows its
state, the rule that makes it down and each member with its own state."""

from __future__ import annotations

from typing import Any

from support.realparts import configured_agent, http_targets, wait_for
from test_service_end_to_end import CONFIG
from test_status_page import WAIT_MS, browser, wait_for_state

__all__ = ["browser"]  # the fixture, shared with the status page's own test


def test_the_status_page_shows_a_service_with_its_members(browser: Any, tmp_path) -> None:
    targets = http_targets("exch-1", "exch-2", "calendar")
    agent = configured_agent(tmp_path, CONFIG, exch1=targets["exch-1"].url,
                             exch2=targets["exch-2"].url, calendar=targets["calendar"].url)
    try:
        agent.start_all_up()
        targets["exch-1"].down()
        wait_for("exchange degraded", lambda: agent.state("exchange") == "degraded")
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.goto(agent.base + "/?refresh=1", wait_until="load")
        wait_for_state(page, "exchange", "Degraded")
        members = page.locator('li.system[data-system="exchange"] .members')
        members.wait_for(timeout=WAIT_MS)
        assert members.inner_text() == "Down when all of: exch-1 (down), exch-2 (up)"
        assert page.locator('li.system[data-system="exch-1"] .members').count() == 0
        targets["exch-2"].down()
        wait_for_state(page, "exchange", "Down")
        page.wait_for_function(
            """() => document.querySelector('li.system[data-system="exchange"] .members')
                 .textContent.endsWith("exch-2 (down)")""", timeout=WAIT_MS, polling=100)
        assert problems == []
    finally:
        agent.stop()
        for target in targets.values():
            target.down()

"""A heartbeat system on the status page, in real headless Chromium: its card says when its
job last ran, how long that took and when the next success is due."""

from __future__ import annotations

from typing import Any

from support.realparts import configured_agent, get
from test_heartbeat_end_to_end import CONFIG, TOKEN
from test_status_page import WAIT_MS, browser, wait_for_state

__all__ = ["browser"]  # the fixture, shared with the status page's own test


def test_the_status_page_shows_a_heartbeat_s_last_run(browser: Any, tmp_path) -> None:
    agent = configured_agent(tmp_path, CONFIG, every="1h", grace="1h", token=TOKEN,
                             backup="Zm9vYmFyYmF6cXV4cXV1eA", extra="").start()
    try:
        assert get(f"{agent.base}/ping/{TOKEN}/start") == (200, "OK")
        assert get(f"{agent.base}/ping/{TOKEN}") == (200, "OK")
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.goto(agent.base + "/?refresh=1", wait_until="load")
        wait_for_state(page, "payroll", "Up")
        card = page.locator('li.system[data-system="payroll"] .last-run')
        card.wait_for(timeout=WAIT_MS)
        text = card.inner_text()
        assert text.startswith("Last run ") and " · took " in text and " · next due " in text
        never = page.locator('li.system[data-system="backup"] .last-run').inner_text()
        assert never.startswith("Last run never")
        assert problems == []
    finally:
        agent.stop()

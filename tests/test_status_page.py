"""The status page in real headless Chromium (Debian's), against `outage-agent run` watching
loopback targets: it loads cleanly, shows an outage and its cost rising without a reload,
shows the recovery, fits a phone, and labels every state in text with enough contrast."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.realparts import (
    AgentProcess,
    HttpTarget,
    configured_agent,
    fast_config,
    http_targets,
    require_tool,
)

CONFIG = fast_config(site="shire-hall", timezone="Europe/London", systems="""\
  - name: intranet
    description: Staff intranet
    probe: {{type: http, url: "{intranet}"}}
    users_share: 0.5
  - name: finance
    depends_on: [intranet]
    probe: {{type: tcp, target: "127.0.0.1:{finance_port}"}}
    users_share: 0.2
  - name: email
    probe: {{type: http, url: "{email}"}}
    users_share: 0.9
    impact: 0.5
""")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
WAIT_MS = 20_000  # every wait on the page is bounded; the whole test takes about 20 s

# In the page: each state badge's text, and the contrast of its text on its background.
BADGES_JS = """() => {
  const rgb = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll('.badge')].map((b) => {
    const s = getComputedStyle(b);
    const [hi, lo] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
    return {state: b.dataset.state, text: b.textContent.trim(),
            contrast: (hi + 0.05) / (lo + 0.05)};
  });
}"""


def state_of(page: Any, name: str) -> str:
    return str(page.locator(f'li.system[data-system="{name}"] .badge').inner_text()).strip()


def money(text: str) -> float:
    return float(re.sub(r"[^0-9.]", "", text))


def wait_for_state(page: Any, name: str, label: str) -> None:
    page.wait_for_function(
        """([name, label]) => {
          const b = document.querySelector(`li.system[data-system="${name}"] .badge`);
          return b !== null && b.textContent.trim() === label;
        }""", arg=[name, label], timeout=WAIT_MS, polling=100)


@pytest.fixture
def browser() -> Iterator[Any]:
    require_tool("chromium", "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is missing: it is in the `test` extra")
        pytest.skip("playwright not installed (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 pip install "
                    "playwright)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def estate(tmp_path) -> Iterator[tuple[AgentProcess, dict[str, HttpTarget]]]:
    targets = http_targets("intranet", "finance", "email")
    agent = configured_agent(tmp_path, CONFIG, intranet=targets["intranet"].url,
                             finance_port=targets["finance"].port, email=targets["email"].url)
    try:
        yield agent, targets
    finally:
        agent.stop()
        for target in targets.values():
            target.down()


def test_status_page_shows_an_outage_costing_money_live_and_the_recovery(
        browser, estate, tmp_path):
    agent, targets = estate
    agent.start_all_up()

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto(agent.base + "/?refresh=1", wait_until="load")
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    for name in ("intranet", "finance", "email"):
        wait_for_state(page, name, "Up")
    assert page.locator("li.system").count() == 3
    assert page.locator("#banner-text").inner_text() == "All systems operational."
    assert page.locator("#banner").get_attribute("aria-live") == "polite"
    page.wait_for_selector("li.system .bar .seg", timeout=WAIT_MS)  # availability drawn

    targets["intranet"].down()
    targets["finance"].down()
    wait_for_state(page, "intranet", "Down")
    wait_for_state(page, "finance", "Down")  # billed to intranet, the root cause
    assert "behind intranet" in page.locator('li.system[data-system="finance"]').inner_text()
    ticker = page.locator('li.incident[data-system="intranet"] .ticker')
    first = money(ticker.inner_text())
    page.wait_for_timeout(2500)
    second = money(ticker.inner_text())
    assert second > first > 0, (first, second)
    assert money(page.locator("#burn").inner_text()) > 0
    assert "intranet" in page.locator("#banner-text").inner_text()
    today = page.locator('li.system[data-system="intranet"] .bar .seg').last
    assert "a-minor" in str(today.get_attribute("class"))  # today's bar shows the outage
    assert page.locator('li.incident[data-system="intranet"] time').count() >= 2
    page.screenshot(path=str(tmp_path / "status-down.png"), full_page=True)

    badges = page.evaluate(BADGES_JS)
    assert {b["state"] for b in badges} >= {"up", "down"}
    for found in badges:
        assert found["text"].lower() == found["state"], found
        assert found["contrast"] >= 4.5, found
    page.emulate_media(color_scheme="dark")
    assert all(b["contrast"] >= 4.5 for b in page.evaluate(BADGES_JS))
    page.emulate_media(color_scheme="light")

    page.set_viewport_size({"width": 375, "height": 667})
    page.wait_for_timeout(300)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scroll at 375 px: {widths}"
    page.screenshot(path=str(tmp_path / "status-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 900})

    targets["intranet"].up()
    targets["finance"].up()
    wait_for_state(page, "intranet", "Up")
    wait_for_state(page, "finance", "Up")
    page.wait_for_function("document.getElementById('no-incidents').hidden === false",
                           timeout=WAIT_MS)
    assert page.locator('#recent-list li[data-system="intranet"]').count() >= 1
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert problems == []

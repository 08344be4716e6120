"""Regenerate the pictures of the status page and of a report in docs/images/.

status-page.png is the top of status-page-full.png; report.png is the top of a report.

    python -m tools.screenshots                  # all three, into docs/images/
    python -m tools.screenshots --system email   # the status page at the demo's first outage

It needs the `test` extra (Playwright) and Debian's `chromium`, as the status page's tests do.
The status page is the real one: `outage-agent demo` runs on a free loopback port and the page
is captured once the core network and everything behind it are down (about three minutes into
the demo's script), with the email outage and the slow finance system before it listed among
the incidents. The report is the real `outage-agent report --format html` of last calendar
month, for the demo's estate with SLAs, suppliers and a business-hours schedule added
(`report_config`), after `outage-agent import` of a month of sample service-desk history
(`HISTORY`). Chromium resolves no name and fetches nothing beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
DEMO_CONFIG = ROOT / "agent" / "demo" / "demo.yaml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
WIDTH = 1100
TOP_INCIDENTS = 3  # README's status page ends below the third open incident
# The demo's placeholders: the report reads the ledger only, so nothing is probed.
NO_ESTATE = {"DEMO_TCP": "127.0.0.1:9", "DEMO_HTTP": "127.0.0.1:9"}
DEPENDANTS = ("email", "finance", "care-records", "intranet")

# A month of a service desk's record: (system, day, from, to, state, cause, note, ticket).
HISTORY = (
    ("email", 3, "09:12", "10:40", "", "", "mail store full", "INC-4411"),
    ("network-core", 10, "08:55", "09:41", "", "", "core switch firmware fault", "INC-4502"),
    *((name, 10, "08:55", "09:41", "down", "network-core", "", "") for name in DEPENDANTS),
    ("finance", 17, "13:30", "16:05", "degraded", "", "slow month-end batch", ""),
    ("care-records", 19, "14:02", "14:48", "", "", "supplier database failover", "SUP-1187"),
    ("intranet", 24, "10:15", "12:00", "", "", "", ""),
    ("email", 26, "16:20", "16:52", "", "", "certificate expired", "INC-4690"),
)
# What the report's config adds to each demo system: an SLA, and who answers for it.
OWNERS = {
    "network-core": {"sla": "99.95%", "owner": "Infrastructure", "supplier": "Example Networks"},
    "email": {"sla": "99.9%", "owner": "Messaging", "supplier": "Example Cloud Mail"},
    "finance": {"sla": "99.5%", "owner": "Finance systems"},
    "care-records": {"sla": "99.9%", "owner": "Adult social care", "supplier": "Example Care"},
    "intranet": {"sla": "99%", "owner": "Digital services"},
}


def last_month(today: date) -> tuple[date, date]:
    """Given today, return the first day of last calendar month and of this one."""
    first = today.replace(day=1)
    previous = date(first.year - 1, 12, 1) if first.month == 1 else first.replace(
        month=first.month - 1)
    return previous, first


def history_csv(month: date) -> str:
    """Given the first day of a month, return HISTORY as an import file for that month."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["system", "start", "end", "state", "cause", "impact", "note", "ticket"])
    for system, day, start, end, state, cause, note, ticket in HISTORY:
        when = month.replace(day=day).isoformat()
        writer.writerow([system, f"{when} {start}", f"{when} {end}", state, cause, "", note,
                         ticket])
    return out.getvalue()


def report_config(demo: str) -> str:
    """Given the demo's config text, return it with OWNERS and a business-hours schedule."""
    config = yaml.safe_load(demo)
    config["cost"]["concurrent_users"] = {
        "holidays": "GB-ENG", "default": 100,
        "windows": [{"days": "mon-fri", "hours": "08:00-18:00", "users": 2000}]}
    for system in config["systems"]:
        system.update(OWNERS.get(system["name"], {}))
    return yaml.safe_dump(config, sort_keys=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def agent(*args: str, env: dict[str, str] | None = None) -> None:
    """Run one outage-agent command of this source tree; raise if it fails."""
    subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, check=True,
                   env={**os.environ, **(env or {})}, timeout=120)


@contextmanager
def demo(scratch: Path) -> Iterator[str]:
    """Run `outage-agent demo` on a free loopback port; yield its base URL."""
    listen = f"127.0.0.1:{free_port()}"
    log = (scratch / "demo.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "demo", "--listen", listen,
         "--ledger", str(scratch / "demo-ledger.db")], cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_healthy(f"http://{listen}/healthz", process)
        yield f"http://{listen}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo exited ({process.returncode}) before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the demo was not healthy within {timeout:.0f} s")


def wait_down(page: Any, names: tuple[str, ...], timeout_ms: int) -> None:
    """Wait until every named system's badge on the status page says Down."""
    page.wait_for_function(
        """(names) => names.every((name) => {
          const b = document.querySelector(`li.system[data-system="${name}"] .badge`);
          return b !== null && b.textContent.trim() === 'Down';
        })""", arg=list(names), timeout=timeout_ms, polling=250)


def capture_status_page(browser: Any, base: str, system: str, out: Path) -> None:
    """The status page once `system` (and, for network-core, its dependants) is down: the
    whole page, and its top (the banner, the money and the first open incidents) for README."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    page.goto(f"{base}/?refresh=1", wait_until="load")
    waited = (system, *DEPENDANTS) if system == "network-core" else (system,)
    wait_down(page, waited, timeout_ms=300_000)
    page.wait_for_timeout(4_000)  # the running costs tick on between polls
    page.screenshot(path=str(out / "status-page-full.png"), full_page=True)
    third = page.locator("li.incident").nth(TOP_INCIDENTS - 1).bounding_box()
    height = int(third["y"] + third["height"]) + 8 if third else 1250
    page.screenshot(path=str(out / "status-page.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    page.close()


def capture_report(browser: Any, html: Path, out: Path) -> None:
    """The top of an HTML report: its totals and charts, down to the Method section."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    page.goto(html.as_uri(), wait_until="load")
    method = page.locator("h2", has_text="Method").first.bounding_box()
    height = int(method["y"]) - 8 if method else 1300
    page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": WIDTH, "height": height},
                    full_page=True)
    page.close()


def render_report(scratch: Path, today: date) -> Path:
    """Import HISTORY for last month into a fresh ledger; return the HTML report of it."""
    first, end = last_month(today)
    config = scratch / "report.yaml"
    config.write_text(report_config(DEMO_CONFIG.read_text()))
    windows = scratch / "service-desk.csv"
    windows.write_text(history_csv(first))
    ledger, html = scratch / "report-ledger.db", scratch / "report.html"
    agent("import", "-c", str(config), "--ledger", str(ledger), str(windows), env=NO_ESTATE)
    agent("report", "-c", str(config), "--ledger", str(ledger), "--from", first.isoformat(),
          "--to", end.isoformat(), "--format", "html", "-o", str(html), env=NO_ESTATE)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="default: docs/images")
    parser.add_argument("--system", default="network-core", choices=["network-core", "email"],
                        help="capture the status page once this system is down")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="outage-screenshots-") as name, \
            sync_playwright() as p:
        scratch = Path(name)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        html = render_report(scratch, datetime.now(ZoneInfo("Europe/London")).date())
        capture_report(browser, html, args.out / "report.png")
        with demo(scratch) as base:
            capture_status_page(browser, base, args.system, args.out)
        browser.close()
    for picture in ("status-page.png", "status-page-full.png", "report.png"):
        print(f"wrote {args.out / picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

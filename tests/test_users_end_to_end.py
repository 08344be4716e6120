"""Measured users end to end: a running agent reads a real Debian Prometheus scraping a
loopback exporter whose gauge the test changes (and, in the second test, a loopback JSON
endpoint and a real command). The cost rate follows the reading within a period; a dead
source gives way to the fallback, with outage_users_source_up 0, and back; the ledger holds
every reading, and a report over the run equals the live counter and a hand integration of
the readings stored."""

from __future__ import annotations

import asyncio
import http.server
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from support.helpers import DOWN, HOURLY, UP
from support.ledgerparts import write_config
from support.realparts import PrometheusProcess, free_port, parse_metrics

from agent.config import load_config
from agent.daemon import Agent
from agent.ledger import Ledger
from agent.model import Check, ProbeResult
from agent.records import UsersReading
from agent.report import RENDERERS
from agent.report.source import read_report

FALLBACK = 100.0
SYSTEMS = """\
- name: care-records
  probe: {type: tcp, target: "127.0.0.1:9"}
  failure_threshold: 1
  success_threshold: 1
"""


class Exporter:
    """A loopback exporter of one gauge, citrix_sessions_active, that can die and come back
    on the same port."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.gauge = Gauge("citrix_sessions_active", "Sessions.", registry=self.registry)
        self.port = free_port()
        self._server: Any = None

    def up(self) -> None:
        self._server, _ = start_http_server(self.port, "127.0.0.1", registry=self.registry)

    def down(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    found = Exporter()
    found.gauge.set(500)
    found.up()
    yield found
    found.down()


@pytest.fixture(scope="module")
def prometheus(exporter: Exporter, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[PrometheusProcess]:
    server = PrometheusProcess(tmp_path_factory.mktemp("prometheus"),
                               {f"127.0.0.1:{exporter.port}": {}}, job="citrix")
    server.start()
    server.wait_for_data("citrix_sessions_active")
    yield server
    server.stop()


async def down(agent: Agent, name: str, result: ProbeResult = DOWN) -> None:
    """One probe of `name` answering `result` (thresholds of 1: confirmed at once)."""
    async def answer(check: Check) -> ProbeResult:
        return result

    agent.prober.run = answer  # type: ignore[method-assign]
    await agent.probe_system(name)


async def until(what: str, check: Callable[[], Any], timeout: float) -> float:
    """Wait (on the event loop) until `check()` is true; return how long it took."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


def users(agent: Agent, group: str = "everyone") -> float:
    return {g.name: g.concurrent_users for g in agent.engine.group_views(agent.clock())}[group]


def by_hand(readings: list[UsersReading], start: float, end: float, fallback: float) -> float:
    """The integral of users over [start, end), second by second of the readings stored: each
    applies until the next or three periods on; elsewhere the fallback."""
    total, at = 0.0, start
    ordered = sorted(readings, key=lambda r: r.at)
    for k, reading in enumerate(ordered):
        nxt = ordered[k + 1].at if k + 1 < len(ordered) else math.inf
        lo, hi = max(reading.at, start), min(nxt, reading.at + 3 * reading.period, end)
        if hi <= lo:
            continue
        if lo > at:  # before it: the fallback
            total += (lo - at) * fallback
        total += (hi - lo) * (fallback if reading.value is None else reading.value)
        at = hi
    return total + max(0.0, end - at) * fallback


async def run(path: Path, script: Callable[[Agent], Any]) -> tuple[float, float]:
    """Start an agent on `path`, take care-records down, run `script`, recover, stop; return
    the window's live cost and when the run began."""
    agent = Agent(load_config(path))
    began = agent.clock()
    await agent.start()
    try:
        assert agent.probing is not None
        agent.probing.pause()  # probes answered by the test only
        await down(agent, "care-records")
        await script(agent)
        await down(agent, "care-records", UP)
        await agent.checkpoint()
        [view] = agent.engine.view(agent.clock())
    finally:
        await agent.stop()
    return view.totals.cost, began


async def test_the_cost_follows_a_prometheus_gauge_falls_back_and_is_reported_as_read(
        tmp_path: Path, exporter: Exporter, prometheus: PrometheusProcess) -> None:
    async def script(agent: Agent) -> None:
        await until("500 read", lambda: users(agent) == 500, timeout=5)
        exporter.gauge.set(800)
        await until("Prometheus has 800", lambda: prometheus.query(
            "sum(citrix_sessions_active)")[0]["value"][1] == "800", timeout=5)
        # within one period (1 s) of Prometheus having it, and a reading's own time
        assert await until("800 read", lambda: users(agent) == 800, timeout=2) < 1.5
        [view] = agent.engine.view(agent.clock())
        assert view.cost_per_hour == pytest.approx(800 * HOURLY)
        exporter.gauge.set(5000)  # above max: clamped
        await until("clamped to 3000", lambda: users(agent) == 3000, timeout=5)
        exporter.down()  # the series goes stale: the query gives nothing
        try:
            await until("fallback", lambda: users(agent) == FALLBACK, timeout=5)
            metrics = parse_metrics((await agent.render_metrics()).decode())
            assert metrics['outage_users_source_up{group="everyone"}'] == 0
            assert metrics["outage_concurrent_users"] == FALLBACK
            assert agent.engine.view(agent.clock())[0].cost_per_hour == pytest.approx(
                FALLBACK * HOURLY)
        finally:
            exporter.gauge.set(650)
            exporter.up()
        await until("measured again", lambda: users(agent) == 650, timeout=6)
        metrics = parse_metrics((await agent.render_metrics()).decode())
        assert metrics['outage_users_source_up{group="everyone"}'] == 1
        assert metrics['outage_users_measured{group="everyone"}'] == 650

    source = (f"{{source: {{type: prometheus, url: '{prometheus.base}', "
              "query: 'sum(citrix_sessions_active)', every: 1s, max: 3000}, fallback: 100}")
    path = write_config(tmp_path, SYSTEMS, users=source, ledger=str(tmp_path / "ledger.db"))
    live, began = await run(path, script)
    await check_the_evidence(path, live, began, {"prometheus", "fallback"})


async def check_the_evidence(path: Path, live: float, began: float, sources: set[str]) -> None:
    """The ledger holds the readings; a report over the run equals the live counter and a
    hand integration of the readings stored."""
    config = load_config(path)
    ledger = Ledger(config.agent.ledger, "shire-hall")
    readings = ledger.users_readings(began - 60, time.time() + 60)
    [window] = ledger.report_windows(began - 60, time.time() + 60)
    ledger.dispose()
    assert {r.source for r in readings} >= sources and len(readings) >= 5
    report = read_report(config, began - 60, time.time() + 60, time.time() + 60)
    start, end = window.record.start, window.record.end
    assert end is not None
    staff = sum(by_hand([r for r in readings if r.group == g], start, end, FALLBACK)
                for g in {r.group for r in readings}) / 3600 * HOURLY
    assert round(report.cost, 2) == round(live, 2) == round(staff, 2)
    share = json.loads(RENDERERS["json"](report))["measured_share"]  # said in the JSON too
    assert share == round(report.model.measured_share, 6) and 0 < share <= 1


class JsonEndpoint:
    """A loopback endpoint answering {"data": {"sessions": N}}, or a 503 while failing."""

    def __init__(self) -> None:
        self.sessions: float | None = 40.0
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if endpoint.sessions is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"data": {"sessions": endpoint.sessions}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sessions"


async def test_http_json_and_command_sources_follow_fall_back_and_are_reported_as_read(
        tmp_path: Path) -> None:
    endpoint = JsonEndpoint()
    count = tmp_path / "agents-logged-in"
    count.write_text("12\n")
    groups = (
        "cost:\n  currency: GBP\n  timezone: UTC\n  annual_cost_per_user: 25000\n  groups:\n"
        "    desk:\n      concurrent_users:\n        source: {type: http_json, url: '"
        f"{endpoint.url}', path: data.sessions, every: 1s}}\n        fallback: 100\n"
        "    phones:\n      concurrent_users:\n        source: {type: command, command: "
        f"[/bin/cat, '{count}'], every: 1s}}\n        fallback: 100\n")

    async def script(agent: Agent) -> None:
        await until("both read", lambda: (users(agent, "desk"), users(agent, "phones")) == (
            40, 12), timeout=5)
        endpoint.sessions, count_text = None, "not a number\n"
        count.write_text(count_text)
        await until("both fall back", lambda: (users(agent, "desk"), users(agent, "phones"))
                    == (FALLBACK, FALLBACK), timeout=5)
        endpoint.sessions = 55
        count.write_text("30\n")
        await until("both back", lambda: (users(agent, "desk"), users(agent, "phones")) == (
            55, 30), timeout=5)
        [view] = agent.engine.view(agent.clock())
        assert view.cost_per_hour == pytest.approx(85 * HOURLY)

    path = write_config(tmp_path, SYSTEMS.replace("  success_threshold: 1\n",
                                                  "  success_threshold: 1\n  users: "
                                                  "{desk: 1.0, phones: 1.0}\n"),
                        ledger=str(tmp_path / "ledger.db"))
    text = path.read_text()
    head, _, rest = text.partition("cost:\n")
    path.write_text(head + groups + rest[rest.index("systems:"):])
    try:
        live, began = await run(path, script)
    finally:
        endpoint.server.shutdown()
    await check_the_evidence(path, live, began, {"http_json", "command", "fallback"})

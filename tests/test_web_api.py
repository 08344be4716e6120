"""The HTTP surface in process: the status page's files and headers, /api/v1/summary,
/api/v1/availability, and the existing routes' JSON as the public contract it is."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CONTENT_TYPE_LATEST
from support.helpers import config, system
from support.ledgerparts import store

from agent.daemon import Agent
from agent.ledger import Ledger
from agent.records import Amounts, Basis, Batch, TransitionRecord, WindowRecord
from agent.text import iso
from agent.web.server import AGENT_KEY, CSP, make_app

REPO = Path(__file__).resolve().parent.parent
STATIC = REPO / "agent" / "web" / "static"
LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC).timestamp()
H = 3600.0


def london(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp()


def window(state: str, start: float, end: float | None) -> WindowRecord:
    return WindowRecord(
        system="db", state=state, cause=None, start=start, end=end, before_start=None,
        before_end=None, last_observed=end, accounted_until=end or start,
        amounts=Amounts(cost=100.0, staff=100.0, downtime=(end or start) - start),
        basis=Basis(hourly_cost_per_user=13.0, users_share=1.0, impact=1.0,
                    direct_cost_per_hour=0.0, users_at_start=2000.0),
        new_incident=state == "down",
    )


@pytest.fixture
async def client(tmp_path) -> AsyncIterator[TestClient]:
    """The agent's app on a loopback port, its clock stopped at NOW and probing paused."""
    agent = Agent(config(system("db"), ledger=tmp_path / "ledger.db",
                         timezone="Europe/London"), clock=lambda: NOW)
    await agent.start()
    assert agent.probing is not None
    agent.probing.pause()
    await agent.ledger.commit(Batch(
        windows=[window("down", london("2026-06-09T09:00"), london("2026-06-09T10:00")),
                 window("maintenance", london("2026-06-08T00:00"), london("2026-06-08T12:00"))],
        transitions=[TransitionRecord("db", london("2026-06-08T00:00"), "unknown", "up", None)],
    ))
    async with TestClient(TestServer(make_app(agent))) as test_client:
        yield test_client
    await agent.stop()


async def test_availability_gives_each_local_day_its_hand_calculated_fraction(client):
    response = await client.get("/api/v1/availability?days=4")
    assert response.status == 200
    body = await response.json()
    assert (body["from"], body["to"], body["timezone"]) == ("2026-06-07", "2026-06-10",
                                                            "Europe/London")
    [db] = body["systems"]
    days = {d["date"]: d for d in db["days"]}
    assert days["2026-06-07"]["availability"] is None  # before the system was first seen
    assert days["2026-06-08"]["availability"] == 1.0
    assert days["2026-06-08"]["excluded_seconds"] == 12 * H
    assert days["2026-06-09"]["availability"] == pytest.approx(23 / 24, abs=1e-6)
    assert days["2026-06-10"]["counted_seconds"] == 13 * H  # 00:00 BST to 13:00 BST
    assert db["availability"] == pytest.approx(1 - 1 / (12 + 24 + 13), abs=1e-6)


async def test_today_is_read_afresh_while_earlier_days_are_kept_for_the_minute(client):
    before = await (await client.get("/api/v1/availability?days=2")).json()
    assert before["systems"][0]["days"][-1]["down_seconds"] == 0
    agent = client.app[AGENT_KEY]
    await agent.ledger.commit(Batch(windows=[
        window("down", london("2026-06-10T10:00"), london("2026-06-10T11:00")),
        window("down", london("2026-06-09T20:00"), london("2026-06-09T21:00"))]))
    after = await (await client.get("/api/v1/availability?days=2")).json()
    yesterday, today = after["systems"][0]["days"]
    assert today["down_seconds"] == H
    assert today["availability"] == pytest.approx(12 / 13, abs=1e-6)
    assert yesterday["down_seconds"] == H  # the new window yesterday waits for the minute


@pytest.mark.parametrize("query", ["days=0", "days=367", "days=abc", "days=-1", "days=1.5",
                                   "days=90&x=1", "from=2026-01-01"])
async def test_availability_rejects_bad_parameters_with_a_json_400(client, query):
    response = await client.get("/api/v1/availability?" + query)
    assert response.status == 400
    assert (await response.json())["status"] == 400


BAD_TIMES = ["nan", "NaN", "inf", "-inf", "-1e18", "1e18", "1e400", "-1", "1_700_000_000",
             "%C2%B2", "%D9%A1%D9%A2", "0001-01-01", "9999-12-31T23:59:59", "2100-01-02",
             "2026-06-10T12:00:00-99:00", "", "yesterday"]
BAD_QUERIES = [
    *(f"/api/v1/outages?from={value}" for value in BAD_TIMES),
    *(f"/api/v1/outages?to={value}" for value in BAD_TIMES),
    *(f"/api/v1/outages?site=all&from={value}" for value in ("nan", "-1e18", "0001-01-01")),
    "/api/v1/outages?site=all&from=0&to=9999-12-31", "/api/v1/outages?site=all&to=1e300",
    "/api/v1/outages?from=1&from=2", "/api/v1/outages?system=db&system=db",
    "/api/v1/outages?system=%00", "/api/v1/outages?system=../db", "/api/v1/outages?system=",
    "/api/v1/outages?site=all&system=a%20b", "/api/v1/outages?site=%00",
    "/api/v1/outages?url=http://127.0.0.1/",
    *(f"/api/v1/availability?days={value}" for value in (
        "nan", "inf", "-1", "0", "367", "1e2", "90.0", "%C2%B2", "%D9%A1", "0090", "",
        "9" * 50)),
    "/api/v1/availability?days=1&days=2",
    "/api/v1/systems?from=nan", "/api/v1/systems?x=1", "/api/v1/summary?days=-1",
    *(f"/?refresh={value}" for value in ("nan", "inf", "-1e18", "0", "301", "1e400", "5s", "")),
    "/?refresh=1&refresh=2",
]


@pytest.mark.fault("non-finite, out-of-range and absurd values (nan, inf, -1e18, 1e400, year 1 "
                   "or 9999, ², Arabic digits, repeated or unknown names) in every parameter "
                   "of every API route and the status page's refresh",
                   "400 with a JSON error naming the parameter; never a 500 or a silent 200")
@pytest.mark.parametrize("query", BAD_QUERIES)
async def test_every_bad_parameter_is_a_400_with_a_json_error(client, query):
    response = await client.get(query)
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["status"] == 400
    names = {part.partition("=")[0] for part in query.partition("?")[2].split("&")}
    assert any(name in body["error"] for name in names), body


@pytest.mark.parametrize("query", [
    "/api/v1/outages?from=0", "/api/v1/outages?from=1970-01-01&to=2100-01-01",
    "/api/v1/outages?from=1781092800.5&to=2026-06-11T00:00:00Z",
    "/api/v1/outages?site=all&from=2026-01-01", "/api/v1/outages?system=db",
    "/api/v1/availability?days=1", "/api/v1/availability?days=366",
    "/api/v1/availability?days=090", "/?refresh=1", "/?refresh=300", "/?refresh=2.5",
])
async def test_parameters_at_their_bounds_are_accepted(client, query):
    assert (await client.get(query)).status == 200


async def test_availability_defaults_to_90_days(client):
    body = await (await client.get("/api/v1/availability")).json()
    assert body["days"] == 90 and len(body["systems"][0]["days"]) == 90


async def test_summary_gives_the_estate_at_a_glance(client):
    body = await (await client.get("/api/v1/summary")).json()
    assert body["currency"] == "GBP" and body["timezone"] == "Europe/London"
    assert body["generated_at"] == "2026-06-10T12:00:00.000Z"
    assert body["systems_total"] == 1 and body["systems_down"] == 0
    assert body["systems_by_state"] == {"unknown": 1, "up": 0, "degraded": 0, "down": 0,
                                        "maintenance": 0}
    assert body["concurrent_users"] == 2000.0
    assert {"cost_per_hour", "cost_today", "cost_month", "affected_users", "open_incidents",
            "site", "ledger_ok"} <= set(body)


async def test_outages_of_another_site_or_of_every_site_at_quorum(client, tmp_path):
    """This agent (site "") sees db down for an hour, south from half-way through it until
    an hour later, east sees it up: down at quorum (2 of 3) only while both see it down."""
    agent = client.app[AGENT_KEY]
    start = NOW + H  # every site watches db from NOW
    await agent.ledger.commit(Batch(windows=[window("down", start, start + H)]))
    for site, windows in (("south", [window("down", start + H / 2, start + 2 * H)]),
                          ("east", [])):
        book = Ledger(tmp_path / "ledger.db", site=site)
        book.open()
        book.watch(["db"], NOW)
        store(book, *windows)
        book.close()
    span = f"from={start - H}&to={start + 3 * H}"
    [org] = await (await client.get(f"/api/v1/outages?site=all&{span}")).json()
    assert (org["source"], org["state"]) == ("quorum", "down")
    assert (org["start"], org["end"]) == (iso(start + H / 2), iso(start + H))
    # half an hour x 2,000 users x £25,000 / 1,924 an hour (the basis in force), once
    assert org["cost"] == round(0.5 * 2000 * 25000 / 1924, 2) == 12_993.76
    assert await (await client.get(f"/api/v1/outages?site=all&system=db&{span}")).json()
    [south] = await (await client.get(f"/api/v1/outages?site=south&{span}")).json()
    assert (south["start"], south["duration_seconds"]) == (iso(start + H / 2), 1.5 * H)
    # Another site may watch a system this agent does not.
    assert await (await client.get(f"/api/v1/outages?site=south&system=hr&{span}")).json() == []
    [own] = await (await client.get(f"/api/v1/outages?{span}")).json()
    assert (own["start"], own["source"]) == (iso(start), "live")
    # costed as the report costs it; the ledger's own figure beside it
    assert (own["cost"], own["recorded_cost"]) == (round(2000 * 25000 / 1924, 2), 100.0)
    response = await client.get("/api/v1/outages?site=west")
    assert response.status == 400
    assert "site: no site named 'west' in the ledger" in (await response.json())["error"]


async def test_systems_json_keeps_its_public_fields(client):
    [db] = await (await client.get("/api/v1/systems")).json()
    assert set(db) == {
        "name", "description", "state", "cause", "cost_per_hour", "affected_users",
        "open_outage", "cost_total", "cost_today", "cost_month", "downtime_seconds_total",
        "incidents_total", "depends_on", "owner", "supplier", "tier", "last_probe",
        "heartbeat", "service"}
    assert db["heartbeat"] is None  # probed, not a heartbeat (docs/heartbeats.md)
    assert db["service"] is None  # probed, not a service (docs/services.md)


async def test_the_status_page_is_served_with_a_strict_content_security_policy(client):
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "connect-src 'self'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "/static/status.js" in await response.text()


@pytest.mark.parametrize(("path", "content_type"), [
    ("/static/status.js", "text/javascript"), ("/static/status.css", "text/css"),
    ("/static/favicon.svg", "image/svg+xml"), ("/favicon.ico", "image/svg+xml"),
])
async def test_static_files_have_safe_types_and_revalidate(client, path, content_type):
    response = await client.get(path)
    assert response.status == 200 and response.content_type == content_type
    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


@pytest.mark.parametrize("path", ["/static/missing.js", "/static/..%2fserver.py",
                                  "/static/__init__.py"])
async def test_nothing_but_the_shipped_assets_is_served(client, path):
    assert (await client.get(path)).status == 404


# What Prometheus 3 sends with every scrape.
PROMETHEUS_SCRAPE = {
    "User-Agent": "Prometheus/3.5.0",
    "Accept": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
              "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
              "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}


async def test_metrics_are_gzipped_for_a_prometheus_scrape_and_plain_otherwise(client):
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(client.make_url("/metrics"), headers=PROMETHEUS_SCRAPE) as scrape:
            zipped = await scrape.read()
        async with session.get(client.make_url("/metrics"),
                               skip_auto_headers=["Accept-Encoding"]) as plain:
            text = await plain.read()
    assert (scrape.status, scrape.headers["Content-Encoding"]) == (200, "gzip")
    assert int(scrape.headers["Content-Length"]) == len(zipped) < len(text)
    assert gzip.decompress(zipped) == text
    assert (plain.status, plain.headers.get("Content-Encoding")) == (200, None)
    assert b'\noutage_system_up{system="db"} 1.0\n' in text
    for response in (scrape, plain):
        assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
        assert response.headers["Vary"] == "Accept-Encoding"


def test_the_page_loads_nothing_from_outside_the_agent():
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path
        assert not re.search(r"url\(\s*[\"']?(https?:)?//", text), path
        assert "fetch(\"http" not in text and "@import" not in text, path


def test_every_static_file_is_package_data():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["agent.web"]
    assert all(any(path.match(g) for g in globs)
               for path in (p.relative_to(STATIC.parent) for p in STATIC.iterdir()))


async def test_days_with_nothing_but_an_imported_window_are_not_counted_as_watched(tmp_path):
    agent = Agent(config(system("db"), ledger=tmp_path / "ledger.db",
                         timezone="Europe/London"), clock=lambda: NOW)
    await agent.start()
    assert agent.probing is not None
    agent.probing.pause()
    imported = dataclasses.replace(
        window("down", london("2026-06-05T09:00"), london("2026-06-05T10:00")),
        source="imported")
    await agent.ledger.commit(Batch(windows=[imported]))
    try:
        async with TestClient(TestServer(make_app(agent))) as test_client:
            body = await (await test_client.get("/api/v1/availability?days=7")).json()
    finally:
        await agent.stop()
    [db] = body["systems"]
    days = {d["date"]: (d["availability"], d["counted_seconds"]) for d in db["days"]}
    assert days["2026-06-05"] == (0.0, H)  # the imported hour: observed down
    for day in ("2026-06-04", "2026-06-06", "2026-06-07", "2026-06-08", "2026-06-09"):
        assert days[day] == (None, 0.0), day  # nobody watched
    # the agent first ran at NOW: of the week, only the imported hour was watched
    assert (db["availability"], db["counted_seconds"]) == (0.0, H)

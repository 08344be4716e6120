"""The agent's HTTP surface: the status page, /metrics, /healthz and the read-only JSON API.

Nothing here writes or probes: every handler reads the engine's views or the ledger, so the
API cannot be used to reach arbitrary addresses. The status page is static files shipped in
the package (no CDN, no external fonts) that poll the JSON API.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import math
import re
import ssl
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import gzip_accepted

from agent.daemon import Agent
from agent.days import day_bounds, last_days
from agent.engine import GroupView, SystemView
from agent.export import windows_json
from agent.ledger import Ledger, LedgerError, StoredWindow
from agent.model import State, WebConfig
from agent.report.source import (
    ALL_SITES,
    NoSuchSite,
    check_site,
    costed_windows,
    organisation_windows,
)
from agent.text import iso
from agent.web import availability as avail
from agent.web.listener import ConnectionSlots, connection_cap, start_bounded
from agent.web.security import BasicAuthGuard, configure_tls, server_context

AGENT_KEY: web.AppKey[Agent] = web.AppKey("agent", Agent)
CACHE_KEY: web.AppKey[avail.MinuteCache] = web.AppKey("availability_cache", avail.MinuteCache)
TLS_KEY: web.AppKey[ssl.SSLContext] = web.AppKey("tls", ssl.SSLContext)
SLOTS_KEY: web.AppKey[ConnectionSlots] = web.AppKey("connection_slots", ConnectionSlots)
# Bounds on what a client may send: a request line, one header, the number of headers. The
# API takes no bodies (client_max_size bounds one anyway).
LIMITS = {"max_line_size": 4096, "max_field_size": 8190, "max_headers": 64}
DEFAULT_LOOKBACK = 90 * 86400.0
DEFAULT_DAYS = 90
OUTAGE_STATES = ("down", "degraded", "maintenance")  # what /api/v1/outages lists
# The times the API takes: 1970 to 2100 (UTC). No outage lies outside, and a span of
# centuries would cost each request for the organisation's windows (site=all) seconds of work.
EARLIEST, LATEST = 0.0, 4102444800.0
NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
NAME = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)  # a system's name, as config requires
REFRESH_SECONDS = (1.0, 300.0)  # the status page's ?refresh=, as status.js clamps it

# Only what the page itself ships: no inline script or style, no third-party origin.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                ".svg": "image/svg+xml"}


class BadRequest(ValueError):
    """A query parameter the API cannot use; answered with 400 and a JSON error."""


def query_params(request: web.Request, allowed: Sequence[str]) -> dict[str, str]:
    """The query's parameters by name; raise BadRequest for an unknown or repeated one."""
    query = request.rel_url.query
    unknown = set(query) - set(allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    repeated = sorted(name for name in set(query) if len(query.getall(name)) > 1)
    if repeated:
        raise BadRequest(f"given more than once: {', '.join(repeated)}")
    return dict(query)


def parse_number(text: str, name: str, low: float, high: float) -> float:
    """A decimal number from `low` to `high`; raise BadRequest for anything else (nan, inf,
    1_000, non-ASCII digits...)."""
    value = float(text) if NUMBER.fullmatch(text) else math.nan
    if not low <= value <= high:  # false for nan
        raise BadRequest(f"{name}: a number from {low:g} to {high:g}, not {text!r}")
    return value


def parse_time(text: str, name: str) -> float:
    """Accept ISO 8601 (a naive time is UTC) or POSIX seconds, from 1970 to 2100; raise
    BadRequest otherwise."""
    if NUMBER.fullmatch(text):
        value = float(text)
    else:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            value = parsed.timestamp()
        except (ValueError, OverflowError) as exc:
            raise BadRequest(f"{name}: not an ISO 8601 time or POSIX seconds: {text!r}") from exc
    if not EARLIEST <= value <= LATEST:  # false for nan
        raise BadRequest(f"{name}: a time from {iso(EARLIEST)} to {iso(LATEST)}, not {text!r}")
    return value


def parse_name(text: str, name: str) -> str:
    """`text` if it can be a system's name; raise BadRequest otherwise."""
    if not NAME.fullmatch(text):
        raise BadRequest(f"{name}: not a system name ([A-Za-z0-9_.-]+): {text!r}")
    return text


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, indent=1), status=status,
                        content_type="application/json")


def error(status: int, message: str) -> web.Response:
    return json_response({"error": message, "status": status}, status=status)


def system_json(view: SystemView, agent: Agent) -> dict[str, Any]:
    system = agent.engine.lives[view.name].system
    window = view.window
    open_outage = None
    if window is not None:
        open_outage = {
            "state": window.state, "cause": window.cause, "start": iso(window.start),
            "duration_seconds": round(view.as_of - window.start, 3),
            "cost": round(window.amounts.cost, 2),
            "incident_start": iso(view.incident_start),
            "incident_cost": round(view.incident_cost, 2),
        }
    last = view.last_result
    return {
        "name": view.name, "description": system.description, "state": view.state.value,
        "cause": view.cause, "cost_per_hour": round(view.cost_per_hour, 2),
        "affected_users": round(view.affected_users, 1), "open_outage": open_outage,
        "cost_total": round(view.totals.cost, 2), "cost_today": round(view.cost_day, 2),
        "cost_month": round(view.cost_month, 2),
        "downtime_seconds_total": round(view.totals.downtime, 3),
        "incidents_total": view.incidents, "depends_on": list(system.depends_on),
        "owner": system.owner, "supplier": system.supplier, "tier": system.tier,
        "last_probe": None if last is None else {
            "at": iso(view.last_probe_at), "status": last.status.value,
            "latency_seconds": round(last.latency, 4), "reason": last.reason,
        },
    }


async def metrics(request: web.Request) -> web.Response:
    """The exposition; gzip-encoded when the scraper accepts it, as Prometheus does (at 10,000
    systems, 10.7 MB of text becomes 0.6 MB, in 80 ms that aiohttp spends in an executor)."""
    body = await request.app[AGENT_KEY].render_metrics()
    response = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                "Vary": "Accept-Encoding"})
    if gzip_accepted(request.headers.get("Accept-Encoding", "")):
        response.enable_compression(web.ContentCoding.gzip)
    return response


async def healthz(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    if not agent.ready:
        return error(503, "starting: ledger not open or counters not restored yet")
    if not agent.ledger.healthy:
        return json_response({"status": "degraded", "ledger": agent.ledger.last_error}, 503)
    return json_response({"status": "ok"})


async def systems(request: web.Request) -> web.Response:
    query_params(request, ())
    agent = request.app[AGENT_KEY]
    scrape = await agent.snapshot()
    return json_response([system_json(view, agent) for view in scrape.views])


def outage_query(request: web.Request, agent: Agent, now: float) -> tuple[
        float, float, str | None, str | None]:
    """from, to, system and site (None: the agent's own; a site of a shared ledger; "all");
    raise BadRequest for a bad one."""
    query = query_params(request, ("from", "to", "system", "site"))
    end = parse_time(query["to"], "to") if "to" in query else now
    start = parse_time(query["from"], "from") if "from" in query else end - DEFAULT_LOOKBACK
    if start >= end:
        raise BadRequest("from must be before to")
    site = query.get("site")
    if site == agent.config.agent.site:
        site = None
    system = parse_name(query["system"], "system") if "system" in query else None
    # another site may watch systems this agent does not
    if site is None and system is not None and system not in agent.engine.lives:
        raise BadRequest(f"system: no system named {system!r}")
    return start, end, system, site


def read_outages(agent: Agent, start: float, end: float, system: str | None,
                 site: str | None, now: float) -> list[StoredWindow]:
    """The windows /api/v1/outages lists: the agent's own site's, another site's of a shared
    ledger, or the organisation's (site=all: quorum windows, costed as `report --all-sites`
    costs them); raise BadRequest for a site the ledger has nothing of."""
    if site == ALL_SITES:
        found = organisation_windows(agent.config, agent.ledger, start, end, now)
        return [w for w in found if system in (None, w.record.system)]
    ledger = agent.ledger
    if site is not None:
        try:
            check_site(agent.ledger, site)
        except NoSuchSite as exc:
            raise BadRequest(f"site: {exc}") from exc
        ledger = agent.ledger.for_site(site)
    return [w for w in costed_windows(agent.config, ledger, start, end, now)
            if w.record.state in OUTAGE_STATES and system in (None, w.record.system)]


async def outages(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    now = time.time()
    start, end, system, site = outage_query(request, agent, now)
    await agent.snapshot()  # open windows' figures committed up to now
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, read_outages, agent, start, end, system, site, now)
    return json_response(windows_json(found, now))


async def summary(request: web.Request) -> web.Response:
    query_params(request, ())
    agent = request.app[AGENT_KEY]
    scrape = await agent.snapshot()
    return json_response(summary_json(agent, scrape.views, scrape.concurrent_users,
                                      agent.clock(), scrape.groups))


def summary_json(agent: Agent, views: list[SystemView], users: float,
                 now: float, groups: Sequence[GroupView] = ()) -> dict[str, Any]:
    """The estate at a glance: what the status page's header shows."""
    states = {state.value: 0 for state in State}
    for view in views:
        states[view.state.value] += 1
    return {
        "site": agent.config.agent.site, "currency": agent.config.cost.currency,
        "timezone": agent.config.cost.timezone, "generated_at": iso(now),
        "cost_per_hour": round(sum(v.cost_per_hour for v in views), 2),
        "cost_today": round(sum(v.cost_day for v in views), 2),
        "cost_month": round(sum(v.cost_month for v in views), 2),
        "concurrent_users": round(users, 1),
        # each person's lost time is charged once: affected users never exceed the users
        "affected_users": round(min(users, sum(v.affected_users for v in views)), 1),
        "systems_total": len(views), "systems_down": states[State.DOWN.value],
        "systems_by_state": states,
        "open_incidents": sum(1 for v in views if v.incident_start is not None),
        "ledger_ok": agent.ledger.healthy,
        "groups": [{"group": g.name, "concurrent_users": round(g.concurrent_users, 1),
                    "loss_ratio": round(g.loss_ratio, 6),
                    "cost_per_hour": round(g.cost_per_hour, 2),
                    "cost_total": round(g.cost_total, 2)} for g in groups],
    }


def availability_days(request: web.Request) -> int:
    """The `days` parameter (default 90, 1..366); raise BadRequest for anything else."""
    text = query_params(request, ("days",)).get("days", str(DEFAULT_DAYS))
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= avail.MAX_DAYS:
        raise BadRequest(f"days: a whole number from 1 to {avail.MAX_DAYS}, not {text!r}")
    return int(text)


def spans_by_system(ledger: Ledger, names: tuple[str, ...], start: float,
                    end: float) -> dict[str, list[avail.StateSpan]]:
    found = [w for w in ledger.windows(start, end, None, ("down", "degraded", *avail.EXCLUDED))
             if w.annotations.voided_reason is None]  # a voided false alarm was never down
    spans: dict[str, list[avail.StateSpan]] = {name: [] for name in names}
    for stored in found:
        w = stored.record
        if w.system in spans:
            spans[w.system].append(avail.StateSpan(w.state, w.start, w.end))
    return spans


def read_history(ledger: Ledger, names: tuple[str, ...], tz: ZoneInfo,
                 days: list[dt.date], now: float) -> avail.History:
    """The days before today: the expensive read, which the handler keeps for a minute."""
    first_seen = ledger.first_seen()
    if not days:
        return avail.History({name: [] for name in names}, first_seen)
    start, end = day_bounds(days[0], tz)[0], day_bounds(days[-1], tz)[1]
    spans = spans_by_system(ledger, names, start, end)
    return avail.History({name: avail.daily_availability(
        spans[name], days, tz, now, first_seen.get(name)) for name in names}, first_seen)


def read_availability(ledger: Ledger, names: tuple[str, ...], timezone: str,
                      calendar: list[dt.date], now: float,
                      history: avail.History | None) -> tuple[dict[str, Any], avail.History]:
    """Each system's availability on each day of `calendar` (ending today): today read
    afresh, so the bar agrees with the state shown; earlier days from `history` if given."""
    tz = ZoneInfo(timezone)
    if history is None:
        history = read_history(ledger, names, tz, calendar[:-1], now)
    today = calendar[-1]
    spans = spans_by_system(ledger, names, day_bounds(today, tz)[0], now)
    answer = {
        "timezone": timezone, "days": len(calendar), "from": calendar[0].isoformat(),
        "to": today.isoformat(), "generated_at": iso(now),
        "systems": [avail.system_json(name, [*history.days[name], *avail.daily_availability(
            spans[name], [today], tz, now, history.first_seen.get(name))]) for name in names],
    }
    return answer, history


async def availability(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    days = availability_days(request)
    names = tuple(system.name for system in agent.config.systems)
    timezone, now = agent.config.cost.timezone, agent.clock()
    calendar = last_days(now, days, ZoneInfo(timezone))
    key = (timezone, names, calendar[0], calendar[-1])
    cache = request.app[CACHE_KEY]
    cached = cache.get(key)
    kept = cached if isinstance(cached, avail.History) else None
    loop = asyncio.get_running_loop()
    try:
        answer, history = await loop.run_in_executor(
            None, read_availability, agent.ledger, names, timezone, calendar, now, kept)
    except LedgerError as exc:
        return error(503, f"ledger not readable: {exc}")
    if kept is None:
        cache.put(key, history)
    return json_response(answer)


def load_static() -> dict[str, tuple[bytes, str, str]]:
    """The status page's files from the package: name -> (body, content type, ETag)."""
    files = {}
    for entry in (resources.files("agent.web") / "static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in STATIC_TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            files[entry.name] = (body, STATIC_TYPES[suffix], etag)
    return files


def static_handler(files: dict[str, tuple[bytes, str, str]], name: str | None = None) -> Any:
    """A handler for one named file, or for /static/{name} when `name` is None. Revalidated
    on every load (no-cache), so an upgraded agent never serves a stale page."""
    async def handler(request: web.Request) -> web.StreamResponse:
        found = files.get(name or request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type, etag = found
        headers = {"Cache-Control": "no-cache", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        charset = None if content_type.startswith("image/") else "utf-8"
        return web.Response(body=body, content_type=content_type, charset=charset,
                            headers=headers)
    return handler


def status_page(files: dict[str, tuple[bytes, str, str]]) -> Any:
    """`/`: the page, once its one parameter (`refresh`, seconds between polls) is sound."""
    page = static_handler(files, "index.html")

    async def handler(request: web.Request) -> web.StreamResponse:
        refresh = request.rel_url.query.getall("refresh", [])
        if len(refresh) > 1:
            raise BadRequest("given more than once: refresh")
        for text in refresh:
            parse_number(text, "refresh", *REFRESH_SECONDS)
        return await page(request)
    return handler


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BadRequest as exc:
        return error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            return error(exc.status, exc.reason)
        raise
    except LedgerError as exc:  # history is unreadable for now; live figures still work
        return error(503, f"the ledger cannot be read right now: {exc}")


def users(agent: Agent) -> dict[str, str]:
    """Basic-auth users and their bcrypt hashes, from the running config (so SIGHUP applies)."""
    web_config = agent.config.agent.web_config
    return dict(web_config.users) if web_config else {}


def make_app(agent: Agent) -> web.Application:
    guard = BasicAuthGuard(lambda: users(agent))
    slots = ConnectionSlots(connection_cap())
    app = web.Application(middlewares=[slots.middleware, guard.middleware, json_errors],
                          client_max_size=4096, handler_args=LIMITS)
    app[AGENT_KEY] = agent
    app[SLOTS_KEY] = slots

    async def close_guard(app: web.Application) -> None:
        guard.close()

    app.on_cleanup.append(close_guard)
    app[CACHE_KEY] = avail.MinuteCache(agent.clock)
    app.on_response_prepare.append(security_headers)
    files = load_static()
    app.router.add_get("/", status_page(files))
    app.router.add_get("/favicon.ico", static_handler(files, "favicon.svg"))
    app.router.add_get("/static/{name}", static_handler(files))
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/systems", systems)
    app.router.add_get("/api/v1/outages", outages)
    app.router.add_get("/api/v1/summary", summary)
    app.router.add_get("/api/v1/availability", availability)
    return app


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9321' or '[::1]:9321' -> (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


async def serve(agent: Agent, listen: str) -> web.AppRunner:
    """Listen on `listen`, with TLS when agent.web_config has tls_server_config, within a
    connection cap and deadlines (see agent.web.listener)."""
    app = make_app(agent)
    web_config = agent.config.agent.web_config
    if web_config is not None and web_config.tls is not None:
        app[TLS_KEY] = server_context(web_config.tls)
    host, port = split_listen(listen)
    return await start_bounded(app, host or None, port, slots=app[SLOTS_KEY],
                               ssl_context=app.get(TLS_KEY))


def refresh_tls(runner: web.AppRunner, web_config: WebConfig | None) -> bool:
    """Load changed TLS files and settings (a renewed certificate) into the running server;
    return False if TLS would be switched on or off, which needs a restart. Raise
    ssl.SSLError or OSError if the files are no longer usable."""
    context = runner.app.get(TLS_KEY)
    tls = web_config.tls if web_config is not None else None
    if (context is None) != (tls is None):
        return False
    if context is not None and tls is not None:
        server_context(tls)  # raises if unusable, before the running context is touched
        configure_tls(context, tls)
    return True

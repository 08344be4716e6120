"""The read-only JSON API, /healthz and /metrics: every handler reads the engine's views or the
ledger, and nothing here writes or probes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import gzip_accepted

from agent.daemon import Agent
from agent.days import day_bounds, last_days
from agent.engine import GroupView, SystemView
from agent.export import windows_json
from agent.heartbeats import Beat
from agent.ledger import Ledger, LedgerError, StoredWindow
from agent.model import State, System
from agent.report.source import (
    ALL_SITES,
    NoSuchSite,
    check_site,
    costed_windows,
    organisation_windows,
)
from agent.services import ServiceSpec, rule_text
from agent.text import iso
from agent.web import availability as avail
from agent.web import pages
from agent.web.query import BadRequest, parse_name, parse_time, query_params

AGENT_KEY: web.AppKey[Agent] = web.AppKey("agent", Agent)
CACHE_KEY: web.AppKey[avail.MinuteCache] = web.AppKey("availability_cache", avail.MinuteCache)
DEFAULT_LOOKBACK = 90 * 86400.0
DEFAULT_DAYS = 90
OUTAGE_STATES = ("down", "degraded", "maintenance")  # what /api/v1/outages lists


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
        "heartbeat": heartbeat_json(agent.pushes.beats.get(view.name)),
        "service": service_json(system),
    }


def service_json(system: System) -> dict[str, Any] | None:
    """A service's members and rules (docs/services.md); None for a probed system."""
    spec = system.check.spec
    if not isinstance(spec, ServiceSpec):
        return None
    count = len(spec.members)
    return {"members": list(spec.members), "down_when": rule_text(spec.down_when, count),
            "degraded_when": rule_text(spec.degraded_when, count)}


def heartbeat_json(beat: Beat | None) -> dict[str, Any] | None:
    """A heartbeat system's job as the status page shows it ("last run"); None for others."""
    if beat is None:
        return None
    return {"last_ping": iso(beat.last_ping), "last_kind": beat.last_kind or None,
            "last_success": iso(beat.last_success), "due": iso(beat.due),
            "last_duration_seconds": None if beat.duration is None else round(beat.duration, 3),
            "running_since": iso(beat.started)}


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
        body = {"status": "degraded", "ledger": agent.ledger.last_error}
        if agent.ledger.journal_error:  # held in memory only: counters served as last safe
            body["journal"] = agent.ledger.journal_error
        return json_response(body, 503)
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
    query = query_params(request, ("from", "to", "system", "site", "limit", "cursor"))
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
    query = request.rel_url.query
    if "limit" in query:
        return await outages_page(request, agent, (start, end, system, site), now)
    if "cursor" in query:
        raise BadRequest("cursor: only with limit")
    await agent.snapshot()  # open windows' figures committed up to now
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, read_outages, agent, start, end, system, site, now)
    return json_response(windows_json(found, now))


OutageQuery = tuple[float, float, str | None, str | None]  # from, to, system, site


async def outages_page(request: web.Request, agent: Agent, asked: OutageQuery,
                       now: float) -> web.Response:
    """A page of the list, the next page's cursor in a Link header. The whole list, costed
    and rounded as without `limit` (so the pages add up to it), is kept for the rest of the
    minute: the later pages of a year come from it rather than costing the year again."""
    query = request.rel_url.query
    limit = pages.parse_limit(query["limit"])
    after = pages.parse_cursor(query["cursor"]) if "cursor" in query else None
    # Keyed by the query as given, so the pages of one without `to` (to now) share an answer.
    key = ("outages", *sorted((k, v) for k, v in query.items() if k not in ("limit", "cursor")))
    cache = request.app[CACHE_KEY]
    listed = cache.get(key)
    if not isinstance(listed, Listed):
        await agent.snapshot()
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, read_outages, agent, *asked, now)
        listed = Listed.of(found, now)
        cache.put(key, listed)
    rows, cursor = pages.page(listed.rows, listed.places, after, limit)
    response = json_response(rows)
    if cursor is not None:
        response.headers["Link"] = f'<{request.rel_url.update_query(cursor=cursor)}>; rel="next"'
    return response


@dataclass(frozen=True)
class Listed:
    """The whole list of one query, in order, with each row's place for the cursors."""

    rows: list[dict[str, Any]]
    places: list[pages.Place]

    @classmethod
    def of(cls, found: list[StoredWindow], now: float) -> Listed:
        ordered = sorted(zip(windows_json(found, now), found, strict=True),
                         key=lambda pair: (pair[1].record.start, pair[1].id))
        return cls([row for row, _ in ordered], [(w.record.start, w.id) for _, w in ordered])


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
            spans[w.system].append(avail.StateSpan(w.state, w.start, w.end,
                                                   imported=w.source == "imported"))
    return spans


def read_history(ledger: Ledger, names: tuple[str, ...], tz: ZoneInfo,
                 days: list[dt.date], now: float) -> avail.History:
    """The days before today: the expensive read, which the handler keeps for a minute."""
    first_seen = ledger.first_seen(imported=False)  # an import is not time watched
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
    # Without indentation: the C encoder writes 10,000 systems' 90 days (900,000 objects)
    # several times faster than the indenting one, and the page does not read whitespace.
    return web.Response(text=json.dumps(answer), content_type="application/json")

"""The agent's HTTP surface: /metrics, /healthz and the read-only JSON API.

Nothing here writes or probes: every handler reads the engine's views or the ledger, so the
API cannot be used to reach arbitrary addresses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from agent.daemon import Agent
from agent.engine import SystemView
from agent.ledger import StoredWindow
from agent.text import iso

AGENT_KEY: web.AppKey[Agent] = web.AppKey("agent", Agent)
DEFAULT_LOOKBACK = 90 * 86400.0


class BadRequest(ValueError):
    """A query parameter the API cannot use; answered with 400 and a JSON error."""


def parse_time(text: str, name: str) -> float:
    """Accept ISO 8601 (a naive time is UTC) or POSIX seconds; raise BadRequest otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name}: not an ISO 8601 time or POSIX seconds: {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


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


def outage_json(stored: StoredWindow, now: float) -> dict[str, Any]:
    w = stored.record
    end = w.end if w.end is not None else now
    uncertainty = (w.start - w.before_start if w.before_start is not None else 0.0) + (
        (w.end - w.before_end) if w.end is not None and w.before_end is not None else 0.0)
    return {
        "id": stored.id, "system": w.system, "state": w.state, "cause": w.cause,
        "start": iso(w.start), "end": iso(w.end), "duration_seconds": round(end - w.start, 3),
        "cost": round(w.amounts.cost, 2), "staff_cost": round(w.amounts.staff, 2),
        "direct_cost": round(w.amounts.direct, 2),
        "downtime_seconds": round(w.amounts.downtime, 3),
        "uncertainty_seconds": round(uncertainty, 3), "source": w.source, "reason": w.reason,
    }


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[AGENT_KEY].render_metrics()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    if not agent.ready:
        return error(503, "starting: ledger not open or counters not restored yet")
    if not agent.ledger.healthy:
        return json_response({"status": "degraded", "ledger": agent.ledger.last_error}, 503)
    return json_response({"status": "ok"})


async def systems(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    scrape = await agent.snapshot()
    return json_response([system_json(view, agent) for view in scrape.views])


def outage_query(request: web.Request, agent: Agent, now: float) -> tuple[float, float,
                                                                             str | None]:
    query = request.rel_url.query
    unknown = set(query) - {"from", "to", "system"}
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    end = parse_time(query["to"], "to") if "to" in query else now
    start = parse_time(query["from"], "from") if "from" in query else end - DEFAULT_LOOKBACK
    if start >= end:
        raise BadRequest("from must be before to")
    system = query.get("system")
    if system is not None and system not in agent.engine.lives:
        raise BadRequest(f"system: no system named {system!r}")
    return start, end, system


async def outages(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    now = time.time()
    try:
        start, end, system = outage_query(request, agent, now)
    except BadRequest as exc:
        return error(400, str(exc))
    await agent.snapshot()  # open windows' figures committed up to now
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(
        None, lambda: agent.ledger.windows(start, end, system,
                                           ("down", "degraded", "maintenance")))
    return json_response([outage_json(w, now) for w in found])


async def index(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    rows = "".join(
        f"<li><b>{v.name}</b>: {v.state.value}"
        f"{' (cause: ' + v.cause + ')' if v.cause else ''}</li>" for v in agent.views()
    )
    html = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Outage Cost Agent</title>"
        f"<h1>Outage Cost Agent</h1><ul>{rows}</ul><p><a href=/metrics>/metrics</a> · "
        "<a href=/api/v1/systems>/api/v1/systems</a> · "
        "<a href=/api/v1/outages>/api/v1/outages</a> · <a href=/healthz>/healthz</a></p>"
    )
    return web.Response(text=html, content_type="text/html")


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            return error(exc.status, exc.reason)
        raise


def make_app(agent: Agent) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=4096)
    app[AGENT_KEY] = agent
    app.router.add_get("/", index)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/systems", systems)
    app.router.add_get("/api/v1/outages", outages)
    return app


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9321' or '[::1]:9321' -> (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


async def serve(agent: Agent, listen: str) -> web.AppRunner:
    runner = web.AppRunner(make_app(agent), access_log=None)
    await runner.setup()
    host, port = split_listen(listen)
    site = web.TCPSite(runner, host or None, port, reuse_address=True)
    await site.start()
    return runner

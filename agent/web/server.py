"""The agent's HTTP surface, wired together: the status page (`page`), /metrics, /healthz and
the read-only JSON API (`api`), behind a connection cap, basic auth and security headers, and
served with TLS when it is configured.

Nothing here writes or probes: every handler reads the engine's views or the ledger, so the
API cannot be used to reach arbitrary addresses.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiohttp import web

from agent.daemon import Agent
from agent.ledger import LedgerError
from agent.model import WebConfig
from agent.web import api, ping
from agent.web import availability as avail
from agent.web.api import AGENT_KEY, CACHE_KEY, error
from agent.web.listener import ConnectionSlots, connection_cap, start_bounded
from agent.web.page import load_static, static_handler, status_page
from agent.web.query import BadRequest
from agent.web.security import BasicAuthGuard, configure_tls, server_context

TLS_KEY: web.AppKey[ssl.SSLContext] = web.AppKey("tls", ssl.SSLContext)
SLOTS_KEY: web.AppKey[ConnectionSlots] = web.AppKey("connection_slots", ConnectionSlots)
# Bounds on what a client may send: a request line, one header, the number of headers. The
# API takes no bodies (client_max_size bounds one anyway).
LIMITS = {"max_line_size": 4096, "max_field_size": 8190, "max_headers": 64}

# Only what the page itself ships: no inline script or style, no third-party origin.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


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
    app.router.add_get("/metrics", api.metrics)
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/api/v1/systems", api.systems)
    app.router.add_get("/api/v1/outages", api.outages)
    app.router.add_get("/api/v1/summary", api.summary)
    app.router.add_get("/api/v1/availability", api.availability)
    ping.add_routes(app)  # the one route that takes POST and no basic auth: see its module
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

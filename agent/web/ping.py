"""`/ping/<token>[/start|/fail|/<exit status>]`: a heartbeat system's job reporting in.

The one exception to the read-only HTTP surface (docs/heartbeats.md): it takes GET, HEAD or POST,
needs no basic auth (the token is the credential; a job cannot carry the web_config password)
and keeps the first BODY_LIMIT bytes of a POST body, redacted, as the evidence of its run.
"""

from __future__ import annotations

from aiohttp import web

from agent.web.api import AGENT_KEY

PREFIX = "/ping/"
BODY_LIMIT = 10 * 1024


async def ping(request: web.Request) -> web.Response:
    """Answer 200 `OK` for a ping counted; 404 for a token of no system here, saying where
    it belongs; 429 past the rate limit; 400 for a path that is no ping."""
    body = await _first_bytes(request) if request.method == "POST" else ""
    kind = request.match_info.get("kind")  # None: /ping/<token>; "" after a trailing slash
    word = "" if kind is None else kind or "/"  # which is no ping: 400, as any other path
    status, text = await request.app[AGENT_KEY].heartbeats.receive(
        request.match_info["token"], word, body)
    headers = {"Retry-After": "1"} if status == 429 else None
    return web.Response(status=status, text=text, headers=headers)


async def _first_bytes(request: web.Request) -> str:
    """The first BODY_LIMIT bytes of the body as text; the rest is never read."""
    chunks: list[bytes] = []
    size = 0
    while size < BODY_LIMIT and request.can_read_body:
        chunk = await request.content.read(BODY_LIMIT - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def add_routes(app: web.Application) -> None:
    for path in (PREFIX + "{token}", PREFIX + "{token}/{kind:.*}"):
        app.router.add_get(path, ping)  # and HEAD, as every other route
        app.router.add_post(path, ping)

"""The status page: static files shipped in the package (no CDN, no external fonts) that poll
the JSON API, each with an ETag and revalidated on every load."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from aiohttp import web

from agent.web.query import BadRequest, parse_number

STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                ".svg": "image/svg+xml"}
REFRESH_SECONDS = (1.0, 300.0)  # the status page's ?refresh=, as status.js clamps it


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

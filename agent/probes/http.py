"""The http probe type: its spec and config keys, and the probe, which fetches a URL and checks
the status, the body and the TLS certificate.

A plain-http URL without a proxy or credentials goes through `agent.probes.wire`: the same
request on the wire for less CPU, read by the same parser (llhttp) with the same settings.
Everything else goes through aiohttp's shared sessions (`http_client`), their host names
resolved by c-ares (aiohttp's AsyncResolver), never by the loop's small getaddrinfo thread
pool. Both paths' answers are judged by the same rules (`http_verdict`). Redirects are followed
here, one request at a time, whichever path sends each one (see `http_verdict.redirected` for
what a redirect to another origin drops).
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.http_exceptions import PayloadEncodingError

from agent.config.addresses import has_credentials
from agent.config.probes import http_url, ip_version, one_or_more, read_headers
from agent.config.values import (
    boolean,
    existing_file,
    integer,
    positive_duration,
    string,
    validated,
)
from agent.model import ProbeResult, Status
from agent.probes import wire
from agent.probes.base import ProbeType
from agent.probes.dns import FAMILIES
from agent.probes.http_client import (
    BODY_LIMIT,
    USER_AGENT,
    HttpClients,
    error_reason,
    read_limited,
    session_key,
)
from agent.probes.http_verdict import (
    Redirect,
    expiry_reason,
    judge,
    redirect_to,
    redirected,
    status_reason,
    wants_body,
)
from agent.probes.tcp import connect_reason

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.probes import Resources

# Imported from here by the prober (HttpClients) and the tests, though they live in the two
# modules that do the work.
__all__ = ["BODY_LIMIT", "TYPE", "USER_AGENT", "HttpClients", "HttpProbe", "Redirect",
           "expiry_reason", "probe", "probe_aiohttp", "redirected", "session_key",
           "status_reason"]


@dataclass(frozen=True)
class HttpProbe:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None  # request body, e.g. for a POST health check
    expect_status: tuple[int, ...] = ()  # empty: any 2xx or 3xx after redirects
    body_contains: str | None = None
    body_regex: str | None = None
    tls_verify: bool = True
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    proxy: str | None = None
    ip_version: int | None = None  # 4, 6 or None for either
    follow_redirects: bool = True
    max_redirects: int = 10
    # Up but degraded while the certificate expires sooner than this (seconds); None: off.
    tls_expiry_degraded: float | None = None
    type: str = "http"


def _method(ctx: Context, node: Node) -> str | None:
    text = string(ctx, node)
    if text is not None and not re.fullmatch(r"[A-Za-z]+", text):
        ctx.bad(node, "not an HTTP method (e.g. GET, HEAD, POST)")
        return None
    return text.upper() if text is not None else None


def _statuses(ctx: Context, node: Node) -> tuple[int, ...] | None:
    return one_or_more(ctx, node, lambda c, n: integer(c, n, 100, 599))


def _regex_error(text: str) -> str | None:
    try:
        re.compile(text)
    except (re.error, OverflowError, RecursionError) as err:
        return f"not a valid regular expression: {err}"
    return None


def _check_keys(ctx: Context, fields: dict[str, Node], values: dict[str, Any]) -> None:
    """What one key says about another: a key needs its certificate, an expiry needs TLS, and
    credentials come from the URL or an Authorization header, not both."""
    if "client_key" in fields and "client_cert" not in fields:
        ctx.bad(fields["client_key"], "client_key needs client_cert")
    target = values.get("url")
    if "tls_expiry_degraded" in fields and target and not target.lower().startswith("https:"):
        ctx.bad(fields["tls_expiry_degraded"], "needs an https:// url: there is no certificate")
    names = [name for name, _ in values.get("headers", ()) if name.lower() == "authorization"]
    if names and target and has_credentials(target):
        ctx.bad(fields["headers"].value[names[0]], "the url's user:password@ is sent as an "
                "Authorization header of its own: give one or the other")


async def probe(spec: HttpProbe, timeout: float, resources: Resources) -> ProbeResult:
    """Request the URL, following redirects; a status, body or connection problem is a down
    result. Plain http goes through the lean exchange (agent.probes.wire), the rest through
    aiohttp."""
    return await _follow(spec, timeout, resources, lean=True)


async def probe_aiohttp(spec: HttpProbe, timeout: float, resources: Resources) -> ProbeResult:
    """`probe` with every request sent by aiohttp: the reference the lean exchange is held
    to (tests/probes/test_http_corpus.py)."""
    return await _follow(spec, timeout, resources, lean=False)


async def _follow(spec: HttpProbe, timeout: float, resources: Resources,
                  lean: bool) -> ProbeResult:
    """Send the probe's request and follow at most `max_redirects` redirects, one request
    at a time, so both paths follow them by the same rules."""
    try:
        async with asyncio.timeout(timeout):
            for _ in range(spec.max_redirects + 1):
                request = wire.lean_request(spec, USER_AGENT) if lean else None
                if request is not None:
                    answer = await request_wire(spec, request, resources)
                else:
                    answer = await request_aiohttp(spec, timeout, resources)
                if isinstance(answer, ProbeResult):
                    return answer
                following = redirected(spec, answer)
                if following is None:
                    return ProbeResult(Status.DOWN, 0.0, "invalid URL")
                spec = following
    except TimeoutError:
        return ProbeResult(Status.DOWN, 0.0, f"timeout after {timeout:g}s")
    return ProbeResult(Status.DOWN, 0.0, "too many redirects")


async def request_wire(spec: HttpProbe, request: wire.Request,
                       resources: Resources) -> ProbeResult | Redirect:
    """One request through the lean exchange: the verdict, or the redirect to follow."""
    def want_body(status: int, headers: Mapping[str, str]) -> bool:
        return wants_body(spec, status, headers.get("location"))

    try:
        response = await wire.exchange(
            request, FAMILIES.get(spec.ip_version, socket.AF_UNSPEC),
            resources.resolver, want_body, BODY_LIMIT)
    except wire.DNSFailure as exc:
        return ProbeResult(Status.DOWN, 0.0, f"DNS: {exc.strerror or 'lookup failed'}")
    except OSError as exc:
        return ProbeResult(Status.DOWN, 0.0, connect_reason(exc))
    except wire.Disconnected:
        return ProbeResult(Status.DOWN, 0.0, "server disconnected")
    except wire.BadResponse:
        return ProbeResult(Status.DOWN, 0.0, "bad response")
    except wire.BadBody:
        return ProbeResult(Status.DOWN, 0.0, "bad response body")
    headers = response.headers
    redirect = redirect_to(spec, response.status, headers.get("location"))
    return redirect or judge(spec, response.status, headers.get("content-type"), response.body)


async def request_aiohttp(spec: HttpProbe, timeout: float,
                          resources: Resources) -> ProbeResult | Redirect:
    """One request through aiohttp (https, proxies, credentials in the URL): the verdict,
    or the redirect to follow."""
    try:
        session = resources.http.session(spec)
    except (OSError, ssl.SSLError) as exc:  # ca_file / client_cert missing or unreadable
        return ProbeResult(Status.DOWN, 0.0, f"TLS setup: {exc.strerror or exc}")
    try:
        async with session.request(
            spec.method.upper(),
            spec.url,
            headers=spec.headers,
            data=spec.body,
            allow_redirects=False,  # followed by _follow, by the same rules as the wire's
            proxy=spec.proxy,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            status, location = response.status, response.headers.get("Location")
            redirect = redirect_to(spec, status, location)
            if redirect is not None:
                return redirect
            body = None
            if wants_body(spec, status, location):
                body = await read_limited(response.content)
            return judge(spec, status, response.headers.get("Content-Type"), body,
                         getattr(response, "tls_not_after", None))
    except TimeoutError:
        return ProbeResult(Status.DOWN, 0.0, f"timeout after {timeout:g}s")
    except (aiohttp.ClientError, PayloadEncodingError, ValueError) as exc:
        return ProbeResult(Status.DOWN, 0.0, error_reason(exc))


TYPE = ProbeType(
    "http", HttpProbe, ("url",),
    {
        "url": http_url,
        "method": _method,
        "headers": read_headers,
        "body": string,
        "expect_status": _statuses,
        "body_contains": string,
        "body_regex": validated(string, _regex_error),
        "tls_verify": boolean,
        "ca_file": existing_file,
        "client_cert": existing_file,
        "client_key": existing_file,
        "proxy": http_url,
        "ip_version": ip_version,
        "follow_redirects": boolean,
        "max_redirects": lambda ctx, node: integer(ctx, node, 0, 30),
        "tls_expiry_degraded": positive_duration,
    },
    probe,
    _check_keys,
)

"""Fetch a URL with aiohttp and check the status, the body and the TLS certificate.

Every probe opens a fresh connection (force_close), as a monitor should, but sessions are
shared: one per distinct TLS / address-family configuration, because building a session and
its SSL context per probe costs far more CPU than the probe itself. Host names are resolved
by c-ares (aiohttp's AsyncResolver), never by the loop's small getaddrinfo thread pool.

A plain-http URL without a proxy or credentials goes through `agent.probes.wire` instead:
the same request on the wire for a third of the CPU (see there), judged by the same rules.
"""

from __future__ import annotations

import asyncio
import codecs
import dataclasses
import re
import socket
import ssl
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from cryptography import x509
from yarl import URL

from agent import __version__
from agent.model import HttpProbe, ProbeResult, Status
from agent.probes import wire
from agent.probes.dns import FAMILIES
from agent.probes.tcp import connect_reason

if TYPE_CHECKING:
    from agent.probes import Resources

BODY_LIMIT = 1024 * 1024  # bytes of body read for body_contains / body_regex
USER_AGENT = f"outage-cost-agent/{__version__}"

SessionKey = tuple[bool, str | None, str | None, str | None, int | None]


def session_key(spec: HttpProbe) -> SessionKey:
    """The settings that need their own session: TLS trust, client certificate, family."""
    return (spec.tls_verify, spec.ca_file, spec.client_cert, spec.client_key, spec.ip_version)


def ssl_context(spec: HttpProbe) -> ssl.SSLContext:
    """Given the probe's TLS settings, return the context its session connects with.

    With `ca_file`, only that CA is trusted (an internal CA), not the system store.
    """
    context = ssl.create_default_context(cafile=spec.ca_file)
    if not spec.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if spec.client_cert:
        context.load_cert_chain(spec.client_cert, spec.client_key)
    return context


class HttpClients:
    """The shared ClientSessions, created on first use per SessionKey and closed together."""

    def __init__(self, resolver: AbstractResolver) -> None:
        self._resolver = resolver
        self._sessions: dict[SessionKey, aiohttp.ClientSession] = {}

    def session(self, spec: HttpProbe) -> aiohttp.ClientSession:
        key = session_key(spec)
        if key not in self._sessions:
            self._sessions[key] = self._new_session(spec)
        return self._sessions[key]

    def _new_session(self, spec: HttpProbe) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=ssl_context(spec),
            family=FAMILIES.get(spec.ip_version, socket.AF_UNSPEC),
            resolver=self._resolver,
            force_close=True,
            limit=0,  # probes are bounded by the scheduler, not queued behind a pool
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # a proxy is configured per probe, never taken from the environment
            response_class=CertResponse,
        )

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


async def read_limited(content: aiohttp.StreamReader, limit: int = BODY_LIMIT) -> bytes:
    """Read at most `limit` bytes of a body, stopping early at its end."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await content.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(codecs.lookup(charset or "utf-8").name, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def status_reason(status: int, expect: tuple[int, ...]) -> str:
    """Return "" if the status is acceptable, else a reason like "HTTP 503 (expected 200)"."""
    if expect:
        shown = ", ".join(str(code) for code in expect)
        return "" if status in expect else f"HTTP {status} (expected {shown})"
    return "" if status < 400 else f"HTTP {status}"


def body_reason(text: str, spec: HttpProbe) -> str:
    """Return "" if the body matches `body_contains` and `body_regex`, else why not."""
    if spec.body_contains is not None and spec.body_contains not in text:
        return f"body does not contain {spec.body_contains!r}"
    if spec.body_regex is not None and not re.search(spec.body_regex, text):
        return f"body does not match {spec.body_regex!r}"
    return ""


def tls_not_after(ssl_object: ssl.SSLObject | None) -> float | None:
    """The peer certificate's expiry (POSIX seconds), or None without TLS.

    Read from the DER form, which the ssl module gives whether or not the certificate was
    verified, so probes with `tls_verify: false` report the expiry too (blackbox-style).
    """
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    except ValueError:  # a certificate cryptography cannot parse: no fact, not a failure
        return None


def expiry_reason(not_after: float, now: float, within: float) -> str:
    """Return "" if the certificate is valid for `within` seconds or more from `now`, else
    why the probe is degraded: "certificate expires in 9 days" (or "expired 2 days ago",
    only possible without verification)."""
    left = not_after - now
    if left >= within:
        return ""
    days = int(abs(left) // 86400)
    unit = "day" if days == 1 else "days"
    if left < 0:
        return f"certificate expired {days} {unit} ago"
    return f"certificate expires in {days} {unit}"


class CertResponse(aiohttp.ClientResponse):
    """A response that notes the peer certificate's expiry while its connection is open.

    A small body arrives with the headers and aiohttp releases (with force_close: closes)
    the connection at once, so by the time the probe looks, the TLS object is gone.
    """

    tls_not_after: float | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            self.tls_not_after = tls_not_after(transport.get_extra_info("ssl_object"))
        return await super().start(connection)


async def check_response(response: aiohttp.ClientResponse, spec: HttpProbe) -> ProbeResult:
    not_after = getattr(response, "tls_not_after", None)
    facts = (("tls_not_after", not_after),) if not_after is not None else ()
    reason = status_reason(response.status, spec.expect_status)
    if not reason and _checks_body(spec):
        text = decode(await read_limited(response.content), response.charset)
        reason = body_reason(text, spec)
    if reason:
        return ProbeResult(Status.DOWN, 0.0, reason, facts)
    if not_after is not None and spec.tls_expiry_degraded is not None:
        reason = expiry_reason(not_after, time.time(), spec.tls_expiry_degraded)
    return ProbeResult(Status.DEGRADED if reason else Status.UP, 0.0, reason, facts)


def _tls_reason(exc: aiohttp.ClientConnectorCertificateError) -> str:
    error = exc.certificate_error
    detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or error
    return f"TLS: certificate verify failed: {detail}"


def _ssl_reason(exc: aiohttp.ClientSSLError) -> str:
    error = exc.os_error
    return f"TLS: {getattr(error, 'reason', None) or error}"


def error_reason(exc: Exception) -> str:
    """Given a failed request, return a short reason; never the URL, it may hold credentials.

    Subclasses come before their bases: a certificate error is also a connector error.
    """
    match exc:
        case aiohttp.TooManyRedirects():
            return "too many redirects"
        case aiohttp.ClientHttpProxyError():
            return f"proxy: HTTP {exc.status}"
        case aiohttp.ClientConnectorCertificateError():
            return _tls_reason(exc)
        case aiohttp.ClientSSLError():
            return _ssl_reason(exc)
        case aiohttp.ClientProxyConnectionError():
            return f"proxy: {connect_reason(exc.os_error)}"
        case aiohttp.ClientConnectorDNSError():
            return f"DNS: {exc.os_error.strerror or 'lookup failed'}"
        case aiohttp.ClientConnectorError():
            return connect_reason(exc.os_error)
        case aiohttp.ServerDisconnectedError():
            return "server disconnected"
        case aiohttp.ClientPayloadError():
            return "bad response body"
        case aiohttp.ClientResponseError():
            return "bad response"
        case aiohttp.InvalidURL() | aiohttp.NonHttpUrlClientError():  # also in a redirect
            return "invalid URL"
        case aiohttp.ClientOSError():
            return connect_reason(exc)
    return type(exc).__name__


def _checks_body(spec: HttpProbe) -> bool:
    return spec.body_contains is not None or spec.body_regex is not None


async def probe_wire(
    spec: HttpProbe, request: wire.Request, timeout: float, resources: Resources
) -> ProbeResult:
    """`probe` through the lean exchange; raise wire.Redirect for aiohttp to follow one."""
    def want_body(status: int) -> bool:
        return _checks_body(spec) and not status_reason(status, spec.expect_status)

    try:
        async with asyncio.timeout(timeout):
            response = await wire.exchange(
                request, spec.method, FAMILIES.get(spec.ip_version, socket.AF_UNSPEC),
                resources.resolver, want_body, BODY_LIMIT, spec.follow_redirects)
    except TimeoutError:
        return ProbeResult(Status.DOWN, 0.0, f"timeout after {timeout:g}s")
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
    reason = status_reason(response.status, spec.expect_status)
    if not reason and response.body is not None:
        reason = body_reason(decode(response.body, response.charset), spec)
    return ProbeResult(Status.DOWN if reason else Status.UP, 0.0, reason)


async def probe(spec: HttpProbe, timeout: float, resources: Resources) -> ProbeResult:
    """Request the URL once; a status, body or connection problem is a down result."""
    request = wire.lean_request(spec, USER_AGENT)
    if request is not None:
        try:
            return await probe_wire(spec, request, timeout, resources)
        except wire.Redirect as redirect:
            if spec.max_redirects < 1:
                return ProbeResult(Status.DOWN, 0.0, "too many redirects")
            following = redirected(spec, redirect)
            if following is None:
                return ProbeResult(Status.DOWN, 0.0, "invalid URL")
            spec = following
    return await probe_aiohttp(spec, timeout, resources)


def redirected(spec: HttpProbe, redirect: wire.Redirect) -> HttpProbe | None:
    """The rest of the probe after a redirect, as aiohttp would go on: to the Location, with
    one redirect fewer allowed; a 303 (or a 301/302 answering a POST) becomes a GET without
    the body; an Authorization header is not sent to another origin. None if the Location
    is not an http(s) URL (aiohttp: an invalid URL)."""
    url = URL(spec.url)
    try:
        target = url.join(URL(redirect.location))
    except ValueError:
        return None
    if target.scheme not in ("http", "https") or not target.host:
        return None
    method, body = spec.method.upper(), spec.body
    if (redirect.status == 303 and method != "HEAD") or (
            redirect.status in (301, 302) and method == "POST"):
        method, body = "GET", None
    headers = spec.headers
    if target.origin() != url.origin():
        headers = tuple((k, v) for k, v in headers if k.lower() != "authorization")
    return dataclasses.replace(spec, url=str(target), method=method, body=body,
                               headers=headers, max_redirects=spec.max_redirects - 1)


async def probe_aiohttp(spec: HttpProbe, timeout: float, resources: Resources) -> ProbeResult:
    """`probe` through aiohttp: https, proxies, credentials in the URL, redirects."""
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
            allow_redirects=spec.follow_redirects,
            max_redirects=spec.max_redirects + 1,  # aiohttp counts the last request too
            proxy=spec.proxy,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return await check_response(response, spec)
    except TimeoutError:
        return ProbeResult(Status.DOWN, 0.0, f"timeout after {timeout:g}s")
    except (aiohttp.ClientError, ValueError) as exc:
        return ProbeResult(Status.DOWN, 0.0, error_reason(exc))

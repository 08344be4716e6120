"""Fetch a URL with aiohttp and check the status, the body and the TLS certificate.

Every probe opens a fresh connection (force_close), as a monitor should, but sessions are
shared: one per distinct TLS / address-family configuration, because building a session and
its SSL context per probe costs far more CPU than the probe itself. Host names are resolved
by c-ares (aiohttp's AsyncResolver), never by the loop's small getaddrinfo thread pool.

A plain-http URL without a proxy or credentials goes through `agent.probes.wire` instead:
the same request on the wire for less CPU, read by the same parser (llhttp) with the same
settings, and judged by the same rules. Redirects are followed here, one request at a time,
whichever path sends each one (see `redirected` for what a redirect to another origin drops).
"""

from __future__ import annotations

import asyncio
import codecs
import dataclasses
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from aiohttp.http_exceptions import PayloadEncodingError
from cryptography import x509
from yarl import URL

from agent import __version__
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
from agent.probes.tcp import connect_reason

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.probes import Resources

BODY_LIMIT = 1024 * 1024  # bytes of body read for body_contains / body_regex
USER_AGENT = f"outage-cost-agent/{__version__}"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s\";]+)", re.IGNORECASE)

SessionKey = tuple[bool, str | None, str | None, str | None, int | None]


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
            # the wire's Accept-Encoding, not aiohttp's (it grows with optional packages)
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": wire.ACCEPT_ENCODING},
            trust_env=False,  # a proxy is configured per probe, never taken from the environment
            response_class=CertResponse,
            max_line_size=wire.MAX_FIELD,  # aiohttp's defaults, which the wire keeps to
            max_field_size=wire.MAX_FIELD,
            max_headers=wire.MAX_HEADERS,
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


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it has one."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


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
        # a body read raises PayloadEncodingError itself with aiohttp's pure-Python parser
        case aiohttp.ClientPayloadError() | PayloadEncodingError():
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


@dataclass(frozen=True)
class Redirect:
    """An answer that sends the probe on: its status and Location."""

    status: int
    location: str


def redirect_to(spec: HttpProbe, status: int, location: str | None) -> Redirect | None:
    """The redirect to follow, or None if the answer is the one to judge."""
    if spec.follow_redirects and status in REDIRECTS and location:
        return Redirect(status, location)
    return None


def wants_body(spec: HttpProbe, status: int, location: str | None) -> bool:
    """Whether the body decides the verdict: it is checked, the status passes, and the
    answer is not a redirect to follow."""
    return (_checks_body(spec) and not status_reason(status, spec.expect_status)
            and redirect_to(spec, status, location) is None)


def judge(spec: HttpProbe, status: int, content_type: str | None, body: bytes | None,
          not_after: float | None = None) -> ProbeResult:
    """Given a final answer (its body only if `wants_body`, and the certificate's expiry
    over TLS), return the verdict."""
    facts = (("tls_not_after", not_after),) if not_after is not None else ()
    reason = status_reason(status, spec.expect_status)
    if not reason and body is not None:
        reason = body_reason(decode(body, charset(content_type)), spec)
    if reason:
        return ProbeResult(Status.DOWN, 0.0, reason, facts)
    if not_after is not None and spec.tls_expiry_degraded is not None:
        reason = expiry_reason(not_after, time.time(), spec.tls_expiry_degraded)
    return ProbeResult(Status.DEGRADED if reason else Status.UP, 0.0, reason, facts)


def redirected(spec: HttpProbe, redirect: Redirect) -> HttpProbe | None:
    """The probe's next request after a redirect: to the Location; a 303 (or a 301/302
    answering a POST) becomes a GET without the body. To another origin (scheme, host or
    port) no header the config sets goes along: not Authorization, Cookie or
    Proxy-Authorization, nor an API key or token; nor do credentials in the URL. None if the
    Location is not an http(s) URL (aiohttp: an invalid URL)."""
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
    if _origin(target) != _origin(url):
        headers = ()
    elif url.user is not None and target.user is None:  # as aiohttp keeps its auth
        target = target.with_user(url.user).with_password(url.password)
    return dataclasses.replace(spec, url=str(target), method=method, body=body,
                               headers=headers)


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.host, url.port  # the port, given or the scheme's default


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

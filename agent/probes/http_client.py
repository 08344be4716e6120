"""aiohttp's side of the http probe: the shared sessions, the certificate's expiry noted while
the connection is open, and a short reason for each failed request.

Sessions are shared, one per distinct TLS / address-family configuration, because building a
session and its SSL context per probe costs far more CPU than the probe itself; every probe
still opens a fresh connection (force_close), as a monitor should.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from aiohttp.http_exceptions import PayloadEncodingError
from cryptography import x509

from agent import __version__
from agent.probes import wire
from agent.probes.dns import FAMILIES
from agent.probes.tcp import connect_reason

if TYPE_CHECKING:
    from agent.probes.http import HttpProbe

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

"""TLS and basic auth for the agent's HTTP server, configured as Prometheus exporters are.

`agent.web_config` names a web-config.yml in the exporter-toolkit format (`tls_server_config`,
`basic_auth_users` with bcrypt hashes), so a Prometheus scrape config written for
node_exporter (`scheme: https`, `tls_config`, `basic_auth`) works unchanged. Every path is
protected, /healthz included, as exporters do: its answer names ledger errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import bcrypt
from aiohttp import BasicAuth, hdrs, web

from agent.model import WebTls

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go's RequestClientCert and RequireAnyClientCert accept a certificate without verifying
# it; Python's ssl cannot ask for one without verifying it, so they are refused in config.
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
REALM = 'Basic realm="outage-agent", charset="UTF-8"'
CACHE_SIZE = 64  # verified credentials remembered, so a scrape costs no bcrypt round
# A hash nobody's password matches: unknown users cost a bcrypt round like known ones, so
# response times do not tell which user names exist.
_DUMMY_HASH = b"$2b$10$xa6NhilBBXZSpuIbRsjnIen.nhQBNzmJGrJDzcAgig92IiS2QaRCa"


def _no_passphrase() -> bytes:
    """An encrypted key is refused instead of OpenSSL prompting on a terminal for it."""
    return b""


def configure_tls(context: ssl.SSLContext, tls: WebTls) -> None:
    """Load `tls` into `context`: certificate and key, client CA, versions, client auth.

    Called again on SIGHUP with the same context, so a renewed certificate is used by the
    next handshake without a restart. Raise ssl.SSLError or OSError if a file is unusable.
    """
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = (
        TLS_VERSIONS[tls.max_version] if tls.max_version else ssl.TLSVersion.MAXIMUM_SUPPORTED
    )
    context.load_cert_chain(tls.cert_file, tls.key_file, password=_no_passphrase)
    if tls.client_ca_file:
        context.load_verify_locations(tls.client_ca_file)
    context.verify_mode = CLIENT_AUTH[tls.client_auth_type]


def server_context(tls: WebTls) -> ssl.SSLContext:
    """Given a tls_server_config, return the server's SSL context; raise as configure_tls."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    configure_tls(context, tls)
    return context


def _credentials(header: str | None) -> tuple[str, str] | None:
    """The user and password of an Authorization: Basic header, or None."""
    if not header:
        return None
    try:
        auth = BasicAuth.decode(header, encoding="utf-8")
    except ValueError:
        return None
    return auth.login, auth.password


def _check(password: str, hashed: str | None) -> bool:
    """bcrypt-compare; an unknown user (None) is compared with a dummy hash and fails."""
    try:
        matched = bcrypt.checkpw(password.encode(), (hashed or "").encode() or _DUMMY_HASH)
    except ValueError:  # a hash bcrypt cannot read (config validation should stop these)
        return False
    return matched and hashed is not None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BasicAuthGuard:
    """The basic-auth middleware; users are read per request, so a reload changes them."""

    def __init__(self, users: Callable[[], Mapping[str, str]]) -> None:
        self._users = users
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        # bcrypt is slow on purpose: its own thread, so a flood of bad passwords cannot
        # take the threads the ledger and scrapes use.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bcrypt")

    async def allowed(self, header: str | None) -> bool:
        """Given an Authorization header, return whether it names a user and password."""
        users = self._users()
        if not users:
            return True
        given = _credentials(header)
        if given is None:
            return False
        user, password = given
        hashed = users.get(user)
        key = hashlib.sha256(f"{user}\0{hashed}\0{password}".encode()).digest()
        if hashed is not None and key in self._verified:
            self._verified.move_to_end(key)
            return True
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self._executor, _check, password, hashed):
            return False
        self._verified[key] = None
        while len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return True

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if await self.allowed(request.headers.get(hdrs.AUTHORIZATION)):
            return await handler(request)
        return web.json_response({"error": "unauthorized", "status": 401}, status=401,
                                 headers={hdrs.WWW_AUTHENTICATE: REALM})

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

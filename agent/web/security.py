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
# bcrypt checks running or waiting: at cost 12 (0.3 to 0.45 s here) the last waits about
# 3 s. More are answered 503 at once, so a flood of guesses queues no unbounded work.
MAX_CHECKS = 8
# The bcrypt costs config accepts (4 is bcrypt's least). Each step doubles a check: 12 is
# bcrypt.gensalt()'s default and the top of what exporter users pick (htpasswd -B -C 10 to
# 12). At 14 (1.1 to 2 s a check here) the last of MAX_CHECKS queued checks would wait
# past Prometheus' 10 s scrape timeout, and a stop waits for the check running (its thread
# is joined at exit); at 31 one check takes days.
MIN_COST, MAX_COST = 4, 12
# The one path not behind basic auth: heartbeat pings, authenticated by their token alone
# (agent.web.ping); a job cannot carry the web_config password.
UNGUARDED = "/ping/"


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


def _check(password: str, hashed: str) -> bool:
    """Whether `password` matches the bcrypt `hashed` (False for a hash bcrypt cannot read)."""
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # config validation should stop these
        return False


def bcrypt_cost(hashed: str) -> int:
    """The cost of a bcrypt hash ("$2b$12$..." -> 12), 0 if it has none."""
    parts = hashed.split("$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 0


def reference_hash(users: Mapping[str, str]) -> str:
    """What credentials naming no configured user are checked against, so they cost what a
    configured user's do and the answer's time does not tell which names exist: the
    costliest configured hash (the answer is a refusal whatever it says)."""
    return max(users.values(), key=bcrypt_cost)


class Busy(Exception):
    """MAX_CHECKS password checks are running or waiting: answer 503, try again soon."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BasicAuthGuard:
    """The basic-auth middleware; users are read per request, so a reload changes them.

    Every request that is not a remembered good password costs one bcrypt check, whether it
    names a user, an unknown one or none (a missing or garbled header): 401s look alike.
    """

    def __init__(self, users: Callable[[], Mapping[str, str]]) -> None:
        self._users = users
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        # bcrypt is slow on purpose: its own thread, so a flood of bad passwords cannot
        # take the threads the ledger and scrapes use; one check at a time, in order.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bcrypt")
        self._turn = asyncio.Lock()
        self._checks = 0  # running or waiting for their turn

    async def allowed(self, header: str | None,
                      wanted: Callable[[], bool] = lambda: True) -> bool:
        """Given an Authorization header, return whether it names a user and password.
        `wanted()` says whether the client still waits for the answer: if not when its turn
        comes, no bcrypt work is done (and False returned). Raise Busy if MAX_CHECKS checks
        are running or waiting."""
        users = self._users()
        if not users:
            return True
        user, password = _credentials(header) or (None, "")
        hashed = users.get(user) if user is not None else None
        key = hashlib.sha256(f"{user}\0{hashed}\0{password}".encode()).digest()
        if hashed is not None and key in self._verified:
            self._verified.move_to_end(key)
            return True
        matched = await self._check_in_turn(password, hashed or reference_hash(users), wanted)
        if not matched or hashed is None:
            return False
        self._verified[key] = None
        while len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return True

    async def _check_in_turn(self, password: str, hashed: str,
                             wanted: Callable[[], bool]) -> bool:
        if self._checks >= MAX_CHECKS:
            raise Busy()
        self._checks += 1
        try:
            async with self._turn:
                if not wanted():  # the client left while it waited
                    return False
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, _check, password, hashed)
        finally:
            self._checks -= 1

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(UNGUARDED):  # a heartbeat's token is its credential
            return await handler(request)
        try:
            allowed = await self.allowed(request.headers.get(hdrs.AUTHORIZATION),
                                         lambda: _connected(request))
        except Busy:
            refusal = web.json_response(
                {"error": "busy: too many password checks waiting; try again in a second",
                 "status": 503}, status=503, headers={hdrs.RETRY_AFTER: "1"})
        else:
            if allowed:
                return await handler(request)
            refusal = web.json_response({"error": "unauthorized", "status": 401}, status=401,
                                        headers={hdrs.WWW_AUTHENTICATE: REALM})
        # A refused client keeps no connection: held open, a few hundred would take every
        # slot from Prometheus for the idle timeout, without ever knowing a password.
        refusal.force_close()
        return refusal

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()

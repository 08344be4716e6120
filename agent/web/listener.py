"""The HTTP server's listening sockets, bounded so that clients can never take the agent's
file descriptors, which the probes and the ledger share.

asyncio's own server (what aiohttp's TCPSite uses) accepts every connection the kernel
queues, and when descriptors run out it logs accept()'s failure, with a traceback, on every
retry. Here the accept loop is the agent's own, on public asyncio calls (`loop.sock_accept`,
`loop.connect_accepted_socket`):

- **A cap on connections**, a quarter of the soft RLIMIT_NOFILE: the rest stays for probes
  and the ledger. At the cap, a new connection takes the slot of the oldest one that has not
  sent a request yet (a slow client's), or, if every slot is serving requests, is closed at
  once, before any TLS handshake.
- **Deadlines:** a TLS handshake has `head_timeout`; aiohttp's keepalive_timeout, set to the
  same, closes a connection that has not sent a whole request head that long after it opened
  or after its last answer, and an idle keep-alive connection (as Apache's default 5 s does).
- **Quiet failures:** accept() errors (EMFILE...) back off from 5 ms to 1 s, as Go's
  net/http does, and are logged at most once per interval, with a count; so are request
  heads aiohttp cannot parse (each answered 400 by aiohttp), in one short line without the
  traceback aiohttp would log for each.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
import socket
import ssl
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from aiohttp import web
from aiohttp.http import HttpProcessingError
from yarl import URL

from agent.quiet import QuietLog

log = logging.getLogger(__name__)

HEAD_TIMEOUT = 5.0  # seconds for a TLS handshake, and again for a request head or while idle
DESCRIPTOR_SHARE = 4  # connections take at most 1/4 of the descriptors
MIN_CONNECTIONS = 8
UNLIMITED_DESCRIPTORS = 1 << 20  # what RLIM_INFINITY counts as
# Connections the kernel queues for accept() (capped by net.core.somaxconn): they hold no
# descriptor of ours, and a burst that overflows the queue costs its clients a 1 s SYN retry.
BACKLOG = 1024
BACKOFF_FIRST, BACKOFF_MAX = 0.005, 1.0


def connection_cap(soft_limit: int | None = None) -> int:
    """Given the soft RLIMIT_NOFILE (default: this process's), return how many connections the
    server may hold: a quarter of it, at least MIN_CONNECTIONS."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY:
        soft_limit = UNLIMITED_DESCRIPTORS
    return max(MIN_CONNECTIONS, soft_limit // DESCRIPTOR_SHARE)


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """What aiohttp's request handlers log through (the `logger` AppRunner passes on): a
    request head it could not parse, answered 400 and closed, is counted into `malformed`,
    one short line a minute at most, where aiohttp logs its traceback each time, before any
    authentication. Anything else (a handler's exception: a bug) is logged as aiohttp logs
    it."""

    DETAIL = 120  # characters of the parser's reason

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.malformed = QuietLog(
            log, "%(count)d malformed request(s) answered 400 since the last such line (one at "
            "most every %(interval).0f s), last: %(detail)s")

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            reason = (exc.message.splitlines() or [""])[0].rstrip(":")[:self.DETAIL]
            self.malformed.add(f"{reason} (from {args[0] if args else 'unknown'})")
            return
        super().log(level, msg, *args, **kwargs)


class ConnectionSlots:
    """At most `cap` connections. Those that have not started a request yet (in their TLS
    handshake, or sending their request head) are kept oldest first, so that a new
    connection can take the oldest one's slot: slow clients cannot keep out a scrape."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.count = 0
        self._waiting: OrderedDict[Hashable, Callable[[], Any]] = OrderedDict()
        self.refused = QuietLog(
            log, "%(count)d connection(s) closed at once since the last such line (one at most "
            "every %(interval).0f s): " + f"all {cap} connection slots are serving requests")

    def admit(self) -> bool:
        """Whether a new connection may open; closes the oldest waiting one to make room."""
        if self.count < self.cap:
            return True
        if not self._waiting:
            self.refused.add(None)
            return False
        _, close = self._waiting.popitem(last=False)
        close()
        return True

    def opened(self, key: Hashable, close: Callable[[], Any]) -> None:
        """A connection opened; `close` ends it if its slot is wanted before its first request."""
        self.count += 1
        self._waiting[key] = close

    def started(self, key: Hashable) -> None:
        """The connection `key` sent a whole request: its slot is no longer taken from it."""
        self._waiting.pop(key, None)

    def closed(self, key: Hashable) -> None:
        self.count -= 1
        self._waiting.pop(key, None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.transport is not None:
            self.started(request.transport)
        response: web.StreamResponse = await handler(request)
        return response


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, with its slot given back when it is lost."""

    def __init__(self, inner: asyncio.Protocol, slots: ConnectionSlots) -> None:
        self.inner, self.slots = inner, slots
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.slots.opened(transport, transport.abort)
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.slots.closed(self.transport)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def listening_sockets(host: str | None, port: int, backlog: int) -> list[socket.socket]:
    """Bound, listening, non-blocking sockets for each address of `host` (None: every
    interface), as asyncio's create_server binds them; raise OSError if one cannot bind."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, _, _, _, address in dict.fromkeys(infos):
            sock = socket.create_server(address, family=family, backlog=backlog)
            sock.setblocking(False)
            sockets.append(sock)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class BoundedSite(web.BaseSite):
    """An aiohttp site on `host`:`port` that accepts connections within `slots` (see the
    module's docstring); started and stopped by its runner like a TCPSite."""

    def __init__(self, runner: web.BaseRunner, host: str | None, port: int, *,
                 slots: ConnectionSlots, ssl_context: ssl.SSLContext | None = None,
                 head_timeout: float = HEAD_TIMEOUT, backlog: int = BACKLOG) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self.runner, self.host, self.port, self.slots = runner, host, port, slots
        self.ssl_context, self.head_timeout, self.backlog = ssl_context, head_timeout, backlog
        self.sockets: list[socket.socket] = []
        self.accept_errors = QuietLog(
            log, "accept() failed %(count)d time(s) since the last such line (one at most every "
            "%(interval).0f s), last: %(detail)s; new connections wait in the backlog")
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return str(URL.build(scheme=scheme, host=self.host or "0.0.0.0", port=self.port))

    async def start(self) -> None:
        await super().start()
        self.sockets = listening_sockets(self.host, self.port, self.backlog)
        self.port = self.sockets[0].getsockname()[1]
        for sock in self.sockets:
            self._spawn(self._accept_forever(sock))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sock in self.sockets:
            sock.close()
        await super().stop()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept_forever(self, sock: socket.socket) -> None:
        loop, delay = asyncio.get_running_loop(), 0.0
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except ConnectionAbortedError:  # the client reset before accept(): nothing to do
                continue
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS, ENOMEM: wait for descriptors
                self.accept_errors.add(exc)
                delay = min(BACKOFF_MAX, max(BACKOFF_FIRST, delay * 2))
                await asyncio.sleep(delay)
                continue
            delay = 0.0
            if self.slots.admit():
                task = self._spawn(self._connect(conn))
                self.slots.opened(conn, task.cancel)
                task.add_done_callback(functools.partial(self._connected, conn))
            else:
                conn.close()
            # sock_accept does not yield while connections are queued: let those accepted
            # read their requests between two accepts, or a burst could take their slots.
            await asyncio.sleep(0)

    async def _connect(self, conn: socket.socket) -> None:
        """Hand `conn` to aiohttp, after the TLS handshake if there is one."""
        tls: dict[str, Any] = {}
        if self.ssl_context is not None:
            tls = {"ssl": self.ssl_context, "ssl_handshake_timeout": self.head_timeout,
                   "ssl_shutdown_timeout": self.head_timeout}
        server = self.runner.server
        assert server is not None
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: _Counted(server(), self.slots), conn, **tls)
        except OSError as exc:  # a failed or timed-out handshake; asyncio closed the socket
            log.debug("connection closed before its first request: %s", exc)

    def _connected(self, conn: socket.socket, task: asyncio.Task[None]) -> None:
        """The handshake is over: its slot now counts through the protocol, if at all. A
        task cancelled (to free its slot, or at shutdown) may not have handed `conn` on."""
        self.slots.closed(conn)
        if task.cancelled():
            conn.close()


async def start_bounded(app: web.Application, host: str | None, port: int, *,
                        slots: ConnectionSlots, ssl_context: ssl.SSLContext | None = None,
                        head_timeout: float = HEAD_TIMEOUT) -> web.AppRunner:
    """Serve `app` on a BoundedSite; return its runner (whose cleanup() stops it). Raise
    OSError if it cannot listen."""
    # aiohttp's keepalive_timeout runs from a connection's start and from each answer, and
    # only a whole request head stops it: the head deadline, and the idle one. The body of a
    # refused request (405) is drained for no longer either.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=head_timeout,
                           lingering_time=head_timeout, logger=ServerLog())
    await runner.setup()
    try:
        await BoundedSite(runner, host, port, slots=slots, ssl_context=ssl_context,
                          head_timeout=head_timeout).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner

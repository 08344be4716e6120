"""Real loopback servers for probe tests: HTTP(S), accept-and-hang TCP, DNS over UDP.

Every server binds 127.0.0.1 (or ::1) on port 0 and is stopped at teardown; every handler
that waits or streams is bounded in time and size so a broken probe cannot hang the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import dns.message
import dns.rcode
import dns.rrset
import pytest
from aiohttp import web
from support.certs import CertFiles, write_cert

from agent.probes import Prober

HANDLER_LIMIT = 10.0  # seconds any stalling handler waits at most
STREAM_LIMIT = 64 * 1024 * 1024  # bytes the endless body sends at most


@pytest.fixture
async def prober() -> AsyncIterator[Prober]:
    async with Prober() as started:
        yield started


# --- HTTP ----------------------------------------------------------------------------------


@dataclass
class WebServer:
    """An aiohttp server whose "/" behaviour is switched by setting `mode`."""

    port: int = 0
    scheme: str = "http"
    host: str = "127.0.0.1"
    mode: str = "ok"
    location: str = ""  # where the "redirect_elsewhere" mode sends the client
    requests: list[web.Request] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)  # client (address, port) per request
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0  # body bytes the "huge" mode wrote
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # the "huge" handler ended

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path}"


async def _ok(request: web.Request, server: WebServer) -> web.StreamResponse:
    return web.Response(text="OK all good")


async def _status_503(request: web.Request, server: WebServer) -> web.StreamResponse:
    return web.Response(status=503, text="maintenance")


async def _slow(request: web.Request, server: WebServer) -> web.StreamResponse:
    await asyncio.sleep(0.3)
    return web.Response(text="OK but slow")


async def _wrong_body(request: web.Request, server: WebServer) -> web.StreamResponse:
    return web.Response(text="nothing to see here")


async def _redirect_loop(request: web.Request, server: WebServer) -> web.StreamResponse:
    raise web.HTTPFound(request.path)


async def _redirect_ok(request: web.Request, server: WebServer) -> web.StreamResponse:
    server.mode = "ok"
    raise web.HTTPFound("/")


async def _redirect_elsewhere(request: web.Request, server: WebServer) -> web.StreamResponse:
    raise web.HTTPFound(server.location)


async def _endless(request: web.Request, server: WebServer) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_type = "text/plain"
    await response.prepare(request)
    return await _endless_after_prepare(response, server)


async def _needle_then_endless(request: web.Request, server: WebServer) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"NEEDLE ")
    return await _endless_after_prepare(response, server)


async def _endless_after_prepare(
    response: web.StreamResponse, server: WebServer
) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANDLER_LIMIT
    for _ in range(STREAM_LIMIT // 65536):
        if loop.time() > deadline or server.stop.is_set():
            break
        await response.write(b"y" * 65536)
    return response


async def _huge(request: web.Request, server: WebServer) -> web.StreamResponse:
    """A body declared as 4 GiB, streamed until the client hangs up (or STREAM_LIMIT)."""
    response = web.StreamResponse(headers={"Content-Length": str(4 * 2**30)})
    response.content_type = "application/octet-stream"
    await response.prepare(request)
    chunk = b"y" * 65536
    try:
        while server.sent < STREAM_LIMIT and not server.stop.is_set():
            await asyncio.wait_for(response.write(chunk), HANDLER_LIMIT)
            server.sent += len(chunk)
    except (ConnectionError, TimeoutError):
        pass  # the client hung up: what we count is what it was sent
    finally:
        server.finished.set()
    return response


async def _stall(request: web.Request, server: WebServer) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_type = "text/plain"
    await response.prepare(request)
    await response.write(b"partial ")
    await asyncio.wait_for(server.stop.wait(), HANDLER_LIMIT)
    return response


async def _echo(request: web.Request, server: WebServer) -> web.StreamResponse:
    body = await request.text()
    header = request.headers.get("X-Probe", "")
    agent = request.headers.get("User-Agent", "")
    return web.Response(text=f"method={request.method} x-probe={header} ua={agent} body={body}")


async def _latin1(request: web.Request, server: WebServer) -> web.StreamResponse:
    return web.Response(
        body="café OK".encode("latin-1"), content_type="text/plain", charset="latin-1"
    )


Handler = Callable[[web.Request, WebServer], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {
    "ok": _ok,
    "503": _status_503,
    "slow": _slow,
    "wrong_body": _wrong_body,
    "redirect_loop": _redirect_loop,
    "redirect_ok": _redirect_ok,
    "redirect_elsewhere": _redirect_elsewhere,
    "endless": _endless,
    "needle_then_endless": _needle_then_endless,
    "stall": _stall,
    "huge": _huge,
    "echo": _echo,
    "latin1": _latin1,
}


async def _start_web(server: WebServer, context: ssl.SSLContext | None) -> web.AppRunner:
    async def dispatch(request: web.Request) -> web.StreamResponse:
        server.requests.append(request)
        if request.transport is not None:
            server.peers.append(request.transport.get_extra_info("peername")[:2])
        return await HANDLERS[server.mode](request, server)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, server.host, 0, ssl_context=context)
    await site.start()
    server.port = runner.addresses[0][1]
    return runner


async def _serve(
    server: WebServer, context: ssl.SSLContext | None = None
) -> AsyncIterator[WebServer]:
    runner = await _start_web(server, context)
    try:
        yield server
    finally:
        server.stop.set()
        await runner.cleanup()


@pytest.fixture
async def web_server() -> AsyncIterator[WebServer]:
    async for server in _serve(WebServer()):
        yield server


@pytest.fixture
async def other_web_server() -> AsyncIterator[WebServer]:
    """A second server on another port: another origin."""
    async for server in _serve(WebServer()):
        yield server


@pytest.fixture
async def web_server_v6() -> AsyncIterator[WebServer]:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    async for server in _serve(WebServer(host="::1")):
        yield server


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- TLS -----------------------------------------------------------------------------------


def _self_signed(directory: Path, name: str) -> CertFiles:
    """Write a self-signed certificate valid for 127.0.0.1 and ::1, usable by either side."""
    return write_cert(directory, name)


@pytest.fixture(scope="session")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return _self_signed(tmp_path_factory.mktemp("tls"), "server")


@pytest.fixture(scope="session")
def bad_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CertFiles]:
    """Certificates that fail verification even when trusted as ca_file (expired, for
    another host), and one that passes but expires in five days."""
    folder = tmp_path_factory.mktemp("tls-bad")
    day = dt.timedelta(days=1)
    return {
        "expired": write_cert(folder, "expired", valid_from=-60 * day, valid_until=-day),
        "wrong_host": write_cert(folder, "wrong-host", hosts=("other.example",)),
        "expiring": write_cert(folder, "expiring", valid_until=5 * day + dt.timedelta(hours=1)),
    }


@pytest.fixture
async def https_server_with() -> AsyncIterator[Callable[[CertFiles], Awaitable[WebServer]]]:
    """Start HTTPS servers that present a given certificate; all stopped at teardown."""
    started: list[tuple[WebServer, web.AppRunner]] = []

    async def start(cert: CertFiles) -> WebServer:
        server = WebServer(scheme="https")
        started.append((server, await _start_web(server, _server_context(cert))))
        return server

    yield start
    for server, runner in started:
        server.stop.set()
        await runner.cleanup()


@pytest.fixture(scope="session")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return _self_signed(tmp_path_factory.mktemp("tls-client"), "client")


def _server_context(cert: CertFiles, client_ca: CertFiles | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca.cert)
    return context


@pytest.fixture
async def https_server(server_cert: CertFiles) -> AsyncIterator[WebServer]:
    async for server in _serve(WebServer(scheme="https"), _server_context(server_cert)):
        yield server


@pytest.fixture
async def mtls_server(server_cert: CertFiles, client_cert: CertFiles) -> AsyncIterator[WebServer]:
    context = _server_context(server_cert, client_ca=client_cert)
    async for server in _serve(WebServer(scheme="https"), context):
        yield server


# --- raw TCP -------------------------------------------------------------------------------


@dataclass
class HangServer:
    """Accepts connections and never answers; counts what it accepted."""

    port: int = 0
    accepted: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def hang_server() -> AsyncIterator[HangServer]:
    state = HangServer()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        state.writers.append(writer)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stop.wait(), HANDLER_LIMIT)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0, backlog=512)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        state.stop.set()
        server.close()
        for writer in state.writers:
            writer.close()
        await asyncio.wait_for(server.wait_closed(), 5)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RawHttpServer:
    """Answers every request with 200 "OK via raw"; records each request's head."""

    port: int = 0
    heads: list[str] = field(default_factory=list)


@pytest.fixture
async def proxy_server() -> AsyncIterator[RawHttpServer]:
    """A stand-in forward proxy: it records the absolute-form request and answers itself."""
    state = RawHttpServer()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HANDLER_LIMIT)
        state.heads.append(head.decode("latin-1"))
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nOK via raw"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)


# --- DNS -----------------------------------------------------------------------------------


@dataclass
class DnsServer:
    """A UDP DNS server on loopback. `zone` maps a name to A records, "NXDOMAIN", "SERVFAIL",
    "HANG" (never answer) or "EMPTY" (no data); unknown names are NXDOMAIN."""

    port: int = 0
    ttl: int = 300  # long on purpose: a resolver cache would hide changes between probes
    queries: list[str] = field(default_factory=list)
    zone: dict[str, object] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, state: DnsServer) -> None:
        self.state = state
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().lower()
        self.state.queries.append(name)
        entry = self.state.zone.get(name, "NXDOMAIN")
        if entry == "HANG" or self.transport is None:
            return
        response = dns.message.make_response(query)
        if entry in ("NXDOMAIN", "SERVFAIL"):
            response.set_rcode(dns.rcode.from_text(str(entry)))
        elif isinstance(entry, tuple):
            rdtype, values = entry
            rrset = dns.rrset.from_text_list(question.name, self.state.ttl, "IN", rdtype, values)
            response.answer.append(rrset)
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    state = DnsServer(
        zone={
            "ok.test.": ("A", ["192.0.2.10", "192.0.2.11"]),
            "v6.test.": ("AAAA", ["2001:db8::1"]),
            "alias.test.": ("CNAME", ["target.test."]),
            "txt.test.": ("TXT", ['"v=spf1 -all"']),
            "mx.test.": ("MX", ["10 mail.test."]),
            "nx.test.": "NXDOMAIN",
            "servfail.test.": "SERVFAIL",
            "hang.test.": "HANG",
            "empty.test.": "EMPTY",
        }
    )
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _DnsProtocol(state), local_addr=("127.0.0.1", 0)
    )
    state.port = transport.get_extra_info("sockname")[1]
    try:
        yield state
    finally:
        transport.close()


@pytest.fixture
def script(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Write a /bin/sh script to tmp_path and return its path."""
    count = 0

    def write(body: str) -> str:
        nonlocal count
        count += 1
        path = tmp_path / f"plugin{count}.sh"
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
        return str(path)

    yield write

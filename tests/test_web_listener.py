"""The HTTP server's listener in process: deadlines for slow clients (plain and TLS), the cap
on connections and who gives way at it, and accept() failures logged once per interval.

The deadlines on a request head are aiohttp's keepalive_timeout, which aiohttp 3.14 arms when
a connection opens and after each answer: the trickle tests here fail loudly if an upgrade
changes that."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from support.certs import write_cert
from support.realparts import AgentProcess, fast_config, http_targets, wait_for

from agent.quiet import QuietLog
from agent.web import listener
from agent.web.listener import (
    MIN_CONNECTIONS,
    UNLIMITED_DESCRIPTORS,
    BoundedSite,
    ConnectionSlots,
    connection_cap,
    start_bounded,
)

HEAD = 1.0  # the head timeout these tests run with
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@asynccontextmanager
async def bounded(cap: int = 16, tls: ssl.SSLContext | None = None, head_timeout: float = HEAD
                  ) -> AsyncIterator[tuple[int, ConnectionSlots]]:
    """A one-route app (GET / answers "ok") on a BoundedSite on 127.0.0.1: its port."""
    slots = ConnectionSlots(cap)
    app = web.Application(middlewares=[slots.middleware])

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", hello)
    runner = await start_bounded(app, "127.0.0.1", 0, slots=slots, ssl_context=tls,
                                 head_timeout=head_timeout)
    [site] = runner.sites
    assert isinstance(site, BoundedSite)
    try:
        yield site.port, slots
    finally:
        await runner.cleanup()


async def closed_after(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       trickle: bytes, limit: float = 10.0) -> float:
    """Send `trickle` a byte every 0.1 s (then nothing); return how long until the server
    closed the connection, at most `limit`."""
    began, sent = time.monotonic(), 0
    while time.monotonic() - began < limit:
        try:
            if sent < len(trickle):
                writer.write(trickle[sent:sent + 1])
                sent += 1
                await writer.drain()
            if await asyncio.wait_for(reader.read(1024), 0.1) == b"":
                break
        except TimeoutError:
            continue
        except OSError:  # reset by the server
            break
    writer.close()
    return time.monotonic() - began


def slow_head() -> bytes:
    return b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 500


@pytest.mark.fault("a client trickling its request line and headers a byte every 0.1 s",
                   "closed when the head timeout runs out after the connection opened")
async def test_a_trickled_request_head_is_cut_off_at_the_head_timeout() -> None:
    async with bounded() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lasted = await closed_after(reader, writer, slow_head())
    assert HEAD - 0.1 <= lasted <= HEAD + 0.6


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context and a client context trusting it."""
    cert = write_cert(tmp_path_factory.mktemp("listener-tls"), "agent")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert.cert, cert.key)
    return server, ssl.create_default_context(cafile=str(cert.cert))


@pytest.mark.fault("TLS: a connection that never starts its handshake, and one that "
                   "trickles its request head after the handshake a byte every 0.1 s",
                   "each closed at the head timeout (the handshake's, then the head's)")
async def test_tls_handshake_and_head_each_have_the_head_timeout(tls) -> None:
    server, client = tls
    async with bounded(tls=server) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        silent = await closed_after(reader, writer, b"")
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client,
                                                       server_hostname="127.0.0.1")
        trickled = await closed_after(reader, writer, slow_head())
    assert HEAD - 0.1 <= silent <= HEAD + 0.6
    assert HEAD - 0.1 <= trickled <= HEAD + 0.6


async def test_an_idle_keep_alive_connection_is_closed_at_the_head_timeout() -> None:
    async with bounded() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        answered = time.monotonic()
        assert head.startswith(b"HTTP/1.1 200") and await reader.readexactly(2) == b"ok"
        assert await asyncio.wait_for(reader.read(), HEAD + 1) == b""
        assert HEAD - 0.1 <= time.monotonic() - answered <= HEAD + 0.6
        writer.close()


async def get_ok(port: int) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        return (await asyncio.wait_for(reader.read(), 2)).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()


@pytest.mark.fault("more slow connections than the cap allows, then a scrape",
                   "the scrape takes the oldest slow connection's slot and is answered; "
                   "the connections never exceed the cap")
async def test_at_the_cap_a_new_connection_takes_the_slot_of_the_oldest_slow_one() -> None:
    async with bounded(cap=4) as (port, slots):
        slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(6)]
        await asyncio.sleep(0.1)
        assert slots.count <= 4
        assert await get_ok(port)
        # the two oldest gave way to the two newest, the third to the scrape: closed at once
        gone = [await asyncio.wait_for(reader.read(), 1) == b"" for reader, _ in slow[:3]]
        assert gone == [True, True, True]
        for _, writer in slow:
            writer.close()


@pytest.mark.fault("every connection slot held by a client that has been answered (keep-alive)",
                   "a new connection is closed at once, before any request; one log line")
async def test_when_every_slot_serves_requests_a_new_connection_is_closed_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bounded(cap=MIN_CONNECTIONS, head_timeout=5.0) as (port, slots):
        kept = []
        for _ in range(MIN_CONNECTIONS):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(REQUEST)
            await reader.readuntil(b"\r\n\r\n")
            kept.append(writer)
        with caplog.at_level(logging.WARNING, logger=listener.__name__):
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert await asyncio.wait_for(reader.read(), 0.5) == b""
                writer.close()
        assert slots.refused.total == 20
        [line] = [r.getMessage() for r in caplog.records]
        assert f"all {MIN_CONNECTIONS} connection slots are serving requests" in line
        for writer in kept:
            writer.close()


@pytest.mark.parametrize(("soft", "cap"), [
    (1024, 256), (65536, 16384), (16, MIN_CONNECTIONS),
    (resource.RLIM_INFINITY, UNLIMITED_DESCRIPTORS // 4),
])
def test_the_cap_is_a_quarter_of_the_descriptors(soft: int, cap: int) -> None:
    assert connection_cap(soft) == cap


def test_the_unit_leaves_the_largest_estate_its_descriptors() -> None:
    """docs/performance.md's 10,000 systems may all hang at once: a descriptor each, twice
    over for the ledger, the resolver and headroom, beside the HTTP server's cap."""
    unit = (Path(__file__).parents[1] / "deploy/systemd/outage-agent.service").read_text()
    [limit] = re.findall(r"^LimitNOFILE=(\d+)$", unit, re.MULTILINE)
    assert int(limit) - connection_cap(int(limit)) >= 2 * 10_000
    assert connection_cap(int(limit)) >= 1024


def test_a_quiet_log_says_a_repeated_failure_once_per_interval_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    quiet = QuietLog(logging.getLogger(listener.__name__),
                     "failed %(count)d time(s) in %(interval).0f s: %(detail)s", 60,
                     clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=listener.__name__):
        for second in range(130):
            now[0] = float(second)
            for _ in range(100):
                quiet.add("EMFILE")
    assert [r.getMessage() for r in caplog.records] == [
        "failed 1 time(s) in 60 s: EMFILE", "failed 6000 time(s) in 60 s: EMFILE",
        "failed 6000 time(s) in 60 s: EMFILE"]
    assert quiet.total == 13000


# A server with 64 descriptors and room for 1,000 connections: accept() runs out (EMFILE).
EXHAUSTED_SERVER = textwrap.dedent("""\
    import asyncio, logging, resource, sys
    from aiohttp import web
    from agent.web.listener import ConnectionSlots, start_bounded

    async def main():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        app = web.Application()

        async def hello(request):
            return web.Response(text="ok")

        app.router.add_get("/", hello)
        runner = await start_bounded(app, "127.0.0.1", 0, slots=ConnectionSlots(1000),
                                     head_timeout=2.0)
        [site] = runner.sites
        print(site.port, flush=True)
        await asyncio.sleep(float(sys.argv[1]))
        await runner.cleanup()

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
""")


@pytest.mark.fault("accept() failing with EMFILE (the server's descriptors used up) for seconds",
                   "one log line with a count, no traceback, no busy loop; the server serves "
                   "again once descriptors are free")
def test_accept_running_out_of_descriptors_is_logged_once_and_recovers(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", EXHAUSTED_SERVER, "12"],
                                stdout=subprocess.PIPE, stderr=err)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(120)]
        time.sleep(1.5)  # accept() fails all this while
        cpu = _cpu_seconds(proc.pid)
        time.sleep(1.0)
        assert _cpu_seconds(proc.pid) - cpu < 0.3  # backing off, not spinning
        for sock in held:
            sock.close()
        wait_for("the server to answer again", lambda: asyncio.run(get_ok(port)), timeout=8)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = log.read_text()
    failures = [line for line in text.splitlines() if "accept() failed" in line]
    assert 1 <= len(failures) <= 2, text
    assert "Too many open files" in failures[0] and "Traceback" not in text
    assert len(text) < 2000


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# Request heads aiohttp's parser refuses, each answered 400 by aiohttp before any routing.
MALFORMED = (
    b"badheader\r\n\r\n",
    b"GET /api/v1/outages?from=\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # not UTF-8
    b"GET /api/v1/systems HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: 1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
)
BURST = 2000
MALFORMED_LOG_BOUND = 1000  # bytes: before, each request logged a ~560-byte traceback


def answer(port: int, head: bytes) -> bytes:
    """Send `head` on a new connection; return the answer, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            assert len(chunks) < 100, b"".join(chunks)[:200]
    return b"".join(chunks)


@pytest.mark.fault("2,000 malformed request heads in a burst (an invalid method, a non-UTF-8 "
                   "query, Content-Length: -5, a bad header name, chunked with a length, a "
                   "line over 4 KiB)", "each answered 400 and closed; one short log line "
                   "with a count per minute at most, no traceback (the log grows < 1 kB)")
def test_a_burst_of_malformed_requests_logs_one_line(tmp_path: Path) -> None:
    target = http_targets("intranet")["intranet"]
    (tmp_path / "agent.yaml").write_text(fast_config(
        "  - name: intranet\n    probe: {{type: http, url: '{url}'}}\n").format(url=target.url))
    agent = AgentProcess(tmp_path / "agent.yaml", tmp_path)
    try:
        agent.start_all_up()
        logged = agent.log.stat().st_size
        began = time.monotonic()
        answers = [answer(agent.port, MALFORMED[i % len(MALFORMED)]) for i in range(BURST)]
        took = time.monotonic() - began
        agent.alive()
        grown = agent.log.read_bytes()[logged:].decode()
    finally:
        agent.stop()
        target.down()
    print(f"\n{BURST} malformed heads in {took:.2f}s; the log grew {len(grown)} bytes")
    assert all(a.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")) for a in answers), {
        a[:40] for a in answers}
    assert "Traceback" not in grown and "Error handling request" not in grown, grown[:3000]
    [line] = [line for line in grown.splitlines() if "malformed" in line]
    assert "1 malformed request(s) answered 400" in line and "(from 127.0.0.1)" in line, line
    assert len(grown) < MALFORMED_LOG_BOUND

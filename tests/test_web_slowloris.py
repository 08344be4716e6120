"""Slowloris against the real agent: `outage-agent run` with 1,024 descriptors (as systemd
gives a unit without LimitNOFILE) and 2,000 connections trickling their request head (plain)
or their TLS ClientHello, while a healthy target is probed and /metrics scraped.

Before the listener was bounded, the connections took every descriptor: the probe failed
"too many open files", the healthy target was costed as down, and asyncio logged accept()'s
failure with a traceback in a tight loop."""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import ssl
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.certs import write_cert
from support.realparts import AgentProcess, fast_config, http_targets, require_tool

from agent.web.listener import HEAD_TIMEOUT

SLOW_CONNECTIONS = 2000
DESCRIPTORS = 1024
OPEN_BATCH, OPEN_EVERY = 100, 0.05  # 2,000 connections opened within a second
TRICKLE_EVERY = 1.0  # one byte per connection per second: never a whole head in time
LOG_BOUND = 100_000  # bytes the agent may log during the attack
SLACK = 2.0  # seconds beyond the head timeout for a slow connection to be seen closed

TLS_ONLY = "tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"  # for str.format


class LimitedAgent(AgentProcess):
    """The agent run under `prlimit --nofile=1024:1024`."""

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        prlimit = require_tool("prlimit", "util-linux")
        super()._spawn([prlimit, f"--nofile={DESCRIPTORS}:{DESCRIPTORS}", "--", *argv], env)


@dataclass
class Scrapes:
    """/metrics fetched every 0.25 s in a thread, and the target's state with each."""

    url: str
    context: ssl.SSLContext | None
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    states: set[float | None] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def state(self) -> float | None:
        """One scrape: the value of the target's `up` state series (1 while up)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10,
                                    context=self.context) as answer:
            body = answer.read().decode()
        series = 'outage_system_state{state="up",system="intranet"} '
        return next((float(line[len(series):]) for line in body.splitlines()
                     if line.startswith(series)), None)

    def run(self) -> None:
        while not self.stop.wait(0.25):
            began = time.monotonic()
            try:
                self.states.add(self.state())
                self.latencies.append(time.monotonic() - began)
            except OSError as exc:
                self.failures.append(f"{time.monotonic() - began:.2f}s: {exc!r}")


@pytest.fixture
def descriptors() -> Iterator[None]:
    """Room in this process for 2,000 client sockets (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SLOW_CONNECTIONS + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard limit on descriptors ({hard}) is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def client_hello() -> bytes:
    """A real TLS ClientHello, to trickle."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing,
                                                server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def slowloris(port: int, payload: bytes, limit: float) -> list[float]:
    """Open SLOW_CONNECTIONS connections to 127.0.0.1:`port` and send each `payload` a byte
    every TRICKLE_EVERY; return each connection's lifetime until the agent closed it (those
    still open after `limit` seconds count as that long)."""
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    lifetimes: list[float] = []
    began = time.monotonic()
    next_trickle, sent = began + TRICKLE_EVERY, 0
    try:
        while time.monotonic() - began < limit and (len(opened) or not lifetimes):
            if len(opened) + len(lifetimes) < SLOW_CONNECTIONS:
                for _ in range(OPEN_BATCH):
                    sock = socket.socket()
                    sock.setblocking(False)
                    assert sock.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS)
                    opened[sock] = time.monotonic()
                    selector.register(sock, selectors.EVENT_READ)
            for key, _ in selector.select(OPEN_EVERY):
                _closed(key.fileobj, opened, lifetimes, selector)  # type: ignore[arg-type]
            if time.monotonic() >= next_trickle and sent < len(payload):
                for sock in list(opened):
                    try:
                        sock.send(payload[sent:sent + 1])
                    except OSError:
                        _closed(sock, opened, lifetimes, selector, reading=False)
                next_trickle, sent = next_trickle + TRICKLE_EVERY, sent + 1
    finally:
        now = time.monotonic()
        lifetimes.extend(now - at for at in opened.values())
        for sock in opened:
            sock.close()
        selector.close()
    return lifetimes


def _closed(sock: socket.socket, opened: dict[socket.socket, float], lifetimes: list[float],
            selector: selectors.BaseSelector, reading: bool = True) -> None:
    """Record `sock` as closed by the agent if it is (EOF or reset)."""
    if reading:
        try:
            if sock.recv(4096):
                return  # an answer (a TLS alert): the close follows
        except BlockingIOError:
            return
        except OSError:
            pass
    lifetimes.append(time.monotonic() - opened.pop(sock))
    selector.unregister(sock)
    sock.close()


@pytest.mark.fault("2,000 connections trickling their request head (or TLS ClientHello) a "
                   "byte a second, against the agent run with 1,024 descriptors",
                   "each closed within the head timeout; /metrics scraped throughout; the "
                   "healthy target stays up (no false outage); the log stays under 100 kB")
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_slow_connections_neither_starve_probes_nor_scrapes(
    tmp_path: Path, descriptors: None, scheme: str
) -> None:
    target = http_targets("intranet")["intranet"]
    template = fast_config("  - name: intranet\n    probe: {{type: http, url: '{url}'}}\n")
    context, payload = None, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1"
    if scheme == "https":
        cert = write_cert(tmp_path, "agent")
        (tmp_path / "web.yml").write_text(TLS_ONLY.format(cert=cert.cert, key=cert.key))
        template = template.replace("agent:\n", "agent:\n  web_config: web.yml\n")
        context, payload = ssl.create_default_context(cafile=str(cert.cert)), client_hello()
    (tmp_path / "agent.yaml").write_text(template.format(url=target.url))
    agent = LimitedAgent(tmp_path / "agent.yaml", tmp_path)
    base = f"{scheme}://127.0.0.1:{agent.port}"
    scrapes = Scrapes(base, context)
    try:
        agent.start(wait=False)
        _wait_up(scrapes)
        logged = agent.log.stat().st_size
        scraper = threading.Thread(target=scrapes.run, daemon=True)
        scraper.start()
        lifetimes = slowloris(agent.port, payload, limit=HEAD_TIMEOUT + 3 * SLACK + 4)
        scrapes.stop.set()
        scraper.join(15)
        agent.alive()
        grown = agent.log.stat().st_size - logged
    finally:
        scrapes.stop.set()
        agent.stop()
        target.down()
    took = scrapes.latencies or [float("nan")]
    print(f"\n{scheme}: {len(lifetimes)} slow connections, closed after median "
          f"{statistics.median(lifetimes):.2f}s, max {max(lifetimes):.2f}s; {len(took)} "
          f"scrapes, median {statistics.median(took):.3f}s, max {max(took):.3f}s, "
          f"{len(scrapes.failures)} failed; log grew {grown} bytes")
    assert len(lifetimes) == SLOW_CONNECTIONS
    assert max(lifetimes) <= HEAD_TIMEOUT + SLACK, sorted(lifetimes)[-10:]
    assert scrapes.failures == [] and len(scrapes.latencies) >= 10
    assert max(scrapes.latencies) < 2.0
    assert scrapes.states == {1}  # up at every scrape: no false transition
    assert grown < LOG_BOUND, agent.log.read_text()[-3000:]
    log = agent.log.read_text()
    assert "Traceback" not in log and "too many open files" not in log.lower(), log[-3000:]
    assert log.count("system=intranet state=") == 1, log  # unknown -> up, and no other


def _wait_up(scrapes: Scrapes) -> None:
    """Until the agent serves /metrics with the target up (bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if scrapes.state() == 1:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the agent never showed the target up")

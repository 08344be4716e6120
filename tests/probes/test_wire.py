"""The lean plain-http exchange: same request as aiohttp, same verdicts, for answers the
ordinary test server never gives (chunks, compression, broken framing)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from agent.model import Check, HttpProbe, ProbeResult, Status
from agent.probes import Prober
from agent.probes.http import USER_AGENT, probe_aiohttp
from agent.probes.wire import lean_request, parse_head


@dataclass
class Scripted:
    """Answers each request with `answer` (then closes), recording each request's head."""

    answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
    port: int = 0
    heads: list[bytes] = field(default_factory=list)

    def url(self, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    state = Scripted()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(dict(parse_head(b"HTTP/1.1 200 X" + head[head.index(b"\r\n"):])[1])
                     .get("content-length", 0))
        state.heads.append(head + await reader.readexactly(length))
        writer.write(state.answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


async def run(spec: HttpProbe) -> ProbeResult:
    async with Prober() as prober:
        return await prober.run(Check(spec=spec, timeout=2.0))


def chunked(*parts: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        pytest.param(chunked(b"all ", b"OK"), Status.UP, "", id="chunked"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % len(gzip.compress(b"fine: OK")) + gzip.compress(b"fine: OK"),
                     Status.UP, "", id="gzip"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
                     Status.UP, "", id="interim 100 skipped"),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\nOK until close", Status.UP, "", id="to close"),
        pytest.param(chunked(b"no")[:-7], Status.DOWN, "bad response body", id="chunks cut"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nOK", Status.DOWN,
                     "bad response body", id="shorter than Content-Length"),
        pytest.param(b"SMTP ready\r\n\r\n", Status.DOWN, "bad response", id="not HTTP"),
        pytest.param(b"", Status.DOWN, "server disconnected", id="closed without answer"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n"
                     b"Content-Length: 3\r\n\r\nOK\xe9", Status.UP, "", id="charset"),
    ],
)
async def test_wire_reads_answers_as_aiohttp_does(
    scripted: Scripted, answer: bytes, status: Status, reason: str
) -> None:
    scripted.answer = answer
    result = await run(HttpProbe(url=scripted.url(), body_contains="OK"))
    assert (result.status, result.reason) == (status, reason)


async def test_wire_sends_the_request_aiohttp_sends(scripted: Scripted) -> None:
    spec = HttpProbe(url=scripted.url("/a b?x=ü"), method="POST", body="hello",
                     headers=(("X-Team", "infra"), ("Accept", "text/plain")))
    assert lean_request(spec, USER_AGENT) is not None
    assert (await run(spec)).status is Status.UP
    async with Prober() as prober:
        assert (await probe_aiohttp(spec, 2.0, prober.resources)).status is Status.UP
    lean, reference = scripted.heads
    assert lean.split(b"\r\n")[0] == reference.split(b"\r\n")[0] == (
        b"POST /a%20b?x=%C3%BC HTTP/1.1")
    assert sorted(lean.split(b"\r\n")) == sorted(reference.split(b"\r\n"))


async def test_wire_resolves_host_names(scripted: Scripted) -> None:
    spec = HttpProbe(url=scripted.url().replace("127.0.0.1", "localhost"), ip_version=4)
    result = await run(spec)
    assert result.status is Status.UP, result.reason


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/", "http://user:pw@127.0.0.1/", "ftp://127.0.0.1/",
])
def test_wire_leaves_tls_credentials_and_other_schemes_to_aiohttp(url: str) -> None:
    assert lean_request(HttpProbe(url=url), USER_AGENT) is None
    assert lean_request(HttpProbe(url="http://127.0.0.1/", proxy="http://p:3128"),
                        USER_AGENT) is None


async def test_wire_redirect_elsewhere_than_http_is_an_invalid_url(scripted: Scripted) -> None:
    scripted.answer = b"HTTP/1.1 302 Found\r\nLocation: mailto:ops@example.org\r\n\r\n"
    result = await run(HttpProbe(url=scripted.url()))
    assert (result.status, result.reason) == (Status.DOWN, "invalid URL")
    async with Prober() as prober:
        reference = await probe_aiohttp(HttpProbe(url=scripted.url()), 2.0, prober.resources)
    assert reference.reason == "invalid URL"

"""The lean plain-http exchange: the same request as aiohttp's, and its reading of answers
(tests/probes/test_http_corpus.py holds its verdicts to aiohttp's, shape by shape)."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from agent.model import Check, HttpProbe, ProbeResult, Status
from agent.probes import Prober
from agent.probes.http import BODY_LIMIT, USER_AGENT, probe_aiohttp
from agent.probes.wire import Reading, lean_request


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
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        size = int(length.group(1)) if length else 0
        body = await asyncio.wait_for(reader.readexactly(size), 5)
        state.heads.append(head + body)
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


GOOD = [
    pytest.param(chunked(b"all ", b"OK"), id="chunked"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                 % len(gzip.compress(b"all OK")) + gzip.compress(b"all OK"), id="gzip"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"
                 b"all OK", id="interim 100"),
    pytest.param(b"HTTP/1.1 200 OK\nX-Folded: a\n b\nContent-Length: 6\n\nall OK", id="LF, fold"),
]


@pytest.mark.parametrize("answer", GOOD)
def test_reading_a_good_answer_in_two_reads_anywhere_gives_the_same_response(
    answer: bytes
) -> None:
    """Where the reads split an answer changes nothing when nothing is wrong with it."""
    whole = Reading(BODY_LIMIT)
    whole.feed(answer)
    whole.end()
    assert whole.head is not None and whole.body() == b"all OK"
    for cut in range(1, len(answer)):
        split = Reading(BODY_LIMIT)
        split.feed(answer[:cut])
        split.feed(answer[cut:])
        split.end()
        assert (split.head, split.body()) == (whole.head, whole.body()), cut


def test_reading_keeps_the_first_value_of_a_repeated_header_as_aiohttps_get_does() -> None:
    reading = Reading(BODY_LIMIT)
    reading.feed(b"HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n"
                 b"Content-Length: 0\r\n\r\n")
    assert reading.head is not None and reading.head.headers["location"] == "/a"


def test_reading_stops_decoding_at_the_limit() -> None:
    body = gzip.compress(b"x" * (4 * BODY_LIMIT))
    reading = Reading(BODY_LIMIT)
    reading.feed(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                 % len(body) + body)
    assert reading.body_done() and len(reading.body()) == BODY_LIMIT


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
    assert lean_request(HttpProbe(url="http://127.0.0.1/", method="HEAD"), USER_AGENT) is None
    assert lean_request(HttpProbe(url="http://127.0.0.1/", proxy="http://p:3128"),
                        USER_AGENT) is None


async def test_wire_redirect_elsewhere_than_http_is_an_invalid_url(scripted: Scripted) -> None:
    scripted.answer = b"HTTP/1.1 302 Found\r\nLocation: mailto:ops@example.org\r\n\r\n"
    result = await run(HttpProbe(url=scripted.url()))
    assert (result.status, result.reason) == (Status.DOWN, "invalid URL")
    async with Prober() as prober:
        reference = await probe_aiohttp(HttpProbe(url=scripted.url()), 2.0, prober.resources)
    assert reference.reason == "invalid URL"

"""A lean HTTP/1.1 exchange for the usual probe: plain http, no proxy, a fresh connection.

aiohttp builds a request object, a connector key, timers, trace hooks and a response object
for every request: about 0.3 ms of CPU beyond the socket work, which at 333 probes a second
is a third of a core (measured here: 0.85 CPU-s per 1,000 fresh-connection requests through
aiohttp, 0.52 through a bare asyncio stream). This module sends the same request aiohttp
would (same headers, `Connection: close`), reads the status line and headers and, only when
the probe checks it, the body; then closes.

aiohttp stays the reference and does everything else: https, proxies, credentials in the
URL, and following redirects (this reader hands back the first redirect, and aiohttp goes
on from its Location). Failures read as aiohttp's do, so reasons do not depend on
which of the two ran: "connection refused", "DNS: ...", "server disconnected",
"bad response", "bad response body".
"""

from __future__ import annotations

import asyncio
import re
import socket
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import lru_cache

import aiohappyeyeballs
from aiohttp.abc import AbstractResolver
from yarl import URL

from agent.model import HttpProbe

HEAD_LIMIT = 64 * 1024  # status line and headers; aiohttp refuses far less per line
REDIRECTS = frozenset({301, 302, 303, 307, 308})
HAPPY_EYEBALLS_DELAY = 0.25  # as aiohttp's connector: the next address after 250 ms
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?:[ \t][^\r\n]*)?")
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s\";]+)", re.IGNORECASE)


class BadResponse(Exception):
    """The status line, headers or framing cannot be read (aiohttp: ClientResponseError)."""


class BadBody(Exception):
    """The body ends early or its chunks or compression are broken (ClientPayloadError)."""


class Disconnected(Exception):
    """The server closed before the response's headers (aiohttp: ServerDisconnectedError)."""


class Redirect(Exception):
    """The response is a redirect to follow (aiohttp follows it from there on)."""

    def __init__(self, status: int, location: str) -> None:
        super().__init__(status, location)
        self.status = status
        self.location = location


@dataclass(frozen=True)
class Request:
    """What to connect to and the whole request to send."""

    host: str
    port: int
    data: bytes


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes | None  # None unless asked for

    @property
    def charset(self) -> str | None:
        match = _CHARSET.search(self.headers.get("content-type", ""))
        return match.group(1) if match else None


@lru_cache(maxsize=100_000)
def lean_request(spec: HttpProbe, user_agent: str) -> Request | None:
    """The request for `spec` as aiohttp would write it, or None where aiohttp must send it
    (https, a proxy, credentials in the URL)."""
    url = URL(spec.url)
    if url.scheme != "http" or spec.proxy or url.user is not None or not url.raw_host:
        return None
    headers = {"host": ("Host", url.host_port_subcomponent or url.raw_host),
               "user-agent": ("User-Agent", user_agent)}
    for name, value in spec.headers:
        headers[name.lower()] = (name, value)
    defaults = [("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate")]
    body = spec.body.encode() if spec.body is not None else b""
    if spec.body is not None:
        defaults += [("Content-Length", str(len(body))),
                     ("Content-Type", "text/plain; charset=utf-8")]
    for name, value in defaults:
        headers.setdefault(name.lower(), (name, value))
    headers["connection"] = ("Connection", "close")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.values())
    line = f"{spec.method.upper()} {url.raw_path_qs} HTTP/1.1\r\n"
    return Request(url.raw_host, url.port or 80, (line + head + "\r\n").encode() + body)


async def connect(request: Request, family: int, resolver: AbstractResolver) -> socket.socket:
    """Open a connection to the request's host; raise OSError as aiohttp's connector would
    (a `DNSFailure` for a failed look-up)."""
    infos = await _addresses(request, family, resolver)
    return await aiohappyeyeballs.start_connection(infos,
                                                   happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY)


class SocketReader:
    """The reads an HTTP response needs, straight from a non-blocking socket.

    Not asyncio's transport and StreamReader: the selector transport of Python 3.11 keeps a
    reference cycle (itself and a bound method of its own) that only the cycle collector
    frees. At thousands of probes a second those collections, each walking every live object,
    took most of the event loop (measured: 7 s in every 10 during a mass outage). Raises as
    StreamReader does: IncompleteReadError at an early end, LimitOverrunError past `limit`.
    """

    def __init__(self, sock: socket.socket, limit: int = HEAD_LIMIT) -> None:
        self.sock = sock
        self.limit = limit
        self.buffer = bytearray()
        self.eof = False
        self.loop = asyncio.get_running_loop()

    async def _fill(self) -> bool:
        """Read what has arrived into the buffer; False at the end of the stream."""
        if not self.eof:
            data = await self.loop.sock_recv(self.sock, 65536)
            self.buffer += data
            self.eof = not data
        return not self.eof

    async def readuntil(self, separator: bytes) -> bytes:
        while (index := self.buffer.find(separator)) < 0:
            if len(self.buffer) > self.limit:
                raise asyncio.LimitOverrunError("separator not found in time", len(self.buffer))
            if not await self._fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), None)
        return self._take(index + len(separator))

    async def read(self, size: int) -> bytes:
        """Up to `size` bytes; b"" at the end of the stream."""
        if not self.buffer:
            await self._fill()
        return self._take(min(size, len(self.buffer)))

    async def readexactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self._fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), size)
        return self._take(size)

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class DNSFailure(OSError):
    """The host name did not resolve; `strerror` says why, as c-ares put it."""


async def _addresses(request: Request, family: int,
                     resolver: AbstractResolver) -> list[aiohappyeyeballs.AddrInfoType]:
    for literal in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(literal, request.host)
        except OSError:
            continue
        return [_info(literal, request.host, request.port)]
    try:
        found = await resolver.resolve(request.host, request.port,
                                       socket.AddressFamily(family))
    except OSError as exc:
        raise DNSFailure(exc.errno, exc.strerror or "lookup failed") from exc
    if not found:
        raise DNSFailure(None, "lookup failed")
    return [_info(item["family"], item["host"], item["port"]) for item in found]


def _info(family: int, host: str, port: int) -> aiohappyeyeballs.AddrInfoType:
    address = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)


async def exchange(request: Request, method: str, family: int, resolver: AbstractResolver,
                   want_body: Callable[[int], bool], body_limit: int,
                   follow_redirects: bool) -> Response:
    """Send the request and read the response (its body only if `want_body(status)`).

    Raise OSError (connecting, or reading), `Disconnected`, `BadResponse`, `BadBody`, or
    `Redirect` when the answer is a redirect to follow.
    """
    sock = await connect(request, family, resolver)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, request.data)
        reader = SocketReader(sock)
        status, headers = await _read_head(reader)
        if follow_redirects and status in REDIRECTS and "location" in headers:
            raise Redirect(status, headers["location"])
        body = None
        if want_body(status):
            body = await _read_body(reader, method, status, headers, body_limit)
        return Response(status, headers, body)
    finally:
        sock.close()  # a fresh connection per probe: never kept alive


async def _read_head(reader: SocketReader) -> tuple[int, dict[str, str]]:
    """The status and headers of the final response (interim 1xx answers are skipped)."""
    for _ in range(10):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise Disconnected from exc
        except asyncio.LimitOverrunError as exc:
            raise BadResponse("headers too long") from exc
        status, headers = parse_head(head)
        if not 100 <= status < 200:
            return status, headers
    raise BadResponse("too many interim responses")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Given a response's head (status line to the blank line), return status and headers;
    raise BadResponse if it is not HTTP/1.x."""
    lines = head.split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise BadResponse("bad status line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in b" \t":
            raise BadResponse("bad header line")
        headers[name.decode("latin-1").lower()] = value.strip().decode("latin-1")
    return int(match.group(1)), headers


async def _read_body(reader: SocketReader, method: str, status: int,
                     headers: dict[str, str], limit: int) -> bytes:
    """At most `limit` bytes of the decoded body; raise BadBody if it is cut short."""
    if method.upper() == "HEAD" or status in (204, 304):
        return b""
    decoder = _decoder(headers.get("content-encoding", ""))
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = _chunks(reader)
    elif "content-length" in headers:
        chunks = _sized(reader, _length(headers["content-length"]))
    else:
        chunks = _to_close(reader)
    out: list[bytes] = []
    size = 0
    async for chunk in chunks:
        data = decoder(chunk, limit - size)
        out.append(data)
        size += len(data)
        if size >= limit:
            break
    return b"".join(out)[:limit]


def _length(text: str) -> int:
    if not text.isdigit():
        raise BadResponse("bad Content-Length")
    return int(text)


async def _sized(reader: SocketReader, length: int,
                 short: str = "body shorter than its Content-Length") -> AsyncIterator[bytes]:
    left = length
    while left > 0:
        chunk = await reader.read(min(left, 65536))
        if not chunk:
            raise BadBody(short)
        left -= len(chunk)
        yield chunk


async def _to_close(reader: SocketReader) -> AsyncIterator[bytes]:
    while chunk := await reader.read(65536):
        yield chunk


async def _chunks(reader: SocketReader) -> AsyncIterator[bytes]:
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise BadBody("bad chunk size") from exc
            if size == 0:
                return
            async for chunk in _sized(reader, size, short="body cut short"):
                yield chunk
            if await reader.readexactly(2) != b"\r\n":
                raise BadBody("bad chunk end")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise BadBody("body cut short") from exc


Decoder = Callable[[bytes, int], bytes]


def _decoder(encoding: str) -> Decoder:
    """Given Content-Encoding, return what turns body bytes into at most n decoded bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda data, n: data
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadBody(f"unsupported Content-Encoding {encoding}")
    # gzip: header auto-detected (47); deflate: zlib-wrapped, as aiohttp reads it.
    inflate = zlib.decompressobj(47 if "gzip" in encoding else zlib.MAX_WBITS)

    def decode(data: bytes, n: int) -> bytes:
        try:
            return inflate.decompress(data, max(n, 1))
        except zlib.error as exc:
            raise BadBody("bad compressed body") from exc

    return decode


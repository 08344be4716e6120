"""A lean HTTP/1.1 exchange for the usual probe: plain http, no proxy, a fresh connection.

aiohttp builds a request object, a connector key, timers, trace hooks and a response object
for every request: about 0.3 ms of CPU beyond the socket work, which at 333 probes a second
is a third of a core. This module sends the same request aiohttp would (same headers,
`Connection: close`) on a raw non-blocking socket and reads the answer with llhttp, through
httptools: the parser aiohttp's own C parser is built on, set up the same way (the same
leniencies, the same limits, the same checks aiohttp adds on top), with the body decoded by
aiohttp's own decompressors. So both paths give one verdict, and the same reason, for every
answer: tests/probes/test_http_corpus.py holds them to it, shape by shape, and
docs/probe-verdicts.md lists the shapes.

aiohttp does everything else: https, proxies and credentials in the URL. Failures read as
aiohttp's do: "connection refused", "DNS: ...", "server disconnected", "bad response",
"bad response body".
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import aiohappyeyeballs
import httptools
from aiohttp.abc import AbstractResolver
from aiohttp.compression_utils import (
    HAS_BROTLI,
    HAS_ZSTD,
    BrotliDecompressor,
    ZLibDecompressor,
    ZSTDDecompressor,
)
from aiohttp.helpers import DEBUG as AIOHTTP_DEBUG
from yarl import URL

if TYPE_CHECKING:
    from agent.probes.http import HttpProbe  # which imports this module

HAPPY_EYEBALLS_DELAY = 0.25  # as aiohttp's connector: the next address after 250 ms
ACCEPT_ENCODING = "gzip, deflate, br"  # what both paths ask for (aiohttp's session too)
READ_SIZE = 256 * 1024  # what an asyncio transport reads at once: the same bytes per parse
# aiohttp's limits (its ClientSession is given these too): a reason phrase, or a header's
# name and value together, longer than MAX_FIELD bytes; more than MAX_HEADERS headers.
MAX_FIELD = 8190
MAX_HEADERS = 128
# aiohttp's C parser is lenient with responses, as below, unless in Python's dev mode; then
# it refuses a repeat of any of SINGLETONS instead (RFC 9110's singleton fields).
STRICT = AIOHTTP_DEBUG
LENIENCIES = {} if STRICT else {
    "lenient_headers": True, "lenient_optional_cr_before_lf": True,
    "lenient_spaces_after_chunk_size": True}
SINGLETONS = frozenset({b"content-length", b"content-location", b"content-range",
                        b"content-type", b"etag", b"host", b"max-forwards", b"server",
                        b"transfer-encoding", b"user-agent"})
DECODED = frozenset({"gzip", "deflate", "br", "zstd"})  # other codings pass through as is


class BadResponse(Exception):
    """The status line, headers or framing cannot be read (aiohttp: ClientResponseError)."""


class BadBody(Exception):
    """The body ends early or its chunks or compression are broken (ClientPayloadError)."""


class Disconnected(Exception):
    """The server closed before the response's headers (aiohttp: ServerDisconnectedError)."""


@dataclass(frozen=True)
class Request:
    """What to connect to and the whole request to send."""

    host: str
    port: int
    data: bytes


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its first value
    body: bytes | None  # None unless asked for


@lru_cache(maxsize=100_000)
def lean_request(spec: HttpProbe, user_agent: str) -> Request | None:
    """The request for `spec` as aiohttp would write it, or None where aiohttp must send it:
    https, a proxy, credentials in the URL, or HEAD (httptools cannot tell llhttp that an
    answer has no body, as aiohttp's parser does)."""
    url = URL(spec.url)
    if url.scheme != "http" or spec.proxy or url.user is not None or not url.raw_host:
        return None
    if spec.method.upper() == "HEAD":
        return None
    headers = {"host": ("Host", url.host_port_subcomponent or url.raw_host),
               "user-agent": ("User-Agent", user_agent)}
    for name, value in spec.headers:
        headers[name.lower()] = (name, value)
    defaults = [("Accept", "*/*"), ("Accept-Encoding", ACCEPT_ENCODING)]
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


WantBody = Callable[[int, Mapping[str, str]], bool]


async def exchange(request: Request, family: int, resolver: AbstractResolver,
                   want_body: WantBody, body_limit: int) -> Response:
    """Send the request and read the response: its body (at most `body_limit` decoded bytes)
    only if `want_body(status, headers)`.

    Raise OSError (connecting, or reading), `Disconnected`, `BadResponse` or `BadBody`.
    Not asyncio's transports: the selector transport of Python 3.11 keeps a reference cycle
    that only the cycle collector frees, and at thousands of probes a second those
    collections took most of the event loop (measured: 7 s in every 10 in a mass outage).
    """
    sock = await connect(request, family, resolver)
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, request.data)
        reading = Reading(body_limit)
        wanted: bool | None = None
        while True:
            data = await loop.sock_recv(sock, READ_SIZE)
            if data:
                reading.feed(data)
            else:
                reading.end()
            if reading.head is None:
                continue
            if wanted is None:
                wanted = want_body(reading.head.status, reading.head.headers)
            if not wanted:
                return reading.head
            if reading.body_done():
                return Response(reading.head.status, reading.head.headers, reading.body())
    finally:
        sock.close()  # a fresh connection per probe: never kept alive


class Reading:
    """One response as it arrives, parsed by llhttp with aiohttp's settings and checks.

    `feed` each read and `end` at the end of the stream. A failure raises as aiohttp fails:
    a head that cannot be read, or a parser error in the same read that completed the head,
    fails the whole response (BadResponse); a body that is cut short or will not decode
    fails only reading the body (BadBody); no head at all is Disconnected. Interim 1xx
    answers are skipped, as aiohttp skips them (a 101 is final).
    """

    def __init__(self, limit: int) -> None:
        self.head: Response | None = None  # the final response's status and headers
        self.complete = False  # the final response has ended
        self.body_error: BadBody | None = None
        self._limit = limit
        self._parser = httptools.HttpResponseParser(self)
        self._parser.set_dangerous_leniencies(**LENIENCIES)
        self._framed = False  # a Content-Length or chunks: the body's end is not the close
        self._decoder: Decoder | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self.on_message_begin()

    def feed(self, data: bytes) -> None:
        had_head = self.head is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # after a 101 the connection speaks another protocol: the response ended
        except httptools.HttpParserError as exc:
            self._failed(exc.__context__ or exc, had_head)

    def _failed(self, cause: BaseException, had_head: bool) -> None:
        if isinstance(cause, BadBody):  # llhttp stops there, as aiohttp's payload does
            self.body_error = cause
        elif not had_head:  # aiohttp fails the response the read completed the head of
            raise BadResponse(str(cause)) from cause
        elif not self.complete:  # aiohttp has handed the response over: its body fails
            self.body_error = BadBody(f"after the head: {cause}")

    def end(self) -> None:
        """The server closed the connection: a body that runs to the close has ended."""
        if self.head is None:
            raise Disconnected
        if self.complete or self.body_error is not None:
            return
        if self._framed or not self._decoded_to_the_end():
            self.body_error = BadBody("body cut short")
        else:
            self.complete = True

    def body_done(self) -> bool:
        return (self.complete or self.body_error is not None or self._size >= self._limit)

    def body(self) -> bytes:
        """The decoded body, at most `limit` bytes; raise BadBody if it could not be read."""
        if self.body_error is not None:
            raise self.body_error
        return b"".join(self._parts)[:self._limit]

    # --- httptools' callbacks: what aiohttp's C parser adds to llhttp ----------------------

    def on_message_begin(self) -> None:
        self._reason = 0
        self._count = 0
        self._fields: dict[bytes, bytes] = {}  # lower-case name: its first value
        self._encoding = b""  # the last Content-Encoding, as aiohttp takes it
        self._codings = b""  # every Transfer-Encoding, joined
        self._old_websocket = False

    def on_status(self, data: bytes) -> None:
        self._reason += len(data)
        if self._reason > MAX_FIELD:
            raise BadResponse("status line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_FIELD:
            raise BadResponse("header too long")
        value = value.rstrip(b" \t")  # llhttp strips the spaces before a value, not after
        if b"\x00" in value:
            raise BadResponse("NUL in a header value")
        self._count += 1
        if self._count > MAX_HEADERS:
            raise BadResponse("too many headers")
        name = name.lower()
        if name in self._fields and STRICT and name in SINGLETONS:
            raise BadResponse(f"repeated {name.decode('latin-1')}")
        self._fields.setdefault(name, value)
        if name == b"content-encoding":
            self._encoding = value
        elif name == b"transfer-encoding":
            self._codings += b"," + value
        elif name == b"sec-websocket-key1":
            self._old_websocket = True

    def on_headers_complete(self) -> None:
        if self._old_websocket:
            raise BadResponse("Sec-WebSocket-Key1")  # aiohttp refuses the old websocket draft
        decoder = _decoder(self._encoding)
        status = self._parser.get_status_code()
        if (100 <= status < 200 and status != 101) or self.head is not None:
            return  # an interim answer (the final one follows), or bytes after the final one
        headers = {name.decode("latin-1"): value.decode("utf-8", "surrogateescape")
                   for name, value in self._fields.items()}
        self.head = Response(status, headers, None)
        self._decoder = decoder
        self._framed = b"content-length" in self._fields or _chunked(self._codings)

    def on_body(self, data: bytes) -> None:
        if self.head is None or self.complete or self._size >= self._limit:
            return  # past the limit nothing more is decoded
        room = self._limit - self._size
        decoded = data if self._decoder is None else self._decoder.decode(data, room)
        self._parts.append(decoded)
        self._size += len(decoded)

    def on_message_complete(self) -> None:
        if self.head is None or self.complete:
            return
        if not self._decoded_to_the_end():  # aiohttp raises this from its parser
            raise BadResponse("compressed stream cut short")
        self.complete = True

    def _decoded_to_the_end(self) -> bool:
        return self._decoder is None or self._decoder.finished()


def _chunked(codings: bytes) -> bool:
    """Whether llhttp reads chunks: "chunked" is the last transfer coding."""
    return codings.rsplit(b",", 1)[-1].strip().lower() == b"chunked"


class Decoder:
    """A Content-Encoding decoded as aiohttp's DeflateBuffer decodes it, with aiohttp's own
    decompressors: deflate with or without its zlib wrapper (the first byte tells), a
    deflate stream that stops short is an error at its end, a gzip one is not."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._fed = 0
        self._inflate: ZLibDecompressor | BrotliDecompressor | ZSTDDecompressor
        if encoding == "br":
            self._inflate = BrotliDecompressor()
        elif encoding == "zstd":
            self._inflate = ZSTDDecompressor()
        else:
            self._inflate = ZLibDecompressor(encoding=encoding)

    def decode(self, data: bytes, room: int) -> bytes:
        """At most `room` decoded bytes of `data`; raise BadBody if it does not decode."""
        if not self._fed and data and self.encoding == "deflate" and data[0] & 0xF != 8:
            self._inflate = ZLibDecompressor(encoding="deflate", suppress_deflate_header=True)
        self._fed += len(data)
        try:
            parts = [self._inflate.decompress_sync(data, room)]
            size = len(parts[0])
            while self._inflate.data_available and size < room:  # each turn adds a byte
                more = self._inflate.decompress_sync(b"", room - size)
                if not more:
                    break
                parts.append(more)
                size += len(more)
        except Exception as exc:  # whatever a decompressor raises, aiohttp: a payload error
            raise BadBody(f"cannot decode {self.encoding}") from exc
        return b"".join(parts)

    def finished(self) -> bool:
        """False for a deflate stream that has not reached its end."""
        inflate = self._inflate
        if self.encoding != "deflate" or not self._fed:
            return True
        return not isinstance(inflate, ZLibDecompressor) or inflate.eof


def _decoder(encoding: bytes) -> Decoder | None:
    """The decoder for a Content-Encoding value, None for one aiohttp leaves alone; raise
    BadResponse for one aiohttp knows but cannot decode here (as it fails the response)."""
    if not encoding:
        return None
    coding = encoding.decode("utf-8", "surrogateescape")
    coding = coding.lower() if coding.isascii() else ""
    if coding not in DECODED:
        return None
    if (coding == "br" and not HAS_BROTLI) or (coding == "zstd" and not HAS_ZSTD):
        raise BadResponse(f"cannot decode {coding} here")
    return Decoder(coding)

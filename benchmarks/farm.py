"""A loopback target farm: HTTP servers on 127.0.0.2.. that answer as one mode says.

Modes: `healthy` (200 "OK" at once), `slow` (200 after `--slow` seconds), `503`, and `hang`
(accept, read the request, never answer; the connection is held until the client gives up,
or `HOLD_LIMIT` seconds). Every answer closes the connection: probes open a fresh one each.

Run as its own process (`python -m benchmarks.farm`), so its CPU is never counted as the
agent's. It prints one JSON line when listening: {"targets": [...], "control": port}. The
control port takes `GET /mode?set=hang` (answers the switch time) and `GET /stats`.

The farm also measures, at the target, how regularly each path is requested: with a fixed
`--interval`, request n of a path is due at first + n x interval, and its drift is how much
later it arrived. That is an independent check of the agent's own schedule-lag histogram.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

MODES = ("healthy", "slow", "503", "hang")
HOLD_LIMIT = 60.0  # a hung connection is closed by the farm after this, at the latest
MAX_LIFETIME = 3600.0  # the farm stops by itself after this, whatever happens
RESPONSES = {
    "healthy": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
    "slow": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
    "503": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\n"
           b"Connection: close\r\n\r\nunavailable",
}
DRIFT_BOUNDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Farm:
    """The shared state of every listener: mode, counters and per-path regularity."""

    interval: float
    slow: float
    mode: str = "healthy"
    mode_since: float = field(default_factory=time.time)
    requests: int = 0
    first_request: float | None = None
    open: int = 0
    peak_open: int = 0
    seen: dict[bytes, tuple[float, int]] = field(default_factory=dict)
    drift_counts: list[int] = field(default_factory=lambda: [0] * (len(DRIFT_BOUNDS) + 1))
    drift_max: float = 0.0

    def arrived(self, path: bytes, now: float) -> None:
        """Count a request and how late it came against its path's fixed cadence."""
        self.requests += 1
        if self.first_request is None:
            self.first_request = now
        first, count = self.seen.get(path, (now, 0))
        self.seen[path] = (first, count + 1)
        if count == 0 or self.mode != "healthy":
            return
        drift = max(0.0, now - (first + count * self.interval))
        self.drift_max = max(self.drift_max, drift)
        for index, bound in enumerate(DRIFT_BOUNDS):
            if drift <= bound:
                self.drift_counts[index] += 1
                return
        self.drift_counts[-1] += 1

    def reset_drift(self) -> None:
        """Start the regularity check afresh (after a mode change broke every cadence)."""
        self.seen.clear()
        self.drift_counts = [0] * (len(DRIFT_BOUNDS) + 1)
        self.drift_max = 0.0

    def stats(self) -> dict[str, object]:
        return {
            "mode": self.mode, "mode_since": self.mode_since, "requests": self.requests,
            "first_request": self.first_request, "open": self.open,
            "peak_open": self.peak_open, "paths": len(self.seen),
            "drift": {"bounds": list(DRIFT_BOUNDS), "counts": self.drift_counts,
                      "max": self.drift_max},
        }


class Target(asyncio.Protocol):
    """One connection: wait for the request's headers, then answer as the mode says."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.answered = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.farm.open += 1
        self.farm.peak_open = max(self.farm.peak_open, self.farm.open)
        self.timer = asyncio.get_running_loop().call_later(HOLD_LIMIT, transport.close)

    def data_received(self, data: bytes) -> None:
        if self.answered:
            return
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > 65536:
                self._close()
            return
        self.answered = True
        path = self.buffer.split(b" ", 2)[1] if self.buffer.count(b" ") >= 2 else b"/"
        self.farm.arrived(path, time.time())
        mode = self.farm.mode
        if mode == "hang":
            return  # hold the connection: the client times out and closes it
        if mode == "slow":
            asyncio.get_running_loop().call_later(self.farm.slow, self._answer, mode)
        else:
            self._answer(mode)

    def _answer(self, mode: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSES[mode])
            self.transport.close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.farm.open -= 1
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None


async def control(farm: Farm, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    """GET /mode?set=MODE, GET /stats, GET /reset-drift: tiny JSON answers."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        target = head.split(b" ", 2)[1].decode()
        status, body = 200, {}
        if target.startswith("/mode?set="):
            mode = target.partition("=")[2]
            if mode in MODES:
                farm.mode, farm.mode_since = mode, time.time()
                farm.reset_drift()
                body = {"mode": mode, "at": farm.mode_since}
            else:
                status, body = 400, {"error": f"mode must be one of {MODES}"}
        elif target == "/reset-drift":
            farm.reset_drift()
        elif target == "/stats":
            body = farm.stats()
        else:
            status, body = 404, {"error": "unknown path"}
        data = json.dumps(body).encode()
        writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d"
                     b"\r\nConnection: close\r\n\r\n%s" % (status, len(data), data))
        await writer.drain()
    writer.close()


async def serve(args: argparse.Namespace) -> None:
    farm = Farm(interval=args.interval, slow=args.slow, mode=args.mode)
    loop = asyncio.get_running_loop()
    servers, targets = [], []
    for index in range(args.addresses):
        host = f"127.0.0.{2 + index}"
        server = await loop.create_server(lambda: Target(farm), host, 0, backlog=4096,
                                          family=socket.AF_INET)
        servers.append(server)
        targets.append(f"{host}:{server.sockets[0].getsockname()[1]}")
    control_server = await asyncio.start_server(
        lambda r, w: control(farm, r, w), "127.0.0.1", args.control_port)
    port = control_server.sockets[0].getsockname()[1]
    print(json.dumps({"targets": targets, "control": port}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.lifetime)
    for server in (*servers, control_server):
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=8,
                        help="listen on 127.0.0.2 .. 127.0.0.(1+N), one port each")
    parser.add_argument("--mode", choices=MODES, default="healthy")
    parser.add_argument("--interval", type=float, default=30.0,
                        help="the cadence the agent probes each path at (for the drift check)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds a slow answer takes")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=MAX_LIFETIME)
    args = parser.parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CPU per 1,000 plain-http probes, by hand: the lean exchange (agent/probes/wire.py) against
aiohttp, on loopback.

    python -m benchmarks.wire_cpu [--requests 5000] [--concurrency 20] [--repeat 3]

A child process serves a fixed small health answer (a few headers and a 60-byte body, then
it closes) on 127.0.0.1; this process probes it through `Prober.run`, as the daemon does, and
reads its own CPU time (the server's is not counted). Each path is run status-only and with a
body check; the best of `--repeat` runs is printed, in CPU-s per 1,000 probes. Bounded: every
run stops after `--requests` probes, and the server after --serve-for seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from agent.model import Check, HttpProbe, ProbeResult, Status
from agent.probes import PROBES, Prober
from agent.probes.http import probe_aiohttp

BODY = b'{"status": "OK", "checks": {"db": "ok", "cache": "ok"}}\n'
ANSWER = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 07 Dec 2026 10:00:00 GMT\r\n"
          b"Content-Type: application/json\r\nCache-Control: no-store\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)) + BODY


class Answer(asyncio.Protocol):
    """Answers the first bytes of a request with ANSWER and closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(ANSWER)  # type: ignore[attr-defined]
        self.transport.close()


async def serve(port: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await asyncio.sleep(seconds)


async def run(probe: Callable[..., Awaitable[ProbeResult]] | None, spec: HttpProbe,
              requests: int, concurrency: int) -> float:
    """CPU-s this process spends per 1,000 probes of `spec` (`probe`: None for the agent's
    own choice of path)."""
    probes = dict(PROBES) if probe is None else {**PROBES, "http": probe}
    async with Prober(probes=probes) as prober:
        check = Check(spec=spec, timeout=5.0)
        assert (await prober.run(check)).status is Status.UP  # warm, and a sanity check
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                result = await prober.run(check)
                assert result.status is Status.UP, result.reason

        started = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return (time.process_time() - started) / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=18631)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-for", type=float, default=600.0)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.port, args.serve_for))
        return
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.wire_cpu", "--serve",
                               "--port", str(args.port), "--serve-for", str(args.serve_for)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{args.port}/health"
        for name, probe in (("lean exchange", None), ("aiohttp", probe_aiohttp)):
            for label, spec in (("status only", HttpProbe(url=url)),
                                ("body check", HttpProbe(url=url, body_contains="OK"))):
                best = min(asyncio.run(run(probe, spec, args.requests, args.concurrency))
                           for _ in range(args.repeat))
                print(f"{name:14} {label:12} {best:.3f} CPU-s per 1,000 probes")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()

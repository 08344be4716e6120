"""A simulated estate on loopback whose systems fail and recover on a fixed script.

The script repeats every `CYCLE` seconds so a newcomer sees each kind of event within a few
minutes: an email outage within the first minute, a slow finance system (degraded), a core
network failure that takes its dependants down with it (costed once, at the root), and a
care-records outage with direct costs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

CYCLE = 240.0
# (system, from, to, mode) in seconds into each cycle; outside these, a system is up.
SCRIPT: tuple[tuple[str, float, float, str], ...] = (
    ("email", 20, 80, "down"),
    ("finance", 95, 135, "slow"),
    ("network-core", 150, 195, "down"),
    ("care-records", 200, 230, "down"),
)
DEPENDS_ON_CORE = ("email", "finance", "care-records", "intranet")
SLOW_SECONDS = 1.5


def mode_at(system: str, elapsed: float) -> str:
    """'up', 'down' or 'slow' for `system` at `elapsed` seconds into the demo."""
    t = elapsed % CYCLE
    if system in DEPENDS_ON_CORE and mode_at("network-core", elapsed) == "down":
        return "down"
    for name, start, end, mode in SCRIPT:
        if name == system and start <= t < end:
            return mode
    return "up"


@dataclass
class Estate:
    http_address: str
    tcp_address: str
    stop: Callable[[], asyncio.Future[None]] | None = None


async def start_estate(clock: Callable[[], float] = time.monotonic) -> tuple[Estate, Callable]:
    """Serve the estate on 127.0.0.1; return its addresses and an async stop function."""
    began = clock()

    async def handle(request: web.Request) -> web.Response:
        mode = mode_at(request.match_info["system"], clock() - began)
        if mode == "down":
            return web.Response(status=503, text="Service Unavailable")
        if mode == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/{system}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = runner.addresses[0][1]
    core = _CoreSwitch()
    await core.open(0)
    ticker = asyncio.create_task(_drive(core, clock, began))

    async def stop() -> None:
        ticker.cancel()
        await core.close()
        await runner.cleanup()

    return Estate(f"127.0.0.1:{http_port}", f"127.0.0.1:{core.port}"), stop


class _CoreSwitch:
    """A TCP listener that is closed while the script says the core network is down."""

    def __init__(self) -> None:
        self.port = 0
        self.server: asyncio.base_events.Server | None = None

    async def open(self, port: int) -> None:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


async def _drive(core: _CoreSwitch, clock: Callable[[], float], began: float) -> None:
    while True:
        down = mode_at("network-core", clock() - began) == "down"
        if down and core.server is not None:
            await core.close()
        elif not down and core.server is None:
            await core.open(core.port)
        await asyncio.sleep(0.25)

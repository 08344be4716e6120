"""`outage-agent run` with 300 broken targets at once and a few healthy ones: the broken ones
must not delay the healthy ones' probes beyond one interval."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from support.realparts import AgentProcess, HttpTarget, free_port, get_json, wait_for

HOLD_LIMIT = 30.0  # seconds a fault server holds a connection at most
HEALTHY_INTERVAL = 1.0
FAULTY = {"hang": 80, "stall": 80, "refused": 70, "dns": 70}  # 300 targets
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class FaultServers:
    """Loopback targets that fail, in a thread of their own: an HTTP port that accepts and
    never answers, one that sends headers and then stalls the body, a closed port, and a
    UDP port that takes DNS queries and never answers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: list[asyncio.Server] = []
        self.refused_port = free_port()
        self.dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def __enter__(self) -> FaultServers:
        self.thread.start()
        self.hang_port = self._start(self._hang)
        self.stall_port = self._start(self._stall)
        self.dns.bind(("127.0.0.1", 0))  # nothing ever reads it: queries go unanswered
        self.dns_port = self.dns.getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            self.loop.call_soon_threadsafe(server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.dns.close()

    def _start(self, handler: Handler) -> int:
        async def start() -> int:
            server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=1024)
            self.servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)

    @staticmethod
    async def _until_hung_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError):
            while await asyncio.wait_for(reader.read(4096), HOLD_LIMIT):
                pass
        writer.close()

    async def _hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._until_hung_up(reader, writer)

    async def _stall(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HOLD_LIMIT)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            await writer.drain()
        await self._until_hung_up(reader, writer)


def _faulty_probe(kind: str, faults: FaultServers, index: int) -> str:
    if kind == "dns":
        return f'{{type: dns, name: "n{index}.test", server: "127.0.0.1:{faults.dns_port}"}}'
    port = {"hang": faults.hang_port, "stall": faults.stall_port,
            "refused": faults.refused_port}[kind]
    return f'{{type: http, url: "http://127.0.0.1:{port}/{index}", body_contains: "OK"}}'


def write_config(path: Path, faults: FaultServers, healthy: list[HttpTarget]) -> list[str]:
    """Write the config; return the healthy systems' names."""
    lines = ["agent: {ledger: ledger.db, evaluation_interval: 2s}",
             "cost: {annual_cost_per_user: 25000, concurrent_users: 2000}",
             "defaults: {interval: 2s, retry_interval: 2s, timeout: 1500ms, "
             "failure_threshold: 2, success_threshold: 2, users_share: 0.001}",
             "systems:"]
    for kind, count in FAULTY.items():
        for index in range(count):
            lines.append(f"  - {{name: {kind}-{index:03d}, "
                         f"probe: {_faulty_probe(kind, faults, index)}}}")
    names = [f"healthy-{index}" for index in range(len(healthy))]
    for name, target in zip(names, healthy, strict=True):
        lines.append(f'  - {{name: {name}, interval: 1s, retry_interval: 1s, timeout: 500ms, '
                     f'probe: {{type: http, url: "{target.url}", body_contains: "OK"}}}}')
    path.write_text("\n".join(lines) + "\n")
    return names


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[tuple[AgentProcess, list[str]]]:
    healthy = [HttpTarget() for _ in range(3)]
    for target in healthy:
        target.up()
    with FaultServers() as faults:
        names = write_config(tmp_path / "agent.yaml", faults, healthy)
        agent = AgentProcess(tmp_path / "agent.yaml", tmp_path)
        try:
            yield agent, names
        finally:
            agent.stop()
            for target in healthy:
                target.down()


def _timestamps(metrics: dict[str, float], names: list[str]) -> dict[str, float]:
    return {name: metrics[f'outage_probe_last_timestamp_seconds{{system="{name}"}}']
            for name in names}


def _states(agent: AgentProcess) -> dict[str, tuple[str, str]]:
    return {s["name"]: (s["state"], (s["last_probe"] or {}).get("reason", ""))
            for s in get_json(agent.base + "/api/v1/systems")}


@pytest.mark.fault("300 targets at once that hang, stall the body, refuse, or never answer "
                   "DNS, beside 3 healthy ones (the real agent)",
                   "each broken one down with its reason; every healthy one probed at least "
                   "once per interval, no probe started over 1 s late, no run skipped")
def test_hundreds_of_broken_targets_do_not_delay_healthy_ones(
    estate: tuple[AgentProcess, list[str]],
) -> None:
    agent, healthy = estate
    agent.start()
    wait_for("every broken target confirmed down", lambda: sum(
        state == "down" for state, _ in _states(agent).values()) == sum(FAULTY.values()),
        timeout=20)

    deadline = time.time() + 10
    while time.time() < deadline:  # about 1.3 s at worst here: one interval, a little late
        metrics = agent.metrics()
        now = time.time()
        ages = {name: now - at for name, at in _timestamps(metrics, healthy).items()}
        assert max(ages.values()) < 2 * HEALTHY_INTERVAL, ages  # never an interval overdue
        time.sleep(0.3)

    metrics = agent.metrics()
    lag = "outage_probe_schedule_lag_seconds"
    assert metrics[f'{lag}_bucket{{le="1.0"}}'] == metrics[f"{lag}_count"] > 300 * 5
    missed = {key: value for key, value in metrics.items()
              if key.startswith("outage_probe_missed_runs_total")}
    assert not any(missed.values()), missed
    states = _states(agent)
    assert {states[name][0] for name in healthy} == {"up"}
    reasons = {kind: {states[f"{kind}-{i:03d}"][1] for i in range(count)}
               for kind, count in FAULTY.items()}
    assert reasons["hang"] == reasons["stall"] == {"timeout after 1.5s"}
    assert reasons["refused"] == {"connection refused"}
    assert reasons["dns"] <= {"DNS: timeout after 1.5s", "timeout after 1.5s"}, reasons["dns"]

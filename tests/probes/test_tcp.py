"""TCP probes against real loopback listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent.model import Check, ProbeResult, Status, TcpProbe
from agent.probes import Prober
from agent.probes.tcp import split_target

from .conftest import HangServer, has_ipv6_loopback


async def run(
    prober: Prober, target: str, timeout: float = 2.0, ip_version: int | None = None
) -> ProbeResult:
    spec = TcpProbe(target=target, ip_version=ip_version)
    return await prober.run(Check(spec=spec, timeout=timeout))


@pytest.fixture
async def v6_listener() -> AsyncIterator[int]:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close, "::1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)


async def test_tcp_listening_port_is_up(prober: Prober, hang_server: HangServer) -> None:
    result = await run(prober, f"127.0.0.1:{hang_server.port}")
    assert result.status is Status.UP, result.reason
    assert 0 < result.latency < 1
    for _ in range(50):  # the server sees the connection soon after; bounded wait
        if hang_server.accepted:
            break
        await asyncio.sleep(0.01)
    assert hang_server.accepted == 1


@pytest.mark.fault("TCP connection refused",
                   "down: \"connection refused\"")
async def test_tcp_closed_port_is_connection_refused(prober: Prober, closed_port: int) -> None:
    result = await run(prober, f"127.0.0.1:{closed_port}")
    assert (result.status, result.reason) == (Status.DOWN, "connection refused")


async def test_tcp_host_name_is_resolved_without_threads(
    prober: Prober, hang_server: HangServer
) -> None:
    result = await run(prober, f"localhost:{hang_server.port}", ip_version=4)
    assert result.status is Status.UP, result.reason


async def test_tcp_ipv6_bracket_form_is_up(prober: Prober, v6_listener: int) -> None:
    result = await run(prober, f"[::1]:{v6_listener}", ip_version=6)
    assert result.status is Status.UP, result.reason


async def test_tcp_address_of_the_wrong_family_is_down(prober: Prober) -> None:
    result = await run(prober, "127.0.0.1:80", ip_version=6)
    assert (result.status, result.reason) == (Status.DOWN, "127.0.0.1 is not an IPv6 address")


async def test_tcp_target_without_port_is_down(prober: Prober) -> None:
    result = await run(prober, "127.0.0.1")
    assert (result.status, result.reason) == (Status.DOWN, "no port in '127.0.0.1'")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("db.example:5432", ("db.example", 5432), id="name"),
        pytest.param("10.0.0.1:22", ("10.0.0.1", 22), id="ipv4"),
        pytest.param("[2001:db8::1]:443", ("2001:db8::1", 443), id="ipv6"),
    ],
)
def test_split_target(target: str, expected: tuple[str, int]) -> None:
    assert split_target(target) == expected

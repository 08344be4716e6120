"""ICMP probes to 127.0.0.1 in every mode this machine allows, and the `ping` output parser."""

from __future__ import annotations

import shutil
import socket

import pytest

from agent.model import Check, IcmpProbe, ProbeResult, Status
from agent.probes import IcmpMode, Prober
from agent.probes.icmp import (
    can_open,
    detect_mode,
    no_new_privileges,
    parse_ping_output,
    ping_argv,
    reply_wait,
    unavailable_reason,
)

from .conftest import has_ipv6_loopback

IPUTILS_OK = b"""PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.048 ms
64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.042 ms

--- 127.0.0.1 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 203ms
rtt min/avg/max/mdev = 0.042/0.045/0.048/0.003 ms
"""
IPUTILS_LOST = b"""PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.

--- 192.0.2.1 ping statistics ---
2 packets transmitted, 0 received, 100% packet loss, time 1020ms
"""
BUSYBOX_HALF = b"""PING 10.0.0.1 (10.0.0.1): 56 data bytes
64 bytes from 10.0.0.1: seq=0 ttl=64 time=1.200 ms

--- 10.0.0.1 ping statistics ---
2 packets transmitted, 1 packets received, 50% packet loss
round-trip min/avg/max = 1.200/1.200/1.200 ms
"""


def usable(mode: IcmpMode) -> bool:
    """Whether this process can ping in `mode` (the test skips modes it cannot use)."""
    return {
        IcmpMode.UNPRIVILEGED: lambda: can_open(socket.SOCK_DGRAM),
        IcmpMode.PRIVILEGED: lambda: can_open(socket.SOCK_RAW),
        IcmpMode.COMMAND: lambda: shutil.which("ping") is not None and not no_new_privileges(),
    }[mode]()


async def run(
    prober: Prober, host: str, count: int = 1, ip_version: int | None = None
) -> ProbeResult:
    spec = IcmpProbe(host=host, count=count, ip_version=ip_version)
    return await prober.run(Check(spec=spec, timeout=2.0))


def test_detect_mode_finds_a_way_to_ping_when_one_exists() -> None:
    working = [
        mode
        for mode in (IcmpMode.UNPRIVILEGED, IcmpMode.PRIVILEGED, IcmpMode.COMMAND)
        if usable(mode)
    ]
    assert detect_mode() is (working[0] if working else IcmpMode.NONE)


async def test_prober_caches_the_mode_found_at_start() -> None:
    async with Prober() as prober:
        assert prober.resources.icmp_mode is detect_mode()


@pytest.mark.parametrize("mode", [IcmpMode.UNPRIVILEGED, IcmpMode.PRIVILEGED, IcmpMode.COMMAND])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_ping_loopback_is_up_with_rtt_latency(mode: IcmpMode, host: str) -> None:
    if not usable(mode):
        pytest.skip(f"ICMP {mode.value} is not allowed for this process")
    if ":" in host and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    async with Prober(icmp_mode=mode) as prober:
        result = await run(prober, host, count=2)
    assert result.status is Status.UP, result.reason
    assert 0 < result.latency < 0.5
    assert result.facts == (("icmp_packet_loss", 0.0),)


async def test_ping_host_name_is_resolved() -> None:
    if detect_mode() is IcmpMode.NONE:
        pytest.skip("no way to send ICMP here: no ICMP socket permission and no ping command")
    async with Prober() as prober:
        result = await run(prober, "localhost", ip_version=4)
    assert result.status is Status.UP, result.reason


async def test_ping_without_any_mode_is_down_with_reason() -> None:
    async with Prober(icmp_mode=IcmpMode.NONE) as prober:
        result = await run(prober, "127.0.0.1")
    assert result.status is Status.DOWN
    assert result.reason.startswith("ICMP unavailable")


def test_unavailable_icmp_says_which_group_to_allow_or_what_to_grant() -> None:
    assert unavailable_reason(62513) == (
        "ICMP unavailable: group 62513 is outside net.ipv4.ping_group_range and there is no "
        "CAP_NET_RAW: widen the range or grant CAP_NET_RAW (systemd: outage-agent-icmp-raw.conf)")


@pytest.mark.parametrize(("flag", "expected"), [("0", False), ("1", True)])
def test_no_new_privileges_is_read_from_proc_status(tmp_path, flag: str, expected: bool) -> None:
    status = tmp_path / "status"
    status.write_text(f"Name:\tpython3\nNoNewPrivs:\t{flag}\nSeccomp:\t2\n")
    assert no_new_privileges(status) is expected
    assert no_new_privileges(tmp_path / "missing") is False


@pytest.mark.parametrize(
    ("output", "status", "latency", "loss"),
    [
        pytest.param(IPUTILS_OK, Status.UP, 0.045e-3, 0.0, id="iputils"),
        pytest.param(IPUTILS_LOST, Status.DOWN, 0.0, None, id="iputils-lost"),
        pytest.param(BUSYBOX_HALF, Status.UP, 1.2e-3, 0.5, id="busybox-half-lost"),
        pytest.param(b"", Status.DOWN, 0.0, None, id="no-output"),
    ],
)
def test_parse_ping_output(
    output: bytes, status: Status, latency: float, loss: float | None
) -> None:
    result = parse_ping_output(output, count=2)
    assert result.status is status
    assert result.latency == pytest.approx(latency)
    assert dict(result.facts).get("icmp_packet_loss") == loss
    assert result.reason == ("" if status is Status.UP else "no ICMP reply (2 sent)")


def test_ping_argv_fits_the_timeout() -> None:
    assert ping_argv("::1", 3, 2.0) == [
        "ping",
        "-6",
        "-n",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "1",
        "::1",
    ]
    assert reply_wait(3, 2.0) * 3 + 2 * 0.2 == pytest.approx(2.0)
    assert reply_wait(50, 1.0) == 0.1  # never below 0.1 s per reply

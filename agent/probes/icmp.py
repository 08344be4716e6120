"""Ping a host: up if any echo reply comes back; latency is the average round trip.

Three ways to send ICMP, chosen once when the Prober starts: an unprivileged ICMP socket
(allowed by net.ipv4.ping_group_range), a raw socket (root or CAP_NET_RAW), or the system
`ping` command. If none works every ICMP probe is down with a reason saying how to allow one.
"""

from __future__ import annotations

import enum
import math
import os
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import icmplib

from agent.config.addresses import host_error
from agent.config.probes import ip_version
from agent.config.values import integer, string, validated
from agent.model import ProbeResult, Status
from agent.probes.base import ProbeType
from agent.probes.command import run_captured, summary
from agent.probes.dns import ResolveError, resolve_addresses

if TYPE_CHECKING:
    from agent.probes import Resources

INTERVAL = 0.2  # seconds between echo requests; the shortest `ping` allows without root
RTT_LINE = re.compile(rb"= [\d.]+/([\d.]+)/")  # "rtt min/avg/max/mdev = 0.04/0.05/0.06/0.01 ms"
RECEIVED = re.compile(rb"(\d+) (?:packets )?received")


@dataclass(frozen=True)
class IcmpProbe:
    host: str
    count: int = 1
    ip_version: int | None = None
    type: str = "icmp"


class IcmpMode(enum.Enum):
    UNPRIVILEGED = "unprivileged socket"
    PRIVILEGED = "raw socket"
    COMMAND = "ping command"
    NONE = "unavailable"


def can_open(kind: int) -> bool:
    """Whether this process may open an ICMP socket of `kind` (SOCK_DGRAM or SOCK_RAW)."""
    try:
        socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
    except OSError:
        return False
    return True


def no_new_privileges(status: Path = Path("/proc/self/status")) -> bool:
    """Whether this process runs with no_new_privs set (systemd's NoNewPrivileges=)."""
    try:
        return "\nNoNewPrivs:\t1\n" in status.read_text()
    except OSError:
        return False


def detect_mode() -> IcmpMode:
    """Return the first way of pinging that this process is allowed to use."""
    if can_open(socket.SOCK_DGRAM):
        return IcmpMode.UNPRIVILEGED
    if can_open(socket.SOCK_RAW):
        return IcmpMode.PRIVILEGED
    # Neither socket is ours, so `ping` needs its setuid bit or file capability, which
    # no_new_privs voids: it could only fail ("cap_set_proc: Operation not permitted").
    if shutil.which("ping") and not no_new_privileges():
        return IcmpMode.COMMAND
    return IcmpMode.NONE


def unavailable_reason(group: int) -> str:
    """Given this process's group, say how to allow it ICMP (within the reason's 200 characters;
    the sysctl's value is not shown: systemd's ProcSubset=pid hides /proc/sys)."""
    return (f"ICMP unavailable: group {group} is outside net.ipv4.ping_group_range and there is "
            "no CAP_NET_RAW: widen the range or grant CAP_NET_RAW (systemd: "
            "outage-agent-icmp-raw.conf)")


def reply_wait(count: int, timeout: float) -> float:
    """Seconds to wait for each reply so that `count` pings fit inside `timeout`."""
    count = max(1, count)
    return max(0.1, (timeout - (count - 1) * INTERVAL) / count)


async def _ping_socket(
    address: str, spec: IcmpProbe, timeout: float, privileged: bool
) -> ProbeResult:
    try:
        host = await icmplib.async_ping(
            address,
            count=spec.count,
            interval=INTERVAL,
            timeout=reply_wait(spec.count, timeout),
            privileged=privileged,
        )
    except icmplib.ICMPLibError as exc:
        return ProbeResult(Status.DOWN, 0.0, f"ICMP: {exc}")
    if not host.is_alive:
        return ProbeResult(Status.DOWN, 0.0, f"no ICMP reply ({host.packets_sent} sent)")
    facts = (("icmp_packet_loss", float(host.packet_loss)),)
    return ProbeResult(Status.UP, host.avg_rtt / 1000, facts=facts)


def parse_ping_output(output: bytes, count: int) -> ProbeResult:
    """Given iputils/busybox `ping` output, return up with the average rtt if any reply came."""
    received = RECEIVED.search(output)
    rtt = RTT_LINE.search(output)
    if not received or int(received.group(1)) == 0 or not rtt:
        return ProbeResult(Status.DOWN, 0.0, f"no ICMP reply ({count} sent)")
    loss = 1 - int(received.group(1)) / count
    return ProbeResult(Status.UP, float(rtt.group(1)) / 1000, facts=(("icmp_packet_loss", loss),))


def ping_argv(address: str, count: int, timeout: float) -> list[str]:
    wait = str(math.ceil(reply_wait(count, timeout)))
    family = "-6" if ":" in address else "-4"
    return ["ping", family, "-n", "-c", str(count), "-i", str(INTERVAL), "-W", wait, address]


async def _ping_command(address: str, spec: IcmpProbe, timeout: float) -> ProbeResult:
    try:
        done = await run_captured(ping_argv(address, spec.count, timeout), timeout)
    except TimeoutError:
        return ProbeResult(Status.DOWN, 0.0, f"timeout after {timeout:g}s")
    except OSError as exc:
        return ProbeResult(Status.DOWN, 0.0, f"ICMP: cannot run ping: {exc.strerror}")
    if done.returncode > 1:  # 1 means no reply; 2 and up mean ping itself failed
        return ProbeResult(Status.DOWN, 0.0, f"ping: {summary(done.stderr or done.stdout)}")
    return parse_ping_output(done.stdout, spec.count)


async def probe(spec: IcmpProbe, timeout: float, resources: Resources) -> ProbeResult:
    """Ping the first address of `spec.host` `spec.count` times in the mode found at start."""
    mode = resources.icmp_mode
    if mode is IcmpMode.NONE:
        return ProbeResult(Status.DOWN, 0.0, unavailable_reason(os.getgid()))
    try:
        address = (await resolve_addresses(resources.resolver, spec.host, spec.ip_version))[0]
    except ResolveError as exc:
        return ProbeResult(Status.DOWN, 0.0, str(exc))
    if mode is IcmpMode.COMMAND:
        return await _ping_command(address, spec, timeout)
    return await _ping_socket(address, spec, timeout, mode is IcmpMode.PRIVILEGED)


TYPE = ProbeType(
    "icmp", IcmpProbe, ("host",),
    {
        "host": validated(string, host_error),
        "count": lambda ctx, node: integer(ctx, node, 1, 10),
        "ip_version": ip_version,
    },
    probe,
)

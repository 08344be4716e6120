"""Open a TCP connection and close it: up when the handshake completes."""

from __future__ import annotations

import asyncio
import errno
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config.addresses import host_port_error
from agent.config.probes import ip_version
from agent.config.values import string, validated
from agent.model import ProbeResult, Status
from agent.probes.base import ProbeType
from agent.probes.dns import ResolveError, resolve_addresses

if TYPE_CHECKING:
    from agent.probes import Resources


@dataclass(frozen=True)
class TcpProbe:
    target: str  # "host:port" or "[v6]:port"
    ip_version: int | None = None
    type: str = "tcp"


def split_target(target: str) -> tuple[str, int]:
    """Given "host:port" or "[v6addr]:port", return (host, port); raise ValueError if no port."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"no port in {target!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def connect_reason(exc: OSError) -> str:
    """Given a failed connect, return a short lower-case reason like "connection refused"."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    code = exc.errno
    if code is None:
        return str(exc) or type(exc).__name__
    text = exc.strerror or os.strerror(code) or errno.errorcode.get(code, str(code))
    return text[:1].lower() + text[1:]


async def connect(address: str, port: int) -> None:
    """Complete a TCP handshake with address:port and close; raise OSError if it fails."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, address, port)
    transport.close()


async def probe(spec: TcpProbe, timeout: float, resources: Resources) -> ProbeResult:
    """Try each address of the target in turn until one accepts; down if none does."""
    try:
        host, port = split_target(spec.target)
        addresses = await resolve_addresses(resources.resolver, host, spec.ip_version)
    except (ValueError, ResolveError) as exc:
        return ProbeResult(Status.DOWN, 0.0, str(exc))
    reason = "no address"
    for address in addresses:
        try:
            await connect(address, port)
        except OSError as exc:
            reason = connect_reason(exc)
        else:
            return ProbeResult(Status.UP, 0.0)
    return ProbeResult(Status.DOWN, 0.0, reason)


TYPE = ProbeType(
    "tcp", TcpProbe, ("target",),
    {"target": validated(string, host_port_error), "ip_version": ip_version},
    probe,
)

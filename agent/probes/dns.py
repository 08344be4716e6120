"""Resolve a name with c-ares (aiodns) and check the answer; plus the lookup other probes use.

Each DNS probe gets a fresh c-ares channel. c-ares (>= 1.23) caches answers for up to their
TTL and pycares gives no way to turn that off, so a long-lived channel would keep reporting a
dead DNS server as up until the TTL ran out. A fresh channel costs about 0.25 ms of CPU.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiodns
from aiodns.error import DNSError

from agent.config.addresses import host_error, host_port_error, is_ip
from agent.config.probes import one_or_more
from agent.config.values import choice, non_empty, string, validated
from agent.model import ProbeResult, Status
from agent.probes.base import ProbeType

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver

    from agent.config.tree import Context, Node
    from agent.probes import Resources

FAMILIES = {None: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}
TRIES = 2  # one retry, for a lost UDP packet, within the probe's timeout

# c-ares status codes (ares.h) that have a shorter, more familiar name.
ARES_REASONS = {
    1: "no answer",  # ARES_ENODATA
    3: "SERVFAIL",  # ARES_ESERVFAIL
    4: "NXDOMAIN",  # ARES_ENOTFOUND
    6: "REFUSED",  # ARES_EREFUSED
    11: "connection refused",  # ARES_ECONNREFUSED
}
ARES_ETIMEOUT = 12

# The attribute of each pycares record type that an `expect` entry is compared with.
ANSWER_FIELDS = {
    "A": "addr",
    "AAAA": "addr",
    "CNAME": "cname",
    "MX": "exchange",
    "NS": "nsdname",
    "PTR": "dname",
    "SRV": "target",
    "TXT": "data",
    "CAA": "value",
    "SOA": "mname",
    "NAPTR": "replacement",
}


# What a config's `record_type` may name.
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR", "SOA")


@dataclass(frozen=True)
class DnsProbe:
    name: str
    record_type: str = "A"
    expect: tuple[str, ...] = ()  # at least one of these must be in the answer
    server: str | None = None  # "host" or "host:port"; default: the system resolver
    type: str = "dns"


def _dns_name_error(text: str) -> str | None:
    return f"{text!r} is not a DNS name" if is_ip(text) or host_error(text) else None


def _server_error(text: str) -> str | None:
    return None if is_ip(text, 6) else host_port_error(text, False)


def _check_expect(ctx: Context, fields: dict[str, Node], values: dict[str, Any]) -> None:
    """An A or AAAA probe's `expect` entries must be addresses of that family."""
    version = {"A": 4, "AAAA": 6}.get(values.get("record_type", "A"))
    for value in values.get("expect", ()) if version else ():
        if not is_ip(value, version):
            ctx.bad(fields["expect"], f"{value!r} is not an IPv{version} address")


class ResolveError(Exception):
    """A host name did not resolve; the message is a short reason like "DNS: NXDOMAIN"."""


async def resolve_addresses(
    resolver: AbstractResolver, host: str, ip_version: int | None = None
) -> list[str]:
    """Given a host name or address, return its addresses; raise ResolveError if none.

    Uses the shared c-ares resolver, never the event loop's threaded getaddrinfo, where one
    hung lookup would queue every other probe's.
    """
    if is_ip(host):
        if ip_version and ipaddress.ip_address(host).version != ip_version:
            raise ResolveError(f"{host} is not an IPv{ip_version} address")
        return [host]
    try:
        found = await resolver.resolve(host, 0, FAMILIES.get(ip_version, socket.AF_UNSPEC))
    except OSError as exc:
        raise ResolveError(f"DNS: {exc.strerror or 'lookup failed'}") from exc
    if not found:
        raise ResolveError("DNS: no address")
    return [entry["host"] for entry in found]


def split_server(server: str) -> tuple[str, int]:
    """Given "host", "host:port", "v6addr" or "[v6addr]:port", return (host, port)."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


async def nameservers(server: str, resources: Resources) -> list[str]:
    """Given the probe's server, return its addresses as c-ares wants them: "ip:port"."""
    host, port = split_server(server)
    addresses = await resolve_addresses(resources.resolver, host)
    return [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for ip in addresses]


def _normalise(value: str) -> str:
    value = value.strip().rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def _answer_value(data: Any, record_type: str) -> str:
    value = getattr(data, ANSWER_FIELDS.get(record_type, ""), data)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def answers(result: Any, record_type: str) -> list[str]:
    """Given a pycares DNSResult, return the values of the answers of the type asked for."""
    qtype = aiodns.query_type_map[record_type]
    return [_answer_value(rr.data, record_type) for rr in result.answer if rr.type == qtype]


def check_answers(values: list[str], expect: tuple[str, ...]) -> ProbeResult:
    """Up if there is an answer and, when `expect` is given, one of them is expected."""
    if not values:
        return ProbeResult(Status.DOWN, 0.0, "DNS: no answer")
    wanted = {_normalise(value) for value in expect}
    if wanted and wanted.isdisjoint(_normalise(value) for value in values):
        ordered = sorted(values)  # servers rotate records; a stable reason is easier to read
        shown = ", ".join(ordered[:3]) + (", ..." if len(ordered) > 3 else "")
        return ProbeResult(Status.DOWN, 0.0, f"DNS: unexpected answer {shown}")
    return ProbeResult(Status.UP, 0.0)


def error_reason(exc: DNSError, timeout: float) -> str:
    code = exc.args[0] if exc.args else None
    if code == ARES_ETIMEOUT:
        return f"DNS: timeout after {timeout:g}s"
    message = exc.args[1] if len(exc.args) > 1 else "lookup failed"
    return f"DNS: {ARES_REASONS.get(code, message) if isinstance(code, int) else message}"


async def probe(spec: DnsProbe, timeout: float, resources: Resources) -> ProbeResult:
    """Query `spec.name` for `spec.record_type` at the system's or the given server."""
    record_type = spec.record_type.upper()
    if record_type not in aiodns.query_type_map:
        return ProbeResult(Status.DOWN, 0.0, f"DNS: unsupported record type {record_type}")
    try:
        servers = await nameservers(spec.server, resources) if spec.server else None
    except ResolveError as exc:
        return ProbeResult(Status.DOWN, 0.0, f"DNS server {spec.server}: {exc}")
    resolver = aiodns.DNSResolver(nameservers=servers, timeout=timeout / TRIES, tries=TRIES)
    try:
        result = await resolver.query_dns(spec.name, record_type)
    except DNSError as exc:
        return ProbeResult(Status.DOWN, 0.0, error_reason(exc, timeout))
    finally:
        await resolver.close()
    return check_answers(answers(result, record_type), spec.expect)


TYPE = ProbeType(
    "dns", DnsProbe, ("name",),
    {
        "name": validated(string, _dns_name_error),
        "record_type": lambda ctx, node: choice(ctx, node, RECORD_TYPES, fold=True),
        "expect": lambda ctx, node: one_or_more(ctx, node, non_empty),
        "server": validated(string, _server_error),
    },
    probe,
    _check_expect,
)

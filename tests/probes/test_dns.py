"""DNS probes against a tiny UDP DNS server on 127.0.0.1 (conftest.DnsServer).

c-ares takes "127.0.0.1:PORT" as a server (ares_set_servers_csv), so the test server runs on
an ephemeral port and needs no privileges.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from agent.model import Check, DnsProbe, ProbeResult, Status
from agent.probes import Prober
from agent.probes.dns import split_server

from .conftest import DnsServer


async def run(
    prober: Prober, server: DnsServer, name: str, timeout: float = 2.0, **fields: Any
) -> ProbeResult:
    spec = DnsProbe(name=name, server=server.address, **fields)
    return await prober.run(Check(spec=spec, timeout=timeout))


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        pytest.param("ok.test", {}, id="A"),
        pytest.param("ok.test", {"expect": ("192.0.2.11",)}, id="A-expected"),
        pytest.param("v6.test", {"record_type": "AAAA", "expect": ("2001:DB8:0::1",)}, id="AAAA"),
        pytest.param(
            "alias.test", {"record_type": "cname", "expect": ("target.test.",)}, id="CNAME"
        ),
        pytest.param("txt.test", {"record_type": "TXT", "expect": ("v=spf1 -all",)}, id="TXT"),
        pytest.param("mx.test", {"record_type": "MX", "expect": ("MAIL.test",)}, id="MX"),
    ],
)
async def test_dns_answer_is_up(
    prober: Prober, dns_server: DnsServer, name: str, fields: dict[str, Any]
) -> None:
    result = await run(prober, dns_server, name, **fields)
    assert result.status is Status.UP, result.reason
    assert dns_server.queries[-1] == f"{name}."


@pytest.mark.parametrize(
    ("name", "fields", "reason"),
    [
        pytest.param("nx.test", {}, "DNS: NXDOMAIN", id="nxdomain"),
        pytest.param("servfail.test", {}, "DNS: SERVFAIL", id="servfail"),
        pytest.param("empty.test", {}, "DNS: no answer", id="no-data"),
        pytest.param(
            "ok.test",
            {"expect": ("192.0.2.99",)},
            "DNS: unexpected answer 192.0.2.10, 192.0.2.11",
            id="unexpected",
        ),
    ],
)
@pytest.mark.fault("DNS answer NXDOMAIN, SERVFAIL, no data or unexpected",
                   "down, the answer in the reason (\"DNS: NXDOMAIN\")")
async def test_dns_failure_is_down_with_reason(
    prober: Prober, dns_server: DnsServer, name: str, fields: dict[str, Any], reason: str
) -> None:
    result = await run(prober, dns_server, name, **fields)
    assert (result.status, result.reason) == (Status.DOWN, reason)


@pytest.mark.fault("DNS server that does not answer",
                   "down at the timeout (\"DNS: timeout after 0.6s\")")
async def test_dns_server_that_never_answers_times_out(
    prober: Prober, dns_server: DnsServer
) -> None:
    started = time.monotonic()
    result = await run(prober, dns_server, "hang.test", timeout=0.6)
    assert result.status is Status.DOWN
    assert result.reason in ("DNS: timeout after 0.6s", "timeout after 0.6s")
    assert time.monotonic() - started < 1.5
    assert dns_server.queries.count("hang.test.") >= 1


async def test_dns_answers_are_not_cached_between_probes(
    prober: Prober, dns_server: DnsServer
) -> None:
    first = await run(prober, dns_server, "ok.test")
    dns_server.zone["ok.test."] = "NXDOMAIN"  # the record had a 300 s TTL
    second = await run(prober, dns_server, "ok.test")
    assert (first.status, second.status) == (Status.UP, Status.DOWN)
    assert dns_server.queries.count("ok.test.") == 2


@pytest.mark.fault("DNS server not running (port closed)",
                   "down with a DNS or timeout reason")
async def test_dns_server_that_is_not_running_is_down(prober: Prober, closed_port: int) -> None:
    spec = DnsProbe(name="ok.test", server=f"127.0.0.1:{closed_port}")
    result = await prober.run(Check(spec=spec, timeout=0.6))
    assert result.status is Status.DOWN
    assert result.reason.startswith(("DNS: ", "timeout after"))


async def test_dns_server_given_by_name_is_resolved(prober: Prober, dns_server: DnsServer) -> None:
    spec = DnsProbe(name="ok.test", server=f"localhost:{dns_server.port}")
    result = await prober.run(Check(spec=spec, timeout=2))
    assert result.status is Status.UP, result.reason


async def test_dns_unsupported_record_type_is_down(prober: Prober, dns_server: DnsServer) -> None:
    result = await run(prober, dns_server, "ok.test", record_type="BOGUS")
    assert (result.status, result.reason) == (Status.DOWN, "DNS: unsupported record type BOGUS")
    assert dns_server.queries == []


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        pytest.param("10.0.0.53", ("10.0.0.53", 53), id="ipv4"),
        pytest.param("10.0.0.53:5353", ("10.0.0.53", 5353), id="ipv4-port"),
        pytest.param("ns1.example", ("ns1.example", 53), id="name"),
        pytest.param("2001:db8::53", ("2001:db8::53", 53), id="ipv6"),
        pytest.param("[2001:db8::53]:5353", ("2001:db8::53", 5353), id="ipv6-port"),
    ],
)
def test_split_server(server: str, expected: tuple[str, int]) -> None:
    assert split_server(server) == expected

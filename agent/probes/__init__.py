"""The probe engine: one module per probe type, all with one signature, looked up by type.

Each module (`http`, `tcp`, ...) owns its type whole: the spec dataclass, how its config is
read, and `async def probe(spec, timeout, resources) -> ProbeResult`, declared as its `TYPE`
(agent.probes.base.ProbeType) and registered in PROBE_TYPES, which config reading and the
Prober both look types up in. A down target is a ProbeResult, never an exception.
`Prober.run` adds what every probe needs: the overall deadline, latency, the
slow-means-degraded rule, and a last net for surprises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import AsyncResolver

from agent.model import Check, ProbeResult, Status
from agent.probes import command, dns, heartbeat, http, icmp, tcp
from agent.probes.base import ProbeFn, ProbeType
from agent.probes.icmp import IcmpMode
from agent.text import redact

log = logging.getLogger(__name__)

__all__ = ["PROBES", "PROBE_TYPES", "IcmpMode", "ProbeFn", "ProbeType", "Prober", "Resources"]


@dataclass(frozen=True)
class Resources:
    """What probes share, owned by the Prober: sessions, the resolver, the ICMP mode."""

    resolver: AbstractResolver  # c-ares lookups for http, tcp, icmp and named DNS servers
    http: http.HttpClients
    icmp_mode: IcmpMode


# Every probe type by its config `type:`, in the order error messages list them. A new type is
# a module with its TYPE, and one entry here (docs/extending.md).
PROBE_TYPES: dict[str, ProbeType] = {
    probe_type.name: probe_type
    for probe_type in (http.TYPE, tcp.TYPE, dns.TYPE, icmp.TYPE, command.TYPE, heartbeat.TYPE)
}


class _ProbeFunctions(Mapping[str, ProbeFn]):
    """Each registered type's probe function, read through to PROBE_TYPES as it is now."""

    def __getitem__(self, name: str) -> ProbeFn:
        return PROBE_TYPES[name].probe

    def __iter__(self) -> Iterator[str]:
        return iter(PROBE_TYPES)

    def __len__(self) -> int:
        return len(PROBE_TYPES)


PROBES: Mapping[str, ProbeFn] = _ProbeFunctions()

REASON_LIMIT = 200
# The agent's own resources running out: a probe failing so says nothing about its target.
AGENT_FAULTS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_AGENT_FAULT_TEXTS = tuple(os.strerror(code).lower() for code in AGENT_FAULTS)


def agent_fault(result: ProbeResult) -> bool:
    """Whether a failed probe failed for want of the agent's own resources: its reason is
    the system's words for running out of descriptors, memory or buffers (every probe type
    reports an OSError by its strerror)."""
    reason = result.reason.lower()
    return result.status is Status.DOWN and any(text in reason for text in _AGENT_FAULT_TEXTS)


def clean_reason(text: str) -> str:
    """Given any text for a reason, return it on one line, short, without URL credentials."""
    return redact(" ".join(text.split()))[:REASON_LIMIT]


def unexpected_reason(exc: Exception) -> str:
    detail = str(exc)
    return clean_reason(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


def apply_degraded(result: ProbeResult, degraded_after: float | None) -> ProbeResult:
    """An up result slower than `degraded_after` becomes degraded, saying how slow."""
    if result.status is not Status.UP or degraded_after is None:
        return result
    if result.latency <= degraded_after:
        return result
    reason = f"slow: {result.latency:.2f}s > {degraded_after:g}s"
    return dataclasses.replace(result, status=Status.DEGRADED, reason=reason)


class Prober:
    """Owns shared resources (aiohttp sessions/connectors, the aiodns resolver); one per daemon."""

    def __init__(
        self,
        *,
        icmp_mode: IcmpMode | None = None,
        probes: Mapping[str, ProbeFn] = PROBES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`icmp_mode` forces a way to ping (default: the first that works, found at start)."""
        self._icmp_mode = icmp_mode
        self._probes = probes
        self._clock = clock
        self._resources: Resources | None = None

    @property
    def resources(self) -> Resources:
        if self._resources is None:
            raise RuntimeError("Prober used outside 'async with'")
        return self._resources

    async def __aenter__(self) -> Prober:
        resolver = AsyncResolver()
        mode = self._icmp_mode or icmp.detect_mode()
        log.debug("ICMP probes use: %s", mode.value)
        self._resources = Resources(resolver, http.HttpClients(resolver), mode)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        resources, self._resources = self._resources, None
        if resources is not None:
            await resources.http.close()
            await resources.resolver.close()

    async def run(self, check: Check) -> ProbeResult:
        """Probe once; never raises except CancelledError. A failure is a down result; one
        for want of the agent's own resources is unknown."""
        start = self._clock()
        result = await self._attempt(check)
        latency = result.latency or self._clock() - start
        result = dataclasses.replace(result, latency=latency, reason=clean_reason(result.reason))
        if agent_fault(result):
            return dataclasses.replace(result, status=Status.UNKNOWN,
                                       reason=f"the agent's own fault: {result.reason}")
        return apply_degraded(result, check.degraded_after)

    async def _attempt(self, check: Check) -> ProbeResult:
        """Run the protocol's probe under the check's deadline, turning surprises into down."""
        kind = check.spec.type
        probe = self._probes.get(kind)
        if probe is None:
            return ProbeResult(Status.DOWN, 0.0, f"unknown probe type {kind!r}")
        try:
            async with asyncio.timeout(check.timeout):
                return await probe(check.spec, check.timeout, self.resources)
        except TimeoutError:
            return ProbeResult(Status.DOWN, 0.0, f"timeout after {check.timeout:g}s")
        except OSError as exc:
            log.debug("%s probe failed unexpectedly", kind, exc_info=True)
            return ProbeResult(Status.DOWN, 0.0, exc.strerror or unexpected_reason(exc))
        except MemoryError:
            return ProbeResult(Status.UNKNOWN, 0.0, "the agent's own fault: out of memory")
        except Exception as exc:  # the contract: run() never raises; logged below
            log.debug("%s probe failed unexpectedly", kind, exc_info=True)
            return ProbeResult(Status.DOWN, 0.0, unexpected_reason(exc))

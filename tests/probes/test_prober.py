"""Prober.run: the deadline, latency, degraded rule and error net shared by every probe."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agent.model import Check, HttpProbe, ProbeResult, Status, TcpProbe
from agent.probes import PROBES, ProbeFn, Prober, Resources, apply_degraded, clean_reason

from .conftest import HangServer, WebServer


def fake(
    result: ProbeResult | None = None, delay: float = 0.0, error: Exception | None = None
) -> ProbeFn:
    """A probe function of the common signature that sleeps, then returns or raises."""

    async def probe(spec: Any, timeout: float, resources: Resources) -> ProbeResult:
        await asyncio.sleep(delay)
        if error is not None:
            raise error
        return result or ProbeResult(Status.UP, 0.0)

    return probe


async def run_fake(
    probe: ProbeFn, timeout: float = 1.0, degraded_after: float | None = None
) -> ProbeResult:
    async with Prober(probes={"tcp": probe}) as prober:
        check = Check(
            spec=TcpProbe(target="unused:1"), timeout=timeout, degraded_after=degraded_after
        )
        return await prober.run(check)


def test_every_probe_type_has_a_probe() -> None:
    assert set(PROBES) == {"http", "tcp", "dns", "icmp", "command", "heartbeat"}


@pytest.mark.fault("a probe that hangs",
                   "down at the check's timeout; Prober.run never waits longer")
async def test_prober_enforces_the_deadline_on_a_probe_that_hangs() -> None:
    started = time.monotonic()
    result = await run_fake(fake(delay=30), timeout=0.2)
    assert (result.status, result.reason) == (Status.DOWN, "timeout after 0.2s")
    assert 0.2 <= result.latency < 0.5
    assert time.monotonic() - started < 1


@pytest.mark.fault("a probe raising an unexpected exception",
                   "down with the exception as the reason, URL credentials stripped; never raises")
async def test_prober_turns_an_unexpected_exception_into_down_without_credentials() -> None:
    error = ValueError("cannot parse http://admin:hunter2@db.example/ \n twice")
    result = await run_fake(fake(error=error))
    assert result.status is Status.DOWN
    assert result.reason == "ValueError: cannot parse http://db.example/ twice"


async def test_prober_lets_cancellation_through() -> None:
    async with Prober(probes={"tcp": fake(delay=30)}) as prober:
        task = asyncio.create_task(prober.run(Check(spec=TcpProbe(target="x:1"), timeout=10)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 2)


async def test_prober_measures_latency_unless_the_probe_did() -> None:
    measured = await run_fake(fake(delay=0.1))
    own = await run_fake(fake(ProbeResult(Status.UP, 0.0123), delay=0.1))
    assert 0.1 <= measured.latency < 0.5
    assert own.latency == 0.0123


@pytest.mark.parametrize(
    ("result", "degraded_after", "expected"),
    [
        pytest.param(
            ProbeResult(Status.UP, 2.314),
            2.0,
            ProbeResult(Status.DEGRADED, 2.314, "slow: 2.31s > 2s"),
            id="slow",
        ),
        pytest.param(
            ProbeResult(Status.UP, 1.9), 2.0, ProbeResult(Status.UP, 1.9), id="fast-enough"
        ),
        pytest.param(
            ProbeResult(Status.UP, 9.0), None, ProbeResult(Status.UP, 9.0), id="no-threshold"
        ),
        pytest.param(
            ProbeResult(Status.DOWN, 9.0, "HTTP 503"),
            1.0,
            ProbeResult(Status.DOWN, 9.0, "HTTP 503"),
            id="down-stays-down",
        ),
        pytest.param(
            ProbeResult(Status.DEGRADED, 9.0, "exit 1: WARN"),
            1.0,
            ProbeResult(Status.DEGRADED, 9.0, "exit 1: WARN"),
            id="degraded-keeps-reason",
        ),
    ],
)
def test_apply_degraded(
    result: ProbeResult, degraded_after: float | None, expected: ProbeResult
) -> None:
    assert apply_degraded(result, degraded_after) == expected


async def test_prober_applies_degraded_after_to_any_probe() -> None:
    result = await run_fake(fake(delay=0.15), degraded_after=0.05)
    assert result.status is Status.DEGRADED
    assert result.reason.startswith("slow: 0.1")


async def test_unknown_probe_type_is_down() -> None:
    async with Prober(probes={}) as prober:
        result = await prober.run(Check(spec=TcpProbe(target="x:1"), timeout=1))
    assert (result.status, result.reason) == (Status.DOWN, "unknown probe type 'tcp'")


async def test_prober_used_outside_async_with_reports_down_instead_of_raising() -> None:
    result = await Prober().run(Check(spec=TcpProbe(target="x:1"), timeout=1))
    assert result.status is Status.DOWN
    assert "outside 'async with'" in result.reason


def test_clean_reason_is_one_short_line() -> None:
    assert clean_reason("a\nb\t c" + "x" * 500) == "a b c" + "x" * 195


@pytest.mark.fault("200 hung HTTP targets probed at once",
                   "each down at its 1 s timeout; a healthy probe meanwhile answers in under 0.5 s")
async def test_hung_targets_do_not_delay_each_other_or_a_healthy_probe(
    prober: Prober, hang_server: HangServer, web_server: WebServer
) -> None:
    hung = Check(spec=HttpProbe(url=f"http://127.0.0.1:{hang_server.port}/"), timeout=1.0)
    healthy = Check(spec=HttpProbe(url=web_server.url()), timeout=1.0)
    started = time.monotonic()
    hung_tasks = [asyncio.create_task(prober.run(hung)) for _ in range(200)]
    await asyncio.sleep(0.1)  # the hung probes are connected and waiting by now
    healthy_started = time.monotonic()
    healthy_result = await prober.run(healthy)
    healthy_elapsed = time.monotonic() - healthy_started
    results = await asyncio.wait_for(asyncio.gather(*hung_tasks), 5)
    elapsed = time.monotonic() - started
    assert healthy_result.status is Status.UP, healthy_result.reason
    assert healthy_elapsed < 0.5
    assert {(r.status, r.reason) for r in results} == {(Status.DOWN, "timeout after 1s")}
    assert elapsed < 2.0
    assert hang_server.accepted == 200

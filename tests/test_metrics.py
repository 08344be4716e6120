"""The exporter's per-system series, read from engine views as a scrape would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.helpers import UP, config, system
from support.realparts import parse_metrics

from agent.engine import Engine
from agent.metrics import Metrics, Scrape
from agent.model import ProbeResult, Status

NOW = 1_800_000_000.0
NOT_AFTER = 1_801_234_567.0
SERIES = "outage_tls_cert_not_after_timestamp_seconds"


def scrape(*results: tuple[str, ProbeResult]) -> dict[str, float]:
    engine = Engine(config(*(system(name) for name, _ in results)), NOW)
    for name, result in results:
        engine.observe(name, result, NOW)
    metrics = Metrics("GBP", "site")
    metrics.collector.scrape = Scrape(views=engine.view(NOW))
    return parse_metrics(metrics.render().decode())


def test_certificate_expiry_is_exported_from_the_latest_probe_blackbox_style() -> None:
    https = ProbeResult(Status.UP, 0.1, facts=(("tls_not_after", NOT_AFTER),))
    failed = ProbeResult(Status.DOWN, 0.1, "HTTP 503", (("tls_not_after", NOT_AFTER),))
    samples = scrape(("web", https), ("failing", failed), ("plain", UP))
    assert samples[f'{SERIES}{{system="web"}}'] == NOT_AFTER
    assert samples[f'{SERIES}{{system="failing"}}'] == NOT_AFTER  # known though the probe failed
    assert f'{SERIES}{{system="plain"}}' not in samples  # no certificate, no series


CREATED = """
from prometheus_client import CollectorRegistry, Counter, generate_latest

def created():
    registry = CollectorRegistry()
    Counter("jobs", "Jobs.", registry=registry).inc()
    return b"jobs_created" in generate_latest(registry)

import agent.metrics
imported = created()
agent.metrics.Metrics("GBP", "site")
print(imported, created())
"""


def test_importing_the_exporter_changes_nothing_but_the_agents_metrics_drop_created() -> None:
    # prometheus_client's switch is process-wide: a fresh interpreter shows who throws it.
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_DISABLE_CREATED_SERIES"}
    run = subprocess.run([sys.executable, "-c", CREATED], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).parents[1], timeout=60, check=True)
    assert run.stdout.split() == ["True", "False"]

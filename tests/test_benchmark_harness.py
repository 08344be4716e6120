"""The benchmark harness, small: it must keep running end to end (benchmarks/, issue 8).

Behaviour only, never speed: 40 systems for a few seconds, every phase measured and reported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.run import Scrape, quantile

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = 40


def test_harness_measures_every_phase_and_reports_them(tmp_path: Path) -> None:
    phases = ["steady", "outage", "aiohttp", "ledger"]
    if shutil.which("prometheus-blackbox-exporter"):
        phases.append("blackbox")
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--systems", str(SYSTEMS), "--interval", "2s",
         "--duration", "3s", "--timeout", "500ms", "--retry-interval", "500ms",
         "--failure-threshold", "2", "--scrape-every", "1s", "--outage-tail", "2s",
         "--addresses", "2", "--phases", ",".join(phases), "--json", str(out),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())
    steady, outage = results["steady"], results["outage"]
    assert steady["scheduled_per_second"] == SYSTEMS / 2
    assert steady["probes"] > 0 and steady["schedule_lag"]["count"] > 0
    assert steady["metrics"]["series"] > SYSTEMS * 19  # 14 families and 5 states each
    assert steady["memory"]["peak_rss_mb"] > 0 and steady["threads_max"] >= 1
    detection = outage["detection"]
    assert detection["confirmed"] == detection["metrics_show_down"] == SYSTEMS
    assert detection["bound_seconds"] == 2 + 0.5 + 0.5  # interval, timeout, one retry
    assert results["aiohttp"]["probes"] > 0
    assert results["ledger"]["transitions"] == SYSTEMS
    if "blackbox" in phases:
        assert results["blackbox"]["driver_counts"]["success"] > 0
    assert "| schedule lag p50 / p99 / max (steady)" in run.stdout


def test_scrape_reads_the_figures_the_harness_needs() -> None:
    body = (b'# HELP x\noutage_system_up{system="a"} 0.0\noutage_system_up{system="b"} 1.0\n'
            b'outage_probes_total{result="success"} 7.0\n'
            b'outage_probes_total{result="failure"} 3.0\n'
            b'outage_probe_schedule_lag_seconds_bucket{le="0.1"} 9.0\n'
            b'outage_probe_schedule_lag_seconds_bucket{le="+Inf"} 10.0\n')
    scrape = Scrape.parse(body, 0.1)
    assert (scrape.series, scrape.down, scrape.probes) == (6, 1, 10.0)
    assert scrape.lag == [(0.1, 9.0), (float("inf"), 10.0)]
    assert quantile(0.5, scrape.lag) == 0.1 * 5 / 9
    assert quantile(0.99, scrape.lag) == 0.1  # in the +Inf bucket: its lower bound, as PromQL

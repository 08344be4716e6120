"""Deployment files are checked with the real tools that will read them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from realparts import require_tool

REPO = Path(__file__).resolve().parent.parent


def test_prometheus_scrape_config_is_valid():
    result = subprocess.run(
        [require_tool("promtool", "prometheus"), "check", "config",
         str(REPO / "deploy/prometheus/prometheus.yml")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""The quorum rules across sites (deploy/prometheus/quorum.yml), checked by promtool and its
unit tests: a system is down for the organisation only at a majority of the sites that probe
it, and its cost is counted once, not once per site."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from support.helpers import load_rules, series_nobody_makes
from support.realparts import require_tool

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS = REPO / "deploy/prometheus"
QUORUM = PROMETHEUS / "quorum.yml"
QUORUM_TESTS = PROMETHEUS / "tests/quorum_test.yml"
RECORDING_NAME = re.compile(r"^outage:[a-z_]+:[a-z0-9_]+$")  # level:metric:operations


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO)


def rules() -> list[dict[str, Any]]:
    return load_rules(QUORUM)


def test_quorum_rules_pass_promtool_check_rules():
    result = run(require_tool("promtool", "prometheus"), "check", "rules", str(QUORUM))
    assert result.returncode == 0, result.stdout + result.stderr


def test_quorum_rules_pass_their_promtool_unit_tests():
    """Three sites, one sees email down: 0; all see it down: 1, costed once, not thrice."""
    result = run(require_tool("promtool", "prometheus"), "test", "rules", str(QUORUM_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_quorum_recording_rules_are_named_level_metric_operations():
    names = [rule["record"] for rule in rules() if "record" in rule]
    assert {"outage:system_down:quorum", "outage:cost_per_hour:quorum"} <= set(names)
    for name in names:
        assert RECORDING_NAME.match(name), name


def test_quorum_rules_read_only_series_the_agent_exports_or_they_record():
    assert series_nobody_makes(rules()) == []


def test_money_is_never_summed_across_sites():
    """Across sites, cost is a max of one site's figure; only `system` is ever summed away."""
    for rule in rules():
        expr = rule["expr"]
        if "outage_cost" in expr:
            assert re.search(r"max without \(job, instance, site\) \(", expr), rule
        for dropped in re.findall(r"sum without \(([^)]*)\)", expr):
            assert dropped in ("site", "system"), rule
            assert dropped == "system" or "cost" not in expr, rule


def test_each_quorum_alert_is_tested_firing_and_not_firing():
    cases = [case for test in yaml.safe_load(QUORUM_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for name in {rule["alert"] for rule in rules() if "alert" in rule}:
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == name}
        assert outcomes == {True, False}, name


def test_the_single_site_compose_stack_deliberately_does_not_load_the_quorum_rules():
    """prometheus-compose.yml runs one agent at one site: quorum.yml is for the Prometheus
    that sees every site, so it is outside the `rules*.yml` pattern, as are its tests."""
    compose = yaml.safe_load((PROMETHEUS / "prometheus-compose.yml").read_text())
    loaded = {path for pattern in compose["rule_files"] for path in PROMETHEUS.glob(pattern)}
    assert loaded and QUORUM not in loaded and QUORUM_TESTS not in loaded

"""The Prometheus path's shipped files, checked by the tools that read them: `promtool check
rules` and `promtool test rules` for deploy/prometheus/rules.yml, `amtool` for
deploy/alertmanager/alertmanager.yml; and the rules read only what the agent exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.helpers import load_rules, series_nobody_makes
from support.realparts import require_tool

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS = REPO / "deploy/prometheus"
RULES = PROMETHEUS / "rules.yml"
RULES_TESTS = PROMETHEUS / "tests/rules_test.yml"
ALERTMANAGER = REPO / "deploy/alertmanager/alertmanager.yml"
ALERTS = ("OutageSystemDown", "OutageIncidentCostHigh", "OutageLossBudgetExceeded",
          "OutageBurnRateHigh", "OutageAgentDown")
RECORDING_NAME = re.compile(r"^[a-z_]+:[a-z_]+:[a-z0-9_]+$")  # level:metric:operations


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO)


def rules() -> list[dict[str, Any]]:
    return load_rules(RULES)


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def test_rules_pass_promtool_check_rules():
    result = run(require_tool("promtool", "prometheus"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_their_promtool_unit_tests():
    result = run(require_tool("promtool", "prometheus"), "test", "rules", str(RULES_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_passes_amtool_check_config():
    result = run(require_tool("amtool", "prometheus-alertmanager"), "check-config",
                 str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("labels", "receivers"), [
    (["severity=critical", "alertname=OutageIncidentCostHigh"],
     "on-call-webhook,service-desk-email"),
    (["severity=warning", "alertname=OutageSystemDown"], "service-desk-email"),
    (["alertname=SomethingElse"], "service-desk-email"),
], ids=["critical-pages-and-emails", "warning-emails", "anything-else-emails"])
def test_alertmanager_routes_by_severity(labels, receivers):
    result = run(require_tool("amtool", "prometheus-alertmanager"), "config", "routes", "test",
                 f"--config.file={ALERTMANAGER}", f"--verify.receivers={receivers}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_of_the_issue_has_a_severity_and_says_what_it_costs():
    assert {rule["alert"] for rule in alerts()} == set(ALERTS)
    for rule in alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        if rule["alert"] != "OutageAgentDown":
            text = " ".join(rule["annotations"].values())
            assert "outage_agent_info" in text and "humanize" in text, rule["alert"]


def test_each_alert_is_tested_firing_and_not_firing():
    cases = [case for test in yaml.safe_load(RULES_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for name in ALERTS:
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == name}
        assert outcomes == {True, False}, name


def test_recording_rules_are_named_level_metric_operations():
    names = [rule["record"] for rule in rules() if "record" in rule]
    assert names
    for name in names:
        assert RECORDING_NAME.match(name) and name.startswith("outage:"), name


def test_rules_read_only_series_the_agent_exports_or_they_record():
    """A renamed metric would silently leave an alert with nothing to evaluate."""
    assert series_nobody_makes(rules()) == []


def test_agent_down_watches_the_job_of_the_shipped_scrape_configs():
    [rule] = [rule for rule in alerts() if rule["alert"] == "OutageAgentDown"]
    job = re.search(r'up\{job="([^"]+)"\}', rule["expr"])
    assert job is not None
    for config in ("prometheus.yml", "prometheus-compose.yml"):
        scrape = yaml.safe_load((PROMETHEUS / config).read_text())["scrape_configs"]
        assert job.group(1) in {j["job_name"] for j in scrape}, config


def test_the_compose_rule_pattern_loads_the_rules_and_not_their_tests():
    compose = yaml.safe_load((PROMETHEUS / "prometheus-compose.yml").read_text())
    loaded = {path for pattern in compose["rule_files"] for path in PROMETHEUS.glob(pattern)}
    assert RULES in loaded and RULES_TESTS not in loaded

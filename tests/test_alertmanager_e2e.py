"""The Prometheus path end to end: real Prometheus and Alertmanager (Debian's packages) on
loopback scrape a running agent; a loopback target goes down; the shipped cost alert fires and
Alertmanager delivers it, routed by severity, to a loopback webhook and a loopback SMTP server.

Prometheus runs a copy of deploy/prometheus/rules.yml with every money threshold set to 1 and
every hold time to 0s, and Alertmanager a copy of deploy/alertmanager/alertmanager.yml with
loopback receivers and a 0s group wait: the rules and routes under test are the shipped ones.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.realparts import (
    AlertmanagerProcess,
    PrometheusProcess,
    Receiver,
    configured_agent,
    fast_config,
    free_port,
    http_targets,
    wait_for,
)

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "deploy/prometheus/rules.yml"
ALERTMANAGER = REPO / "deploy/alertmanager/alertmanager.yml"
SITE = "e2e-site"
MONEY_THRESHOLDS = 7  # incident, day, month, and two windows for each burn rate
THRESHOLD = re.compile(r">\s*\d+(?:\.\d+)?")
CONFIG = fast_config("""\
  - name: intranet
    probe: {{type: http, url: "{intranet}"}}
    users_share: 1.0
  - name: website
    probe: {{type: http, url: "{website}"}}
    users_share: 0.1
""")


def fast_rules(shipped: str) -> dict[str, Any]:
    """Given the shipped rules, return them with every money threshold 1 and no hold times."""
    rules = yaml.safe_load(shipped)
    replaced = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
                rule["expr"], count = THRESHOLD.subn("> 1", rule["expr"])
                replaced += count
    assert replaced == MONEY_THRESHOLDS, "a threshold changed form: update fast_rules"
    return rules


def fast_alertmanager(shipped: str, webhook: str, smtp_port: int) -> dict[str, Any]:
    """Given the shipped config, return it with loopback receivers and no waiting."""
    config = yaml.safe_load(shipped)
    config["global"].update(smtp_smarthost=f"127.0.0.1:{smtp_port}", smtp_require_tls=False)
    config["route"].update(group_wait="0s", group_interval="1s", repeat_interval="1h")
    hooks = [hook for receiver in config["receivers"]
             for hook in receiver.get("webhook_configs", [])]
    assert hooks, "the shipped config has no webhook receiver"
    for hook in hooks:
        hook["url"] = webhook
    return config


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [" ".join(str(m["Subject"]).split()) for m in self.messages]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    box, port = Mailbox(), free_port()
    controller = controller_module.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def stack(tmp_path, mailbox):
    box, smtp_port = mailbox
    targets = http_targets("intranet", "website")
    agent = configured_agent(tmp_path, CONFIG, **{name: t.url for name, t in targets.items()})
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(fast_rules(RULES.read_text()), sort_keys=False))
    webhook = Receiver().up()
    alertmanager = AlertmanagerProcess(
        tmp_path, fast_alertmanager(ALERTMANAGER.read_text(), webhook.url, smtp_port))
    prometheus = PrometheusProcess(tmp_path, {f"127.0.0.1:{agent.port}": {"site": SITE}},
                                   rule_files=[rules])
    send_alerts_to(prometheus, alertmanager)
    try:
        yield agent, prometheus, alertmanager, targets, webhook, box
    finally:
        prometheus.stop()
        alertmanager.stop()
        agent.stop()
        webhook.down()
        for target in targets.values():
            target.down()


def send_alerts_to(prometheus: PrometheusProcess, alertmanager: AlertmanagerProcess) -> None:
    config = json.loads(prometheus.config.read_text())
    config["alerting"] = {"alertmanagers": [
        {"static_configs": [{"targets": [alertmanager.address]}]}]}
    prometheus.config.write_text(json.dumps(config, indent=2))


def delivered(webhook: Receiver) -> list[dict[str, Any]]:
    """Every alert in every webhook notification so far."""
    return [alert for i in range(len(webhook.requests)) for alert in webhook.json(i)["alerts"]]


def firing(webhook: Receiver, name: str) -> list[dict[str, Any]]:
    return [a for a in delivered(webhook)
            if a["labels"]["alertname"] == name and a["status"] == "firing"]


def test_a_down_target_fires_the_cost_alert_and_alertmanager_delivers_it(stack):
    agent, prometheus, alertmanager, targets, webhook, mailbox = stack
    agent.start()
    alertmanager.start()
    prometheus.start()
    prometheus.wait_for_data('outage_system_up{system="intranet"} == 1')
    assert not prometheus.query("ALERTS")  # all up: nothing fires, even at threshold 1

    targets["intranet"].down()
    went_down = time.monotonic()
    alert = wait_for("the cost alert at the webhook",
                     lambda: firing(webhook, "OutageIncidentCostHigh"), timeout=30)[0]
    delivery = time.monotonic() - went_down

    assert alert["labels"] == {
        "alertname": "OutageIncidentCostHigh", "severity": "critical",
        "job": "outage-agent", "instance": f"127.0.0.1:{agent.port}", "site": SITE,
        "system": "intranet",
    }
    money = r"GBP \d+(\.\d+)?k?"
    assert re.fullmatch(rf"The outage of intranet at {SITE} has cost {money}",
                        alert["annotations"]["summary"]), alert["annotations"]
    assert re.fullmatch(
        rf"The open incident on intranet has cost {money} in [\d.]+m?s and is costing "
        r"GBP 25\.99k an hour\.", alert["annotations"]["description"]), alert["annotations"]
    assert delivery < 20, f"took {delivery:.1f}s from the target going down"

    # The burn rate over the cost counter pages too. Only critical alerts page, and only
    # for the system that is down.
    wait_for("the burn-rate page at the webhook",
             lambda: firing(webhook, "OutageBurnRateHigh"), timeout=15)
    assert {a["labels"]["severity"] for a in delivered(webhook)} == {"critical"}
    assert {a["labels"].get("system", "intranet") for a in delivered(webhook)} == {"intranet"}
    # Every alert, critical or not, is emailed.
    subject = f"[FIRING] The outage of intranet at {SITE} has cost GBP"
    wait_for("the cost alert by email",
             lambda: any(s.startswith(subject) for s in mailbox.subjects()), timeout=15)
    wait_for("the warning by email",
             lambda: f"[FIRING] intranet is down at {SITE}" in mailbox.subjects(), timeout=15)

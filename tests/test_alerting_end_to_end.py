"""Native alerting end to end: a real agent, a target that fails, a loopback webhook."""

from __future__ import annotations

import signal
import subprocess

import pytest
from support.realparts import AgentProcess, HttpTarget, Receiver, get_json, wait_for

from agent.ledger import Ledger

CONFIG = """\
agent:
  ledger: ledger.db
  evaluation_interval: 500ms
  external_url: "http://status.example.internal/"
cost: {{currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}}
defaults: {{interval: 1s, retry_interval: 300ms, timeout: 250ms, failure_threshold: 2,
           success_threshold: 2}}
notifiers:
  - {{name: hook, type: webhook, url: "{hook}", secret: "s3cret", retries: 1}}
alerts:
  - {{name: down, condition: state, repeat: 2s, notify: [hook]}}
  - {{name: costly, condition: "incident_cost >= 1", notify: [hook]}}
systems:
  - name: intranet
    probe: {{type: http, url: "{target}"}}
"""


@pytest.fixture
def setup(tmp_path):
    target, receiver = HttpTarget(), Receiver().up()
    target.up()
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG.format(hook=receiver.url, target=target.url))
    agent = AgentProcess(path, tmp_path)
    yield agent, target, receiver, path
    agent.stop()
    target.down()
    receiver.down()


def sent(receiver: Receiver) -> list[tuple[str, str]]:
    return [(m["alert"], m["status"]) for m in
            (receiver.json(i) for i in range(len(receiver.requests)))]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["outage-agent", *args], capture_output=True, text=True, timeout=60)


def test_alerts_fire_remind_survive_a_restart_and_resolve(setup):
    agent, target, receiver, path = setup
    agent.start()
    target.down()
    wait_for("the down alert", lambda: ("down", "firing") in sent(receiver))
    wait_for("the cost alert", lambda: ("costly", "firing") in sent(receiver))
    wait_for("a reminder", lambda: ("down", "reminder") in sent(receiver))
    firing = receiver.json(sent(receiver).index(("down", "firing")))
    assert firing["system"] == "intranet" and firing["url"] == "http://status.example.internal/"
    assert agent.metrics()['outage_alerts_firing{alert="down"}'] == 1

    assert cli("ack", "-c", str(path), "intranet", "--note", "on it").returncode == 0
    wait_for("the ack to be applied", lambda: agent.log.read_text().count("acknowledged by"))
    agent.kill(signal.SIGKILL)
    before = len(receiver.requests)
    target.up()  # back while the agent is away...
    # ...and its recovery confirmed before the restarted agent evaluates the alert at all
    path.write_text(path.read_text().replace("evaluation_interval: 500ms",
                                             "evaluation_interval: 3s"))
    agent.start()
    wait_for("the resolution", lambda: ("down", "resolved") in sent(receiver))
    after = sent(receiver)[before:]
    assert ("down", "firing") not in after and ("costly", "firing") not in after  # not re-sent
    assert ("down", "reminder") not in after  # acknowledged before the restart
    # what the incident cost (not £0.00, nor only what was seen since the restart): the
    # ledger's windows of it, to the penny
    resolved = receiver.json(sent(receiver).index(("down", "resolved")))
    ledger = Ledger(path.parent / "ledger.db")
    windows = ledger.windows(0.0, 4e9, "intranet", ("down",))
    ledger.dispose()
    assert resolved["accrued_cost"] == round(sum(w.record.amounts.cost for w in windows), 2) > 0
    metrics = agent.metrics()
    assert metrics['outage_notifications_total{notifier="hook",result="sent"}'] >= 1
    assert metrics['outage_alerts_firing{alert="down"}'] == 0


def test_maintenance_from_the_cli_is_picked_up_by_the_running_daemon(setup):
    agent, target, _, path = setup
    agent.start()
    assert cli("maintenance", "-c", str(path), "intranet", "--for", "10m",
               "--note", "patching").returncode == 0
    target.down()
    state = lambda: {s["name"]: s["state"] for s in  # noqa: E731
                     get_json(agent.base + "/api/v1/systems")}["intranet"]
    wait_for("planned maintenance", lambda: state() == "maintenance")
    assert agent.metrics()['outage_cost_total{system="intranet"}'] == 0
    assert cli("maintenance", "-c", str(path), "intranet", "--end").returncode == 0
    wait_for("a real outage once maintenance ends", lambda: state() == "down")


def test_notify_test_reports_the_outcome(setup):
    _, _, receiver, path = setup
    result = cli("notify-test", "-c", str(path), "hook")
    assert result.returncode == 0 and "hook: sent" in result.stdout
    assert receiver.json()["status"] == "test"
    receiver.mode = "reject"
    failed = cli("notify-test", "-c", str(path), "hook")
    assert failed.returncode == 1 and "HTTP 404" in failed.stderr
    assert cli("notify-test", "-c", str(path), "nope").returncode == 2


@pytest.mark.fault("The agent stops while a notification waits to be delivered (its "
                   "receiver is down)", "the message waits in the ledger's outbox and is "
                   "delivered after the restart, once, with the same id (the webhook's "
                   "Idempotency-Key)", area="Alerting")
def test_a_notification_queued_at_a_stop_is_delivered_after_the_restart(setup):
    agent, target, receiver, path = setup
    path.write_text(path.read_text().replace("retries: 1", "retries: 8"))
    receiver.down()  # nobody listens: the message waits between retries (1 s, 2 s, 4 s...)
    agent.start()
    target.down()
    wait_for("the down alert to be tried", lambda: "notifier hook:" in agent.log.read_text())
    agent.stop()  # SIGTERM while it waits
    assert receiver.requests == []
    receiver.up()
    agent.start()
    wait_for("the queued alert", lambda: ("down", "firing") in sent(receiver))
    first = receiver.json(sent(receiver).index(("down", "firing")))
    assert first["id"] and len(first["id"]) == 32
    [(_, headers, _)] = [r for r in receiver.requests if first["id"].encode() in r[2]][:1]
    assert headers["Idempotency-Key"] == first["id"]
    agent.stop()
    agent.start()  # delivered: the outbox does not send it a third time
    wait_for("a reminder", lambda: sent(receiver).count(("down", "reminder")) >= 1)
    ids = [receiver.json(i)["id"] for i in range(len(receiver.requests))]
    assert ids.count(first["id"]) == 1

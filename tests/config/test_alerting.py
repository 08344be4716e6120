"""`notifiers:` and `alerts:` in the configuration: what loads, and every mistake named."""

from __future__ import annotations

import textwrap

import pytest

from agent.config import ConfigError, load_config
from agent.model import AlertRule, EmailNotifier, WebhookNotifier

BASE = """\
cost: {currency: GBP, concurrent_users: 100, hourly_cost_per_user: 10}
systems:
  - name: email
    probe: {type: tcp, target: "127.0.0.1:25"}
  - name: web
    probe: {type: tcp, target: "127.0.0.1:80"}
"""


def load(tmp_path, extra: str, env: dict[str, str] | None = None):
    path = tmp_path / "config.yaml"
    path.write_text(BASE + textwrap.dedent(extra))
    return load_config(path, env=env or {})


def problems(tmp_path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    return [f"{p.line}: {p.path}: {p.message}" for p in caught.value.problems]


def test_notifiers_and_rules_load(tmp_path):
    config = load(tmp_path, """\
        agent: {external_url: "https://status.example.gov.uk/"}
        notifiers:
          - {name: hook, type: webhook, url: "https://hooks.example.gov.uk/x", secret: "${S}",
             timeout: 5s, retries: 2}
          - {name: mail, type: email, host: smtp.example.gov.uk, security: tls,
             from: agent@example.gov.uk, to: [ops@example.gov.uk], username: a, password: "${P}"}
        alerts:
          - {name: down, condition: state, states: [down, degraded], for: 2m, repeat: 1h,
             notify: [hook, mail]}
          - {name: costly, condition: "incident_cost >= 10_000, 1000", notify: mail,
             systems: [email]}
          - {name: budget, condition: "period_cost >= 50000", period: month, notify: [hook],
             send_resolved: false}
          - {name: burn, condition: "cost_rate>=20000", notify: [hook]}
        """, env={"S": "sekrit", "P": "pw"})
    hook, mail = config.notifiers
    assert hook.spec == WebhookNotifier(url="https://hooks.example.gov.uk/x", secret="sekrit")
    assert (hook.timeout, hook.retries) == (5.0, 2)
    assert mail.spec == EmailNotifier(host="smtp.example.gov.uk", to=("ops@example.gov.uk",),
                                      sender="agent@example.gov.uk", port=465, security="tls",
                                      username="a", password="pw")
    assert config.agent.external_url == "https://status.example.gov.uk/"
    down, costly, budget, burn = config.alerts
    assert down == AlertRule(name="down", kind="state", notify=("hook", "mail"),
                             states=("down", "degraded"), hold=120.0, repeat=3600.0)
    assert (costly.kind, costly.thresholds, costly.systems) == ("incident_cost",
                                                                 (1000.0, 10000.0), ("email",))
    assert (budget.period, budget.send_resolved) == ("month", False)
    assert (burn.kind, burn.thresholds) == ("cost_rate", (20000.0,))


def test_every_alerting_mistake_is_named(tmp_path):
    found = problems(tmp_path, """\
        notifiers:
          - {name: hook, type: webhok, url: "https://x.example/"}
          - {name: mail, type: email, host: smtp.example, from: nobody, to: []}
          - {name: slack, type: slack, url: "not a url", channel: ops}
        alerts:
          - {name: a, condition: "incident_cost", notify: [mail]}
          - {name: b, condition: "cost_rat >= 5", notify: [mail]}
          - {name: c, condition: state, notify: [nope], systems: [emial], period: day}
          - {name: d, condition: "period_cost >= lots", notify: [mail]}
        """)
    assert found == [
        "8: notifiers[0].type: must be one of webhook, slack, teams, email; "
        "did you mean 'webhook'?",
        "9: notifiers[1].from: not an email address",
        "9: notifiers[1].to: must not be empty",
        "10: notifiers[2].channel: unknown key for a slack notifier (known: name, queue_size, "
        "retries, timeout, type, url)",
        "10: notifiers[2].url: not a valid URL: it is empty or contains spaces",
        "12: alerts[0].condition: needs a threshold, e.g. incident_cost >= 10000",
        "13: alerts[1].condition: unknown condition 'cost_rat'; did you mean 'cost_rate'? "
        "(state, or incident_cost|period_cost|cost_rate >= AMOUNT[, AMOUNT...])",
        "14: alerts[2].notify[0]: no notifier named 'nope'",
        "14: alerts[2].period: only used with condition period_cost",
        "14: alerts[2].systems[0]: no system named 'emial'; did you mean 'email'?",
        "15: alerts[3].condition: not an amount: 'lots' (write 10000 or 10_000)",
    ]


def test_a_notifier_without_a_name_is_reported_not_a_crash(tmp_path):
    assert problems(tmp_path, """\
        notifiers:
          - {type: slack, url: "https://hooks.slack.example/x"}
        """) == ["8: notifiers[0].name: required key is missing"]


def test_a_webhook_and_an_email_notifier_may_trust_a_ca_file_of_their_own(tmp_path):
    (tmp_path / "council-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = load(tmp_path, """\
        notifiers:
          - {name: hook, type: webhook, url: "https://desk.example.gov.uk/",
             ca_file: council-ca.pem}
          - {name: mail, type: email, host: smtp.example.gov.uk, from: a@example.gov.uk,
             to: b@example.gov.uk, ca_file: council-ca.pem}
        """)
    assert [n.spec.ca_file for n in config.notifiers] == [str(tmp_path / "council-ca.pem")] * 2


def test_a_notifiers_ca_file_must_exist_and_serve_tls(tmp_path):
    (tmp_path / "council-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert problems(tmp_path, """\
        notifiers:
          - {name: hook, type: webhook, url: "https://desk.example.gov.uk/", ca_file: nope.pem}
          - {name: mail, type: email, host: relay.example.gov.uk, from: a@example.gov.uk,
             to: b@example.gov.uk, security: none, ca_file: council-ca.pem}
          - {name: chat, type: slack, url: "https://hooks.slack.example/x", ca_file: ca.pem}
        """) == [
        f"8: notifiers[0].ca_file: no such file: {tmp_path / 'nope.pem'}",
        "10: notifiers[1].ca_file: only used with security: starttls or tls",
        "11: notifiers[2].ca_file: unknown key for a slack notifier (known: name, queue_size, "
        "retries, timeout, type, url)",
    ]

"""Each notifier's request is built by a pure function: check what people will read."""

from __future__ import annotations

import hashlib
import hmac
import json

from agent.model import EmailNotifier, WebhookNotifier
from agent.notify import Message, email, slack, teams, webhook

AT = 1_795_000_000.0
MESSAGE = Message(
    alert="outage", status="firing", title="email is DOWN: £1,234.56 so far, £11,694.39/h",
    at=AT, currency="GBP", system="email", state="down", cause="network-core",
    since=AT - 600, affected_users=1800, cost_per_hour=11694.386, accrued_cost=1234.564,
    url="https://status.example.gov.uk/",
)


def test_message_lines_say_what_since_when_why_who_and_how_much():
    assert MESSAGE.lines() == [
        "System: email",
        "State: down (cause: network-core)",
        "Since: 2026-11-18T10:56:40.000Z (10m ago)",
        "Users affected: 1,800",
        "Burn rate: £11,694.39 per hour",
        "Accrued cost: £1,234.56",
        "Status page: https://status.example.gov.uk/",
    ]


def test_webhook_payload_is_documented_json_and_signed_with_hmac_sha256():
    body, headers = webhook.build(WebhookNotifier(url="http://127.0.0.1/", secret="s3cret"),
                                  MESSAGE)
    data = json.loads(body)
    assert data["version"] == 1
    assert (data["alert"], data["status"], data["system"], data["cause"]) == (
        "outage", "firing", "email", "network-core")
    assert (data["cost_per_hour"], data["accrued_cost"], data["currency"]) == (
        11694.39, 1234.56, "GBP")
    assert data["since"] == "2026-11-18T10:56:40.000Z"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[webhook.SIGNATURE_HEADER] == f"sha256={expected}"


def test_unsigned_webhook_has_no_signature_header():
    _, headers = webhook.build(WebhookNotifier(url="http://127.0.0.1/"), MESSAGE)
    assert webhook.SIGNATURE_HEADER not in headers


def test_slack_has_a_text_fallback_and_the_facts_in_blocks():
    data = slack.payload(MESSAGE)
    assert data["text"] == MESSAGE.title
    text = json.dumps(data["blocks"], ensure_ascii=False)
    assert "Burn rate: £11,694.39 per hour" in text and ":red_circle:" in text


def test_teams_sends_an_adaptive_card_with_a_status_page_button():
    data = teams.payload(MESSAGE)
    [attachment] = data["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Accrued cost"] == "£1,234.56"
    assert card["actions"][0]["url"] == "https://status.example.gov.uk/"


def test_email_subject_and_body():
    spec = EmailNotifier(host="127.0.0.1", to=("ops@example.gov.uk", "duty@example.gov.uk"),
                         sender="agent@example.gov.uk")
    mail = email.build(spec, MESSAGE)
    assert mail["Subject"] == f"[firing] {MESSAGE.title}"
    assert mail["To"] == "ops@example.gov.uk, duty@example.gov.uk"
    assert "Users affected: 1,800" in mail.get_content()

"""Slack incoming webhooks: a text fallback plus Block Kit sections."""

from __future__ import annotations

from typing import Any

from agent.model import SlackNotifier
from agent.notify import Message
from agent.notify.http import encode, post_json

ICONS = {"firing": ":red_circle:", "reminder": ":large_orange_circle:",
         "resolved": ":large_green_circle:", "test": ":information_source:"}


def payload(message: Message) -> dict[str, Any]:
    headline = f"{ICONS.get(message.status, '')} *{message.title}*".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
    ]
    facts = message.lines()
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"alert `{message.alert}` · {message.status}"}]})
    return {"text": message.title, "blocks": blocks}


def send(spec: SlackNotifier, message: Message, timeout: float) -> None:
    post_json(spec.url, encode(payload(message)), timeout)

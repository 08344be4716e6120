"""Slack incoming webhooks: a text fallback plus Block Kit sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.config.probes import http_url
from agent.notify.base import Message, NotifierType
from agent.notify.http import encode, post_json

if TYPE_CHECKING:
    from agent.config.tree import Context, Node


@dataclass(frozen=True)
class SlackNotifier:
    url: str  # an incoming-webhook URL
    type: str = "slack"


def read(ctx: Context, fields: dict[str, Node]) -> SlackNotifier | None:
    url = http_url(ctx, fields["url"])
    return SlackNotifier(url) if url else None


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


TYPE = NotifierType("slack", ("url",), (), read, send)

"""Microsoft Teams workflow webhooks, which take an Adaptive Card in a message envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.config.probes import http_url
from agent.notify.base import Message, NotifierType
from agent.notify.http import encode, post_json

if TYPE_CHECKING:
    from agent.config.tree import Context, Node


@dataclass(frozen=True)
class TeamsNotifier:
    url: str  # a Teams workflow ("When a Teams webhook request is received") URL
    type: str = "teams"


def read(ctx: Context, fields: dict[str, Node]) -> TeamsNotifier | None:
    url = http_url(ctx, fields["url"])
    return TeamsNotifier(url) if url else None


COLOURS = {"firing": "attention", "reminder": "warning", "resolved": "good", "test": "accent"}


def card(message: Message) -> dict[str, Any]:
    facts = [{"title": line.split(": ", 1)[0], "value": line.split(": ", 1)[1]}
             for line in message.lines() if ": " in line]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium",
         "wrap": True, "color": COLOURS.get(message.status, "default")},
        {"type": "FactSet", "facts": facts},
    ]
    actions = []
    if message.url:
        actions.append({"type": "Action.OpenUrl", "title": "Status page", "url": message.url})
    return {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body, "actions": actions}


def payload(message: Message) -> dict[str, Any]:
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card(message)}]}


def send(spec: TeamsNotifier, message: Message, timeout: float) -> None:
    post_json(spec.url, encode(payload(message)), timeout)


TYPE = NotifierType("teams", ("url",), (), read, send)

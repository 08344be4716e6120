"""A generic JSON webhook, optionally signed with HMAC-SHA256 (docs/alerting.md#webhook-payload)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.config.probes import http_url, read_headers
from agent.config.values import existing_file, non_empty
from agent.notify.base import Message, NotifierType
from agent.notify.http import encode, post_json
from agent.text import iso

if TYPE_CHECKING:
    from agent.config.tree import Context, Node

SIGNATURE_HEADER = "X-Outage-Signature"


@dataclass(frozen=True)
class WebhookNotifier:
    url: str
    # signs the body: X-Outage-Signature: sha256=<hex HMAC>; kept out of repr, like password
    secret: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    ca_file: str | None = None  # trust only this CA (an internal one), not the system's store
    type: str = "webhook"


def read(ctx: Context, fields: dict[str, Node]) -> WebhookNotifier | None:
    url = http_url(ctx, fields["url"])
    secret = non_empty(ctx, fields["secret"]) if "secret" in fields else None
    headers = read_headers(ctx, fields["headers"]) if "headers" in fields else ()
    ca_file = existing_file(ctx, fields["ca_file"]) if "ca_file" in fields else None
    return WebhookNotifier(url, secret, headers or (), ca_file) if url else None


def payload(message: Message) -> dict[str, Any]:
    return {
        "version": 1, "alert": message.alert, "status": message.status,
        "title": message.title, "system": message.system, "state": message.state,
        "cause": message.cause, "since": iso(message.since),
        "affected_users": round(message.affected_users, 1),
        "cost_per_hour": round(message.cost_per_hour, 2),
        "accrued_cost": round(message.accrued_cost, 2), "currency": message.currency,
        "url": message.url, "at": iso(message.at), "id": message.id or None,
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build(spec: WebhookNotifier, message: Message) -> tuple[bytes, dict[str, str]]:
    """Given a message, return the body and headers to POST."""
    body = encode(payload(message))
    headers = dict(spec.headers)
    if message.id:
        headers["Idempotency-Key"] = message.id
    if spec.secret:
        headers[SIGNATURE_HEADER] = signature(spec.secret, body)
    return body, headers


def send(spec: WebhookNotifier, message: Message, timeout: float) -> None:
    body, headers = build(spec, message)
    post_json(spec.url, body, timeout, headers, spec.ca_file)


TYPE = NotifierType("webhook", ("url",), ("secret", "headers", "ca_file"), read, send)

"""A generic JSON webhook, optionally signed with HMAC-SHA256 (README, "Webhook payload")."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from agent.model import WebhookNotifier
from agent.notify import Message
from agent.notify.http import encode, post_json
from agent.text import iso

SIGNATURE_HEADER = "X-Outage-Signature"


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
    post_json(spec.url, body, timeout, headers)

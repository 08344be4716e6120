"""Notifiers: one module per type, each with its spec, its config reader, a pure `build` of the
request and a `send`, registered in NOTIFIER_TYPES.

A notification is plain data (`Message`). Building the request is pure so the payloads are
tested exactly; sending raises `TransportError`, which says whether retrying can help. A
failing notifier never touches probing: delivery runs on its own thread (see dispatch.py).
Every TLS connection a notifier makes trusts the system's store, as probes do, or the
notifier's `ca_file` where it has one.
"""

from __future__ import annotations

from agent.notify import email, slack, teams, webhook
from agent.notify.base import Message, NotifierType, Send, TransportError

__all__ = ["NOTIFIER_TYPES", "Message", "NotifierType", "Send", "TransportError", "senders"]

# Every notifier type by its config `type:`, in the order error messages list them. A new type
# is a module with its TYPE, and one entry here (docs/extending.md).
NOTIFIER_TYPES: dict[str, NotifierType] = {
    notifier_type.name: notifier_type
    for notifier_type in (webhook.TYPE, slack.TYPE, teams.TYPE, email.TYPE)
}


def senders() -> dict[str, Send]:
    """Notifier type -> its send function."""
    return {name: notifier_type.send for name, notifier_type in NOTIFIER_TYPES.items()}

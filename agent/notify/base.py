"""What a notifier module declares and uses: the message, the error its send raises, and its
entry in the registry (agent.notify.NOTIFIER_TYPES).

A module `agent/notify/<type>.py` owns the notifier type whole: its spec dataclass, how its
config is read, a pure `build` of what it sends and `send`. It ends with
`TYPE = NotifierType(...)`; docs/extending.md says how to add one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.text import duration, iso, money

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.model import NotifierSpec


class TransportError(Exception):
    """Delivery failed; `permanent` when retrying cannot help (e.g. 400, 404)."""

    def __init__(self, message: str, permanent: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Message:
    """What people are told: what, since when, why, how many users and how much money."""

    alert: str
    status: str  # firing | resolved | reminder | test
    title: str  # one line, e.g. "email is DOWN: £1,234.56 so far (£11,694.39/h)"
    at: float
    currency: str
    system: str | None = None
    state: str | None = None
    cause: str | None = None
    since: float | None = None
    affected_users: float = 0.0
    cost_per_hour: float = 0.0
    accrued_cost: float = 0.0
    url: str | None = None
    # Stable across redeliveries (the outbox keeps it): a receiver that sees it twice can
    # tell it is the same message (a webhook's `id` and Idempotency-Key header).
    id: str = ""

    def lines(self) -> list[str]:
        """The facts as 'Label: value' lines, for text bodies."""
        out = []
        if self.system:
            out.append(f"System: {self.system}")
        if self.state:
            out.append(f"State: {self.state}" + (f" (cause: {self.cause})" if self.cause else ""))
        if self.since is not None:
            out.append(f"Since: {iso(self.since)} ({duration(self.at - self.since)} ago)")
        if self.affected_users:
            out.append(f"Users affected: {self.affected_users:,.0f}")
        if self.cost_per_hour:
            out.append(f"Burn rate: {money(self.cost_per_hour, self.currency)} per hour")
        if self.accrued_cost:
            out.append(f"Accrued cost: {money(self.accrued_cost, self.currency)}")
        if self.url:
            out.append(f"Status page: {self.url}")
        return out


Send = Callable[[Any, Message, float], None]  # (the notifier's spec, message, timeout)
# Given the notifier's known keys (its own and name, type, timeout, retries, queue_size),
# return its spec, or None after reporting each problem at its line.
Read = Callable[["Context", dict[str, "Node"]], "NotifierSpec | None"]


@dataclass(frozen=True)
class NotifierType:
    """One notifier type: `type: <name>` in a config, with `required` and `optional` keys of
    its own, is read by `read` into its spec, which `send` delivers a message with."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    read: Read
    send: Send

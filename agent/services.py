"""Business services: a system with no probe of its own, whose health is read off its members'
states by an "N of M" rule (email is down when both Exchange servers are, degraded when one is).

Pure functions of the members' states, so the engine re-derives a service whenever a member's
state changes, at that member's boundary, and tests walk through any episode without a clock.

The rules (docs/services.md):
- a member counts as *down* when its state is down (its own fault or behind a dependency),
  as *short* when degraded; the service is down when `down_when` members are down, degraded
  when `degraded_when` members are down or degraded;
- a member in planned maintenance is capacity taken away on purpose: if only the planned work
  makes the service down, the service is in maintenance (costs nothing, the member named as
  the cause), as a dependant failing behind a dependency's planned work is; planned work that
  only makes it degraded costs nothing either (the service stays up);
- a member whose state is not known (not yet probed, the agent blind to it) leaves the service
  unknown when it could change the verdict, and is ignored when it could not;
- the service is down *behind* a root cause when every member that makes it down is down
  behind that same cause, so its users are costed with the root cause's, as a dependant's are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agent.model import ProbeResult, State, Status, System
from agent.state import DEGRADED, DOWN, UP

TYPE = "service"
_RULE = re.compile(r"\s*([0-9]+)\s+of\s+([0-9]+)\s*")  # ASCII digits, as numbers in config


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is made of: its members, and how many of them down (or down or
    degraded) make it down (or degraded)."""

    members: tuple[str, ...]
    down_when: int  # at least this many members down: the service is down
    degraded_when: int  # at least this many members down or degraded: degraded
    type: str = TYPE


def within(names: Iterable[str], members: Callable[[str], Sequence[str]]) -> list[str]:
    """`names` and everything they are made of (`members(name)`: () for a system), each once,
    a service before its members, in the order listed. Bounded: each name is expanded
    once."""
    found: dict[str, None] = {}
    pending = list(reversed(list(names)))
    while pending:
        name = pending.pop()
        if name not in found:
            found[name] = None
            pending.extend(reversed(members(name)))
    return list(found)


def is_service(system: System) -> bool:
    """True for a service (derived from members), False for a probed or heartbeat system."""
    return isinstance(system.check.spec, ServiceSpec)


def members_of(system: System) -> tuple[str, ...]:
    """A service's members; () for a probed or heartbeat system."""
    spec = system.check.spec
    return spec.members if isinstance(spec, ServiceSpec) else ()


def rule_count(text: str, members: int) -> tuple[int | None, str | None]:
    """Given a rule ("all", "any" or "N of M") and the number of members, return how many
    members it takes, or None and why the rule is wrong."""
    words = text.strip().lower()
    if words == "all":
        return members, None
    if words == "any":
        return 1, None
    match = _RULE.fullmatch(words)
    if match is None:
        return None, f'expected all, any or "N of M" (e.g. "2 of {max(members, 2)}"), got {text!r}'
    n, m = int(match[1]), int(match[2])
    if n < 1:
        return None, f"{text!r}: N must be at least 1"
    if n > m:
        return None, f"{text!r}: N cannot be more than M"
    if m != members:
        return None, f"{text!r}: the service has {members} member{'s' * (members != 1)}, not {m}"
    return n, None


def rule_text(count: int, members: int) -> str:
    """How a rule is shown: all, any, or "N of M"."""
    if count == members:
        return "all"
    return "any" if count == 1 else f"{count} of {members}"


def rule_sentence(spec: ServiceSpec, shown: int = 5) -> str:
    """"down when all of a, b" or "down when 2 of 3: a, b, c", naming at most `shown`
    members."""
    rule = rule_text(spec.down_when, len(spec.members))
    names = ", ".join(spec.members[:shown])
    if len(spec.members) > shown:
        names += f" and {len(spec.members) - shown} more"
    return f"down when {rule} of {names}" if rule in ("all", "any") else (
        f"down when {rule}: {names}")


@dataclass(frozen=True)
class Verdict:
    """A service's health as read off its members: the level (None: unknown), the root cause
    it is down behind, the planned work that makes it down, and the words for its window."""

    health: int | None
    root_cause: str | None = None
    planned_cause: str | None = None
    reason: str = ""


def judge(spec: ServiceSpec, members: Sequence[tuple[str, State, str | None]]) -> Verdict:
    """Given the spec and each member's (name, state, cause), return the service's verdict."""
    down = [(name, cause) for name, state, cause in members if state is State.DOWN]
    planned = [(name, cause) for name, state, cause in members if state is State.MAINTENANCE]
    short = sum(state is State.DEGRADED for _, state, _ in members)
    unknown = sum(state is State.UNKNOWN for _, state, _ in members)
    unplanned = _level(spec, len(down), short)
    level = _level(spec, len(down) + len(planned), short)
    if _level(spec, len(down) + len(planned) + unknown, short) != level:
        return Verdict(None, reason=f"{unknown} of {len(members)} members unknown")
    reason = _reason(down, "down") or _reason([(n, None) for n, s, _ in members
                                               if s is State.DEGRADED], "degraded")
    if level == DOWN and unplanned < DOWN:
        name, cause = planned[0]
        return Verdict(DOWN, planned_cause=cause or name,
                       reason=_reason(planned, "in maintenance") + (reason and f", {reason}"))
    if level == DOWN:
        causes = {cause for _, cause in down}
        root = causes.pop() if len(causes) == 1 else None
        return Verdict(DOWN, root_cause=root, reason=reason)
    return Verdict(unplanned, reason=reason if unplanned != UP else "")


def _level(spec: ServiceSpec, down: int, short: int) -> int:
    if down >= spec.down_when:
        return DOWN
    return DEGRADED if down + short >= spec.degraded_when else UP


def _reason(members: Sequence[tuple[str, str | None]], what: str) -> str:
    """E.g. "exch-1, exch-2 down"; "" for none."""
    return f"{', '.join(name for name, _ in members)} {what}" if members else ""


def as_result(verdict: Verdict) -> ProbeResult:
    """The verdict as what the agent last saw of the service (the API's `last_probe`)."""
    status = {None: Status.UNKNOWN, UP: Status.UP, DEGRADED: Status.DEGRADED,
              DOWN: Status.DOWN}[verdict.health]
    return ProbeResult(status, 0.0, verdict.reason)

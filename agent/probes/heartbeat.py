"""Heartbeat (push) monitors: a job reports in to `/ping/<token>`; nothing is probed.

The spec says when a success is due (`every` after the last one, or at each `schedule` cron
time in cost.timezone), how long it may be late (`grace`) and how long a started run may take
(`max_runtime`). The deadlines are judged by agent.heartbeats; `probe` is only what `outage-agent
probe` shows for a system it cannot probe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from agent.config.values import format_duration, positive_duration, string, validated
from agent.model import ProbeResult, Status
from agent.probes.base import ProbeType

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.probes import Resources

# At least 128 bits: 32 hex digits (4 bits each) or 22 base64url characters (6 bits each).
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
HEX_LENGTH, BASE64URL_LENGTH = 32, 22


@dataclass(frozen=True)
class HeartbeatProbe:
    grace: float  # seconds a success may be late before the system is down
    token: str = field(repr=False)  # the credential in /ping/<token>
    every: float | None = None  # a success is due this long after the last one
    schedule: str | None = None  # or at each fire of this cron, in cost.timezone
    max_runtime: float | None = None  # a /start not followed by a success within it is down
    type: str = "heartbeat"


def token_error(token: str) -> str | None:
    """Why `token` is too weak to be the only credential of a ping, or None if it is not."""
    if not _BASE64URL.fullmatch(token):
        return "a token is letters, digits, '-' and '_' only (it goes in a URL)"
    if _HEX.fullmatch(token) and len(token) < HEX_LENGTH:
        return (f"too short: a hex token needs at least {HEX_LENGTH} digits (128 bits), "
                f"got {len(token)}; make one with `openssl rand -hex 16`")
    if len(token) < BASE64URL_LENGTH:
        return (f"too short: a token needs at least {BASE64URL_LENGTH} base64url characters "
                f"(128 bits), got {len(token)}; make one with `openssl rand -hex 16`")
    return None


def _cron(ctx: Context, node: Node) -> str | None:
    from agent.maintenance import cron_error, next_fire  # late: config loads no calendar

    text = string(ctx, node)
    error = cron_error(text) if text is not None else None
    if text is not None and not error and next_fire(text, ZoneInfo("UTC"), 0.0) is None:
        error = "never fires: no success could ever be due"
    if error:
        ctx.bad(node, error.removeprefix("cron: "))
        return None
    return text


def _check(ctx: Context, fields: dict[str, Node], values: dict[str, Any]) -> None:
    """Exactly one of `every` and `schedule` says when a success is due."""
    given = [key for key in ("every", "schedule") if key in fields]
    if len(given) == 2:
        ctx.bad(fields["schedule"], "give either every or schedule, not both")
    elif not given and "type" in fields:
        ctx.bad(fields["type"], "a heartbeat needs every (e.g. 1d) or schedule (a cron line)")


async def probe(spec: HeartbeatProbe, timeout: float, resources: Resources) -> ProbeResult:
    """A heartbeat cannot be probed: the job pings the agent (agent.heartbeats judges it)."""
    return ProbeResult(Status.UNKNOWN, 0.0, "a heartbeat: the job pings the agent")


def summary(spec: HeartbeatProbe) -> str:
    """"every 1d, grace 2h" or "schedule '30 2 * * *', grace 1h": when a success is due."""
    due = f"every {format_duration(spec.every or 0)}" if spec.schedule is None else (
        f"schedule {spec.schedule!r}")
    return f"{due}, grace {format_duration(spec.grace)}"


TYPE = ProbeType(
    "heartbeat", HeartbeatProbe, ("grace", "token"),
    {"grace": positive_duration, "token": validated(string, token_error),
     "every": positive_duration, "schedule": _cron, "max_runtime": positive_duration},
    probe, _check, thresholds=(2, 1), summary=summary)

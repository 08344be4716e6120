"""Read a system's planned maintenance: recurring windows ({cron, duration}) and one-off
windows ({from, to}), with naive times in cost.timezone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from agent.config.tree import Context, Node
from agent.config.values import as_list, known_fields, positive_duration, string, validated
from agent.model import Maintenance


def read_maintenance(ctx: Context, node: Node) -> tuple[Maintenance, ...]:
    windows = [_maintenance_window(ctx, item) for item in as_list(ctx, node) or ()]
    return tuple(window for window in windows if window is not None)


def _maintenance_window(ctx: Context, node: Node) -> Maintenance | None:
    """Given {cron, duration} or {from, to}, return the planned window."""
    fields = known_fields(ctx, node, (), ("cron", "duration", "from", "to"))
    if fields is None:
        return None
    recurring = "cron" in fields or "duration" in fields
    one_off = "from" in fields or "to" in fields
    if recurring and one_off:
        ctx.bad(node, "give either cron with duration or from with to, not both")
    elif not recurring and not one_off:
        ctx.bad(node, "give either cron with duration (recurring) or from with to (one-off)")
    elif recurring:
        return _recurring(ctx, node, fields)
    else:
        return _one_off(ctx, node, fields)
    return None


def _require(
    ctx: Context, node: Node, fields: dict[str, Node], keys: Iterable[str], why: str
) -> bool:
    missing = [key for key in keys if key not in fields]
    for key in missing:
        ctx.missing(node, key, f" ({why})")
    return not missing


def _recurring(ctx: Context, node: Node, fields: dict[str, Node]) -> Maintenance | None:
    if not _require(ctx, node, fields, ("cron", "duration"), "cron goes with duration"):
        return None
    cron = _cron(ctx, fields["cron"])
    duration = positive_duration(ctx, fields["duration"])
    if cron is None or duration is None:
        return None
    return Maintenance(cron=cron, duration=duration)


def _cron_error(text: str) -> str | None:
    from agent.maintenance import cron_error  # late: config need not load the calendar code

    error = cron_error(text)
    return error.removeprefix("cron: ") if error else None


_cron = validated(string, _cron_error)


def _one_off(ctx: Context, node: Node, fields: dict[str, Node]) -> Maintenance | None:
    if not _require(ctx, node, fields, ("from", "to"), "from goes with to"):
        return None
    start = _datetime(ctx, fields["from"])
    end = _datetime(ctx, fields["to"])
    if start is None or end is None:
        return None
    if end <= start:
        ctx.bad(fields["to"], "must be later than from")
        return None
    return Maintenance(start=start, end=end)


_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


def _datetime(ctx: Context, node: Node) -> dt.datetime | None:
    """Given ISO 8601 text, return an aware UTC datetime; a naive time is in cost.timezone."""
    text = string(ctx, node)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ctx.timezone)
        moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        ctx.bad(node, "not an ISO 8601 date and time, e.g. 2026-12-24T18:00:00Z")
        return None
    if not _EARLIEST <= moment <= _LATEST:  # far dates overflow date arithmetic elsewhere
        ctx.bad(node, "must be between the years 1970 and 2999")
        return None
    return moment

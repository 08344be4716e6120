"""The users source types, looked up by `type:`; reading a `source:` mapping of the config;
and taking one reading: the type's reader under its timeout, its number checked and clamped."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from agent.config.tree import Context, Node
from agent.config.values import (
    duration,
    format_duration,
    known_fields,
    non_negative,
    positive_duration,
    type_of,
)
from agent.model import UsersSource
from agent.users import command, http_json, prometheus
from agent.users.base import Outcome, SourceType
from agent.users.inforce import MAX_USERS

SOURCE_TYPES: Mapping[str, SourceType] = {
    t.name: t for t in (prometheus.TYPE, http_json.TYPE, command.TYPE)}
COMMON = ("type", "every", "max", "timeout")
MIN_EVERY = 1.0  # seconds
DEFAULT_EVERY = 60.0
MAX_TIMEOUT = 10.0  # the default timeout: this, or `every` if shorter

log = logging.getLogger(__name__)


def read_source(ctx: Context, node: Node) -> UsersSource | None:
    """Given a `source:` mapping, return it; None after reporting what is wrong."""
    kind = _source_type(ctx, node)
    if kind is None:
        return None
    fields = _fields(ctx, node, kind)
    if fields is None:
        return None
    values = {key: parse(ctx, fields[key]) for key, parse in kind.fields.items() if key in fields}
    every = _every(ctx, fields["every"]) if "every" in fields else DEFAULT_EVERY
    most = _max(ctx, fields["max"]) if "max" in fields else None
    timeout = positive_duration(ctx, fields["timeout"]) if "timeout" in fields else None
    bad = (every is None or ("max" in fields and most is None)
           or ("timeout" in fields and timeout is None))
    if timeout is not None and every is not None and timeout > every:
        ctx.bad(fields["timeout"], f"must not be longer than every ({format_duration(every)}):"
                                   " a reading must end before the next is due")
        bad = True
    if bad or None in values.values() or any(key not in fields for key in kind.required):
        return None
    if kind.check is not None:
        problems = len(ctx.problems)
        kind.check(ctx, dict(fields), values)
        if len(ctx.problems) > problems:
            return None
    assert every is not None
    return UsersSource(kind.spec(**values), every, most, timeout or min(MAX_TIMEOUT, every))


def _fields(ctx: Context, node: Node, kind: SourceType) -> dict[str, Node] | None:
    """The source's keys, once each is known to its type; a key of another type is named
    as such (`query` is prometheus's), not merely unknown."""
    others = {key: other.name for other in SOURCE_TYPES.values() for key in other.fields
              if key not in kind.fields}
    given = node.value if isinstance(node.value, dict) else {}
    misplaced = [key for key in given if key in others]
    what = f" for users source type {kind.name}"
    fields = known_fields(ctx, node, ("type", *kind.required),
                          [*COMMON, *kind.fields, *misplaced], what)
    if fields is None:
        return None
    for key in misplaced:
        ctx.report(node.key_lines[key], fields[key].path,
                   f"only for users source type {others[key]}, not {kind.name}")
    return None if misplaced else fields


def _source_type(ctx: Context, node: Node) -> SourceType | None:
    return type_of(ctx, node, SOURCE_TYPES, "users source type")


def _every(ctx: Context, node: Node) -> float | None:
    seconds = duration(ctx, node)
    if seconds is not None and seconds < MIN_EVERY:
        ctx.bad(node, "must be at least 1s")
        return None
    return seconds


def _max(ctx: Context, node: Node) -> float | None:
    most = non_negative(ctx, node)
    if most == 0:  # every reading would be clamped to nobody
        ctx.bad(node, "must be greater than zero")
        return None
    if most is not None and most > MAX_USERS:
        ctx.bad(node, f"must be at most {MAX_USERS:,.0f} (no source measures more users)")
        return None
    return most


@dataclass(frozen=True)
class Taken:
    """One reading as it will be used: the users (None: the fallback), and what to log."""

    value: float | None
    reason: str = ""  # why there is no value
    clamped_from: float | None = None  # the reading above `max`, if it was


async def take(source: UsersSource) -> Taken:
    """Read `source` once, within its timeout: a number of users that is finite and not
    negative, clamped to its `max`; or why there is none."""
    kind = SOURCE_TYPES[source.spec.type]
    try:
        async with asyncio.timeout(source.timeout + 1.0):  # the reader keeps its own first
            outcome = await kind.read(source.spec, source.timeout)
    except TimeoutError:
        outcome = Outcome(None, f"timeout after {source.timeout:g}s")
    except Exception as exc:  # a reader's bug is a failed reading, never a stop
        log.debug("users source %s failed", describe(source), exc_info=True)
        said = str(exc).splitlines()[0][:120] if str(exc) else ""
        outcome = Outcome(None, f"unexpected error: {type(exc).__name__}"
                                + (f": {said}" if said else ""))
    return checked(outcome, source.max)


def checked(outcome: Outcome, most: float | None) -> Taken:
    """Given what a source gave, return it as users: refused if not finite, negative or
    above MAX_USERS (whatever `most` is), clamped to `most`."""
    value = outcome.value
    if value is None:
        return Taken(None, outcome.reason or "no value")
    if not math.isfinite(value):
        return Taken(None, f"not a finite number ({value})")
    if value < 0:
        return Taken(None, f"a negative number of users ({value:g})")
    if value > MAX_USERS:
        return Taken(None, f"more users than any source can measure ({value:g} > {MAX_USERS:,.0f})")
    if most is not None and value > most:
        return Taken(most, clamped_from=value)
    return Taken(value)


def describe(source: UsersSource) -> str:
    """What `check` shows of a source: its type and where it reads."""
    spec = source.spec
    where = getattr(spec, "query", None) or getattr(spec, "url", None) or " ".join(
        getattr(spec, "command", ()))
    return f"{spec.type} {where}"

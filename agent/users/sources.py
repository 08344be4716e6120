"""The users source types, looked up by `type:`; reading a `source:` mapping of the config;
and taking one reading: the type's reader under its timeout, its number checked and clamped."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass

from agent.config.tree import Context, Node
from agent.config.values import (
    did_you_mean,
    duration,
    known_fields,
    non_negative,
    string,
    typed_mapping,
)
from agent.model import UsersSource
from agent.users import command, http_json, prometheus
from agent.users.base import Outcome, SourceType

SOURCE_TYPES: Mapping[str, SourceType] = {
    t.name: t for t in (prometheus.TYPE, http_json.TYPE, command.TYPE)}
COMMON = ("type", "every", "max", "timeout")
MIN_EVERY = 1.0  # seconds
DEFAULT_EVERY = 60.0
MAX_TIMEOUT = 10.0  # the default timeout: this, or `every` if shorter


def read_source(ctx: Context, node: Node) -> UsersSource | None:
    """Given a `source:` mapping, return it; None after reporting what is wrong."""
    kind = _source_type(ctx, node)
    if kind is None:
        return None
    what = f" for users source type {kind.name}"
    fields = known_fields(ctx, node, ("type", *kind.required), [*COMMON, *kind.fields], what)
    if fields is None:
        return None
    values = {key: parse(ctx, fields[key]) for key, parse in kind.fields.items() if key in fields}
    every = _every(ctx, fields["every"]) if "every" in fields else DEFAULT_EVERY
    most = non_negative(ctx, fields["max"]) if "max" in fields else None
    timeout = _timeout(ctx, fields["timeout"]) if "timeout" in fields else None
    bad = (every is None or ("max" in fields and most is None)
           or ("timeout" in fields and timeout is None))
    if bad or None in values.values() or any(key not in fields for key in kind.required):
        return None
    assert every is not None
    return UsersSource(kind.spec(**values), every, most, timeout or min(MAX_TIMEOUT, every))


def _source_type(ctx: Context, node: Node) -> SourceType | None:
    mapping = typed_mapping(ctx, node, SOURCE_TYPES)
    if mapping is None:
        return None
    name = string(ctx, mapping["type"])
    if name is not None and name not in SOURCE_TYPES:
        hint = did_you_mean(name, SOURCE_TYPES) or f" (known: {', '.join(SOURCE_TYPES)})"
        ctx.bad(mapping["type"], f"unknown users source type {name!r}{hint}")
        return None
    return SOURCE_TYPES[name] if name is not None else None


def _every(ctx: Context, node: Node) -> float | None:
    seconds = duration(ctx, node)
    if seconds is not None and seconds < MIN_EVERY:
        ctx.bad(node, "must be at least 1s")
        return None
    return seconds


def _timeout(ctx: Context, node: Node) -> float | None:
    seconds = duration(ctx, node)
    if seconds == 0:
        ctx.bad(node, "must be greater than zero")
        return None
    return seconds


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
    return checked(outcome, source.max)


def checked(outcome: Outcome, most: float | None) -> Taken:
    """Given what a source gave, return it as users: refused if not finite or negative,
    clamped to `most`."""
    value = outcome.value
    if value is None:
        return Taken(None, outcome.reason or "no value")
    if not math.isfinite(value):
        return Taken(None, f"not a finite number ({value})")
    if value < 0:
        return Taken(None, f"a negative number of users ({value:g})")
    if most is not None and value > most:
        return Taken(most, clamped_from=value)
    return Taken(value)


def describe(source: UsersSource) -> str:
    """What `check` shows of a source: its type and where it reads."""
    spec = source.spec
    where = getattr(spec, "query", None) or getattr(spec, "url", None) or " ".join(
        getattr(spec, "command", ()))
    return f"{spec.type} {where}"

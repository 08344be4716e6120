"""Timing and share settings: built in, overridden by `defaults`, then by a system, then by
its probe; and the checks that the resulting timings do not contradict each other."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from agent.config.tree import Context, Node, optional_section
from agent.config.values import (
    Parser,
    format_duration,
    integer,
    known_fields,
    non_negative,
    positive_duration,
    ranged,
)


class Setting(NamedTuple):
    value: float
    node: Node | None  # None: the built-in default
    level: int  # 0 built in, 1 defaults, 2 system, 3 probe: the most specific is blamed


def _threshold(ctx: Context, node: Node) -> int | None:
    return integer(ctx, node, 1, 1000)


def _flaps(ctx: Context, node: Node) -> int | None:
    return integer(ctx, node, 0, 1000)


fraction = ranged(lambda n: 0 <= n <= 1, "must be between 0 and 1")

SETTINGS: dict[str, Parser] = {
    "interval": positive_duration,
    "retry_interval": positive_duration,
    "down_interval": positive_duration,
    "timeout": positive_duration,
    "failure_threshold": _threshold,
    "success_threshold": _threshold,
    "degraded_after": positive_duration,
    "users_share": fraction,
    "impact": fraction,
    "degraded_impact": fraction,
    "direct_cost_per_hour": non_negative,
    "flap_threshold": _flaps,
    "flap_window": positive_duration,
}
_BUILT_IN = {
    key: Setting(value, None, 0)
    for key, value in {
        "interval": 30.0,
        "retry_interval": 5.0,
        "timeout": 10.0,
        "failure_threshold": 3,
        "success_threshold": 2,
        "users_share": 1.0,
        "impact": 1.0,
        "degraded_impact": 0.0,
        "direct_cost_per_hour": 0.0,
        "flap_threshold": 5,
        "flap_window": 600.0,
    }.items()
}
SYSTEM_SETTINGS = tuple(key for key in SETTINGS if key != "degraded_after")
PROBE_SETTINGS = ("timeout", "degraded_after")


def read_settings(
    ctx: Context, fields: dict[str, Node], keys: Iterable[str], level: int
) -> dict[str, Setting]:
    """Return the settings among `keys` that are present and valid."""
    found = {}
    for key in keys:
        if key in fields and (value := SETTINGS[key](ctx, fields[key])) is not None:
            found[key] = Setting(value, fields[key], level)
    return found


_TIMING_RULES = (  # (shorter, longer, may they be equal?)
    ("timeout", "interval", False),
    ("retry_interval", "interval", True),
    ("degraded_after", "timeout", False),
)


def check_timing(ctx: Context, merged: dict[str, Setting], owner: Node) -> None:
    """Report timings that contradict each other, at the most specific setting involved."""
    for short, long, may_equal in _TIMING_RULES:
        if short not in merged:
            continue
        a, b = merged[short], merged[long]
        if a.value > b.value or (a.value == b.value and not may_equal):
            blamed = a if a.level >= b.level else b  # the one set closest to the system
            ctx.bad(blamed.node or owner, _timing_message(short, long, a, b, may_equal))


def _timing_message(short: str, long: str, a: Setting, b: Setting, may_equal: bool) -> str:
    """Why `short` (a) and `long` (b) contradict each other; where `short` was never written
    (its built-in default clashes with the `long` the user set), say it is the default and
    what to set, rather than name a key as if the user had written it."""
    relation = "no longer than" if may_equal else "shorter than"
    limit = format_duration(b.value)
    if a.node is None:
        fix = f"{short}: {limit} or less" if may_equal else f"{short} below {limit}"
        return (f"{short} defaults to {format_duration(a.value)}, which must be {relation} "
                f"{long} ({limit}); set {fix}")
    return f"{short} ({format_duration(a.value)}) must be {relation} {long} ({limit})"


def read_defaults(ctx: Context, node: Node | None) -> dict[str, Setting]:
    """Given the defaults section, return the built-in settings overridden by it."""
    node = optional_section(node)
    fields = (known_fields(ctx, node, (), SETTINGS) if node else None) or {}
    merged = {**_BUILT_IN, **read_settings(ctx, fields, SETTINGS, level=1)}
    if node is not None:
        check_timing(ctx, merged, node)
    return merged

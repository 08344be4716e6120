"""Read a probe mapping through its type's entry in the registry (agent.probes.PROBE_TYPES),
and turn a probe with its merged settings into the System that runs it. Also the parsers that
more than one probe or notifier type uses; each type's own are in its module."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from agent.config.addresses import url_error
from agent.config.timing import PROBE_SETTINGS, Setting, read_settings
from agent.config.tree import Context, Node, one_or_list
from agent.config.values import (
    Parser,
    as_mapping,
    expect,
    known_fields,
    string,
    type_of,
    validated,
)
from agent.model import Check, ProbeSpec, System

if TYPE_CHECKING:
    from agent.probes.base import ProbeType

# --- parsers shared by probe and notifier types ----------------------------------------------

http_url = validated(string, url_error)


def read_headers(ctx: Context, node: Node) -> tuple[tuple[str, str], ...] | None:
    mapping = as_mapping(ctx, node)
    if mapping is None:
        return None
    headers = []
    for name, child in mapping.items():
        value = string(ctx, child)
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            ctx.report(node.key_lines[name], child.path, "not a valid HTTP header name")
        elif value is not None and ("\r" in value or "\n" in value):
            ctx.bad(child, "a header value must be on one line")
        elif value is not None:
            headers.append((name, value))
    return tuple(headers) if len(headers) == len(mapping) else None


def one_or_more(ctx: Context, node: Node, parse: Parser) -> tuple[Any, ...] | None:
    """Given one value or a list of them, return a tuple of parsed values."""
    items = one_or_list(node)
    values = [parse(ctx, item) for item in items]
    if not values:
        ctx.bad(node, "must not be empty")
    return tuple(values) if values and None not in values else None


def ip_version(ctx: Context, node: Node) -> int | None:
    version = expect(ctx, node, (int,), "4 or 6")
    if version is not None and version not in (4, 6):
        ctx.bad(node, "must be 4 or 6")
        return None
    return cast(int | None, version)


# --- a probe mapping ----------------------------------------------------------------------------


class Probe(NamedTuple):
    spec: ProbeSpec
    settings: dict[str, Setting]


def probe_types() -> Mapping[str, ProbeType]:
    """The registry, imported when first used: each probe module imports the parsers above
    (agent.config), so agent.probes cannot be imported while agent.config loads."""
    from agent.probes import PROBE_TYPES

    return PROBE_TYPES


def read_probe(ctx: Context, node: Node) -> Probe | None:
    """Given a probe mapping, return its spec and its own timeout/degraded_after settings."""
    kind = _probe_type(ctx, node)
    if kind is None:
        return None
    what = f" for probe type {node.value['type'].value}"
    fields = known_fields(
        ctx, node, ("type", *kind.required), [*kind.fields, *PROBE_SETTINGS], what
    )
    if fields is None:
        return None
    values = {key: parse(ctx, fields[key]) for key, parse in kind.fields.items() if key in fields}
    settings = read_settings(ctx, fields, PROBE_SETTINGS, level=3)
    if None in values.values() or any(key not in fields for key in kind.required):
        return None
    if kind.check:
        kind.check(ctx, fields, values)
    return Probe(kind.spec(**values), settings)


def _probe_type(ctx: Context, node: Node) -> ProbeType | None:
    return type_of(ctx, node, probe_types(), "probe type")


def make_system(name: str, probe: Probe, merged: dict[str, Setting], **extra: Any) -> System:
    """Given a probe and the merged settings, return the System that runs it."""
    value = {key: setting.value for key, setting in merged.items()}
    check = Check(probe.spec, value["timeout"], value.get("degraded_after"))
    fixed = probe_types()[probe.spec.type].thresholds
    failures, successes = fixed or (value["failure_threshold"], value["success_threshold"])
    return System(
        name=name,
        check=check,
        interval=value["interval"],
        retry_interval=value["retry_interval"],
        down_interval=value.get("down_interval"),
        failure_threshold=int(failures),
        success_threshold=int(successes),
        flap_threshold=0 if fixed else int(value.get("flap_threshold", 5)),
        flap_window=value.get("flap_window", 600.0),
        **extra,
    )

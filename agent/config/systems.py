"""Read the systems list: each system's name, probe, labels, SLA, dependencies, maintenance,
settings and share of each group of users; then check names are unique and the dependency
graph has no holes or cycles."""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

from agent.config.maintenance import read_maintenance
from agent.config.probes import make_system, read_probe
from agent.config.timing import (
    SYSTEM_SETTINGS,
    Setting,
    check_timing,
    fraction,
    read_settings,
)
from agent.config.tree import Context, Node, kind, list_items, raw_string
from agent.config.values import (
    as_list,
    as_mapping,
    did_you_mean,
    known_fields,
    name_error,
    number,
    string,
    validated,
)
from agent.model import System

LABELS = ("description", "owner", "supplier", "tier")
COSTING = ("users_share", "impact", "degraded_impact", "direct_cost_per_hour")
SHARED_KEYS = ("depends_on", *LABELS, "sla", "maintenance", "users")
_SYSTEM_KEYS = (*SHARED_KEYS, *SYSTEM_SETTINGS)


def read_systems(
    ctx: Context, node: Node | None, defaults: dict[str, Setting], groups: list[str] | None,
    members: Container[str] = (),
) -> tuple[System, ...]:
    """Given the systems list, the settings in `defaults`, the names of cost.groups (None
    without groups) and the names that are members of services (they carry no users of their
    own unless they say so), return the systems. The names and the dependency graph are
    checked with the services' (check_graph)."""
    _check_share(ctx, defaults, groups)
    if node is None:
        return ()  # reported as a missing key
    if node.value in (None, []) and not node.broken:
        ctx.bad(node, "no systems configured")
        return ()
    items = as_list(ctx, node) or []
    systems = [_system(ctx, item, defaults, groups, members) for item in items]
    _check_tokens(ctx, items, systems)
    return tuple(system for system in systems if system is not None)


def _check_tokens(ctx: Context, items: list[Node], systems: list[System | None]) -> None:
    """Each heartbeat system has a token of its own: a ping names its system by it alone."""
    seen: dict[str, str] = {}
    for item, system in zip(items, systems, strict=True):
        token = getattr(system.check.spec, "token", None) if system is not None else None
        if system is None or token is None:
            continue
        if token in seen:
            ctx.bad(item.value["probe"].value["token"],
                    f"the same token as system {seen[token]!r}: each heartbeat needs its own")
        seen.setdefault(token, system.name)


def _system(
    ctx: Context, node: Node, defaults: dict[str, Setting], groups: list[str] | None,
    members: Container[str],
) -> System | None:
    fields = known_fields(ctx, node, ("name", "probe"), _SYSTEM_KEYS)
    if fields is None:
        return None
    name = _system_name(ctx, fields["name"]) if "name" in fields else None
    probe = read_probe(ctx, fields["probe"]) if "probe" in fields else None
    settings = {**member_costs(name, members), **read_settings(ctx, fields, SYSTEM_SETTINGS,
                                                                level=2)}
    extra = shared_keys(ctx, fields, groups)
    if name is None or probe is None or extra is None:
        return None
    merged = {**defaults, **settings, **probe.settings}
    check_timing(ctx, merged, node)
    costing = {key: merged[key].value for key in COSTING}
    return make_system(name, probe, merged, **extra, **costing)


def member_costs(name: str | None, members: Container[str]) -> dict[str, Setting]:
    """A service's member carries no users and no direct cost of its own unless it sets them
    itself (not from `defaults`): the service carries them, so a redundant pair is billed
    once."""
    if name not in members:
        return {}
    return {key: Setting(0.0, None, 2) for key in ("users_share", "direct_cost_per_hour")}


def shared_keys(ctx: Context, fields: dict[str, Node], groups: list[str] | None,
                ) -> dict[str, Any] | None:
    """The keys a system and a service read alike: labels, SLA, dependencies, maintenance
    and the groups' shares (None after a problem with the shares, reported)."""
    labels = {key: string(ctx, fields[key]) or "" for key in LABELS if key in fields}
    sla = _sla(ctx, fields["sla"]) if "sla" in fields else None
    depends_on = _depends_on(ctx, fields["depends_on"]) if "depends_on" in fields else ()
    windows = read_maintenance(ctx, fields["maintenance"]) if "maintenance" in fields else ()
    share = fields.get("users_share")
    if groups is not None and share is not None:
        ctx.bad(share, "with cost.groups, give users: {group: share} instead of users_share")
    users = _users(ctx, fields["users"], groups) if "users" in fields else ()
    return {"depends_on": depends_on, "maintenance": windows, "sla": sla, "users": users,
            **labels}


_system_name = validated(string, name_error)


def _check_share(ctx: Context, settings: dict[str, Setting], groups: list[str] | None) -> None:
    """With cost.groups, users_share (in defaults or a system) is a mistake for `users`."""
    share = settings.get("users_share")
    if groups is not None and share is not None and share.node is not None:
        ctx.bad(share.node, "with cost.groups, give users: {group: share} instead of users_share")


def _users(ctx: Context, node: Node, groups: list[str] | None) -> tuple[tuple[str, float], ...]:
    """Given `users` (group name -> share of the group, 0..1), return the shares in order."""
    if groups is None:
        ctx.bad(node, "users names groups of cost.groups; without groups, give users_share")
        return ()
    shares = []
    for group, child in (as_mapping(ctx, node) or {}).items():
        share = fraction(ctx, child)
        if groups and group not in groups:  # none to compare with when groups is broken
            message = f"unknown group {group!r}{did_you_mean(group, groups)}"
            ctx.report(node.key_lines[group], child.path, message)
        elif share is not None:
            shares.append((group, share))
    return tuple(shares)


def _sla(ctx: Context, node: Node) -> float | None:
    """Given "99.9%" or 0.999, return the availability target as a fraction."""
    value = node.value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value) if isinstance(value, str) else None
    if match:
        fraction: float | None = float(match[1]) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool):
        fraction = number(ctx, node)
        if fraction is not None and fraction > 1:
            ctx.bad(node, f"as a number, sla is a fraction such as 0.999; write '{value}%' instead")
            return None
    else:
        if not node.broken:
            got = kind(value)
            ctx.bad(node, f'expected a percentage such as "99.9%" or a fraction, got {got}')
        return None
    if fraction is not None and not 0 < fraction <= 1:
        ctx.bad(node, "must be more than 0% and at most 100%")
        return None
    return fraction


def _depends_on(ctx: Context, node: Node) -> tuple[str, ...]:
    names = [name for item in as_list(ctx, node) or () if (name := string(ctx, item)) is not None]
    return tuple(dict.fromkeys(names))


# --- names and the dependency graph ---------------------------------------------------------------

_Edges = list[tuple[str, Node]]
_Graph = dict[str, dict[str, _Edges]]  # name -> key (depends_on, members) -> [(name, node)]


def check_graph(ctx: Context, systems: list[Node], services: list[Node]) -> None:
    """Report duplicate names among systems and services, dependencies and members that name
    nothing or themselves, and cycles through depends_on and members together."""
    graph = _check_names(ctx, [*systems, *services])
    _check_edges(ctx, graph, "depends_on", "unknown system", "a system cannot depend on itself")
    _check_edges(ctx, graph, "members", "unknown member", "a service cannot be its own member")
    both = {name: [(dep, child) for key in ("depends_on", "members") for dep, child in
                   edges.get(key, [])] for name, edges in graph.items()}
    for cycle, child in _find_cycles(both):
        ctx.bad(child, f"dependency cycle: {' -> '.join(cycle)}")



def _check_names(ctx: Context, items: list[Node]) -> _Graph:
    """Report duplicate names (at the second); return each name's depends_on and members."""
    graph: _Graph = {}
    first_line: dict[str, int] = {}
    for item in items:
        fields = item.value if isinstance(item.value, dict) and not item.broken else {}
        name = raw_string(fields.get("name"))
        if name is None:
            continue
        if name in graph:
            first = first_line[name]
            ctx.bad(fields["name"], f"duplicate system name {name!r} (first on line {first})")
            continue
        first_line[name] = fields["name"].line
        graph[name] = {key: [(dep, child) for child in list_items(fields.get(key))
                             if (dep := raw_string(child)) is not None]
                       for key in ("depends_on", "members")}
    return graph


def _check_edges(ctx: Context, graph: _Graph, key: str, unknown: str, itself: str) -> None:
    """Report entries of `key` (depends_on or members) naming nothing, the owner, or twice."""
    for name, edges in graph.items():
        seen: set[str] = set()
        for dep, node in edges[key]:
            if dep == name:
                ctx.bad(node, itself)
            elif dep not in graph:
                ctx.bad(node, f"{unknown} {dep!r}{did_you_mean(dep, graph)}")
            elif dep in seen:
                ctx.bad(node, f"{dep!r} is listed twice")
            seen.add(dep)


def _find_cycles(graph: dict[str, _Edges]) -> list[tuple[list[str], Node]]:
    """Given the dependency graph, return each cycle found by depth-first search with the
    dependency entry that closes it. Iterative, so a long chain cannot exhaust the stack."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found = []
    for root in graph:
        if root in state:
            continue
        path, stack = [root], [(root, iter(graph[root]))]
        state[root] = 1
        while stack:
            name, edges = stack[-1]
            for dep, node in edges:
                if dep == name or dep not in graph:
                    continue
                if state.get(dep) == 1:
                    found.append(([*path[path.index(dep) :], dep], node))
                elif dep not in state:
                    state[dep] = 1
                    path.append(dep)
                    stack.append((dep, iter(graph[dep])))
                    break
            else:
                state[name] = 2
                path.pop()
                stack.pop()
    return found

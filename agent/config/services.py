"""Read the services list: business services made of member systems (agent.services), each
costed like a system (users, impact, direct cost, labels, SLA, dependencies, maintenance) but
with no probe of its own."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from agent.config.systems import COSTING, SHARED_KEYS, member_costs, shared_keys
from agent.config.timing import Setting, read_settings
from agent.config.tree import Context, Node, list_items, raw_string
from agent.config.values import as_list, known_fields, name_error, string, validated
from agent.model import Check, System
from agent.services import ServiceSpec, rule_count, rule_text, within

_SERVICE_KEYS = ("down_when", "degraded_when", *SHARED_KEYS, *COSTING)
_name = validated(string, name_error)


def service_members(node: Node | None) -> set[str]:
    """Every name listed as a member of a service, as written (read before the systems, whose
    users default to none when they are members)."""
    return {name for item in list_items(node) if isinstance(item.value, dict)
            for child in list_items(item.value.get("members"))
            if (name := raw_string(child)) is not None}


def read_services(
    ctx: Context, node: Node | None, defaults: dict[str, Setting], groups: list[str] | None,
    members: Container[str] = (),
) -> tuple[System, ...]:
    """Given the services list, the settings in `defaults`, the names of cost.groups (None
    without groups) and the names that are members of services (a service within a service
    carries no users of its own unless it says so), return each service as a System whose
    check is its ServiceSpec."""
    if node is None or (node.value is None and not node.broken):
        return ()
    items = as_list(ctx, node) or []
    services = [_service(ctx, item, defaults, groups, members) for item in items]
    _check_counted_once(ctx, items, services)
    return tuple(service for service in services if service is not None)


def _check_counted_once(ctx: Context, items: list[Node], services: list[System | None]) -> None:
    """A system is a member of a service once: directly, or through one of its member
    services, never both (its failure would count twice towards the rule)."""
    specs = {s.name: s.check.spec for s in services
             if s is not None and isinstance(s.check.spec, ServiceSpec)}
    for item, service in zip(items, services, strict=True):
        if service is None or not isinstance(spec := service.check.spec, ServiceSpec):
            continue
        inside = {member: set(within([member], lambda name: specs[name].members
                                     if name in specs else ())) for member in spec.members}
        if any(service.name in names for names in inside.values()):
            continue  # a cycle, reported as one
        seen: dict[str, str] = {}
        for member in spec.members:
            for inner in inside[member]:
                if inner in seen and seen[inner] != member:
                    where = [seen[inner], member]
                    ctx.bad(item.value["members"], f"{inner!r} would count twice towards "
                            f"its rule, through {where[0]!r} and {where[1]!r}: list it once")
                    return
                seen.setdefault(inner, member)


def _service(
    ctx: Context, node: Node, defaults: dict[str, Setting], groups: list[str] | None,
    members: Container[str],
) -> System | None:
    fields = known_fields(ctx, node, ("name", "members"), _SERVICE_KEYS,
                          " for a service (it has no probe or timing: its members do)")
    if fields is None:
        return None
    name = _name(ctx, fields["name"]) if "name" in fields else None
    spec = _spec(ctx, fields)
    settings = {**defaults, **member_costs(name, members),
                **read_settings(ctx, fields, COSTING, level=2)}
    extra = shared_keys(ctx, fields, groups)
    if name is None or spec is None or extra is None:
        return None
    costing: dict[str, Any] = {key: settings[key].value for key in COSTING}
    # No probe: thresholds of 1 (a member's state is confirmed already) and no flap damping.
    return System(name=name, check=Check(spec, timeout=0.0), failure_threshold=1,
                  success_threshold=1, flap_threshold=0, **extra, **costing)


def _spec(ctx: Context, fields: dict[str, Node]) -> ServiceSpec | None:
    """The members and the two rules; "3 of 2", a rule that names the wrong number of members
    and a degraded rule that needs more members than the down rule are refused."""
    node = fields.get("members")
    items = as_list(ctx, node) if node is not None else None
    if node is None or items is None:
        return None
    members = tuple(name for item in items if (name := string(ctx, item)) is not None)
    if not members:
        ctx.bad(node, "a service needs at least one member (a system or a service)")
        return None
    counts: dict[str, int | None] = {}
    for key, default in (("down_when", "all"), ("degraded_when", "any")):
        text = string(ctx, fields[key]) if key in fields else default
        if text is None:
            return None
        count, error = rule_count(text, len(set(members)))
        if error:
            ctx.bad(fields[key], error)
            return None
        counts[key] = count
    down, degraded = counts["down_when"], counts["degraded_when"]
    if down is None or degraded is None:
        return None
    if degraded > down:
        ctx.bad(fields["degraded_when"], f"needs more members ({degraded}) than down_when "
                f"({rule_text(down, len(members))}): the service would be down first")
        return None
    return ServiceSpec(tuple(dict.fromkeys(members)), down, degraded)

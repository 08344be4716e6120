"""Read `notifiers:` and `alerts:`: who can be told, and when to tell them.

Conditions read as people write them: `state`, `incident_cost >= 10000` (several thresholds
as `>= 1000, 10000, 50000`), `period_cost >= 50000` with `period: day|week|month`, and
`cost_rate >= 20000` (money per hour).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agent.config.tree import Context, Node
from agent.config.values import (
    as_list,
    boolean,
    choice,
    did_you_mean,
    duration,
    integer,
    known_fields,
    non_empty,
    positive_duration,
    string,
    typed_mapping,
)
from agent.model import AlertRule, Notifier

if TYPE_CHECKING:
    from agent.notify import NotifierType

_COMMON = ("name", "type", "timeout", "retries", "queue_size")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def notifier_types() -> Mapping[str, NotifierType]:
    """The registry, imported when first used: each notifier module imports agent.config's
    parsers, so agent.notify cannot be imported while agent.config loads."""
    from agent.notify import NOTIFIER_TYPES

    return NOTIFIER_TYPES


def _one_or_more(ctx: Context, node: Node) -> list[Node]:
    if isinstance(node.value, list):
        items = as_list(ctx, node) or []
        if not items:
            ctx.bad(node, "must not be empty")
        return items
    return [node]


def _name(ctx: Context, node: Node) -> str | None:
    name = non_empty(ctx, node)
    if name is not None and not _NAME.fullmatch(name):
        ctx.bad(node, "use letters, digits, '_', '.' and '-' only")
        return None
    return name


def read_notifiers(ctx: Context, node: Node | None) -> tuple[Notifier, ...]:
    notifiers: list[Notifier] = []
    for item in (as_list(ctx, node) or []) if node else []:
        notifier = _notifier(ctx, item)
        if notifier is None:
            continue
        if any(n.name == notifier.name for n in notifiers):
            ctx.bad(item, f"duplicate notifier name {notifier.name!r}")
            continue
        notifiers.append(notifier)
    return tuple(notifiers)


def _notifier(ctx: Context, item: Node) -> Notifier | None:
    types = notifier_types()
    mapping = typed_mapping(ctx, item, types)
    if mapping is None:
        return None
    kind = choice(ctx, mapping["type"], types)
    if kind is None:
        return None
    notifier_type = types[kind]
    required = (*_COMMON[:2], *notifier_type.required)
    fields = known_fields(ctx, item, required, (*_COMMON[2:], *notifier_type.optional),
                          f" for a {kind} notifier")
    if fields is None or any(key not in fields for key in required):
        return None  # known_fields reported what is missing
    name = _name(ctx, fields["name"])
    spec = notifier_type.read(ctx, fields)
    timeout = positive_duration(ctx, fields["timeout"]) if "timeout" in fields else None
    retries = integer(ctx, fields["retries"], 0, 20) if "retries" in fields else None
    size = integer(ctx, fields["queue_size"], 1, 100_000) if "queue_size" in fields else None
    if name is None or spec is None:
        return None
    return Notifier(name=name, spec=spec, timeout=timeout or 10.0,
                    retries=5 if retries is None else retries, queue_size=size or 100)


# --- alert rules -----------------------------------------------------------------------------

KINDS = ("state", "incident_cost", "period_cost", "cost_rate")
STATES = ("down", "degraded", "maintenance", "unknown")
_CONDITION = re.compile(r"\s*([a-z_]+)\s*(?:>=\s*(.*?))?\s*")
_EXAMPLE = "state, or incident_cost|period_cost|cost_rate >= AMOUNT[, AMOUNT...]"
_RULE_KEYS = ("states", "period", "systems", "for", "repeat", "send_resolved")


def _condition(ctx: Context, node: Node) -> tuple[str, tuple[float, ...]] | None:
    """'incident_cost >= 1000, 10000' -> ('incident_cost', (1000.0, 10000.0))."""
    text = string(ctx, node)
    match = _CONDITION.fullmatch(text) if text is not None else None
    if text is None or match is None:
        if text is not None:
            ctx.bad(node, f"expected {_EXAMPLE}")
        return None
    kind, amounts = match[1], match[2]
    if kind not in KINDS:
        ctx.bad(node, f"unknown condition {kind!r}{did_you_mean(kind, KINDS)} ({_EXAMPLE})")
        return None
    if (kind == "state") != (amounts is None):
        ctx.bad(node, "state takes no threshold (use states: [down, degraded])" if amounts
                else f"needs a threshold, e.g. {kind} >= 10000")
        return None
    thresholds = _amounts(ctx, node, amounts or "")
    return (kind, thresholds) if thresholds is not None else None


def _amounts(ctx: Context, node: Node, text: str) -> tuple[float, ...] | None:
    if not text:
        return ()
    values = []
    for part in text.split(","):
        try:
            value = float(part.strip().replace("_", ""))
        except ValueError:
            ctx.bad(node, f"not an amount: {part.strip()!r} (write 10000 or 10_000)")
            return None
        if not value >= 0 or value == float("inf"):
            ctx.bad(node, f"amounts must be finite and not negative: {part.strip()!r}")
            return None
        values.append(value)
    return tuple(sorted(set(values)))


def _names(ctx: Context, node: Node, known: list[str], what: str) -> tuple[str, ...]:
    names = []
    for item in _one_or_more(ctx, node):
        name = string(ctx, item)
        if name is not None and name not in known:
            ctx.bad(item, f"no {what} named {name!r}{did_you_mean(name, known)}")
        elif name is not None:
            names.append(name)
    return tuple(names)


def read_alerts(ctx: Context, node: Node | None, notifiers: list[str],
                systems: list[str]) -> tuple[AlertRule, ...]:
    rules: list[AlertRule] = []
    for item in (as_list(ctx, node) or []) if node else []:
        rule = _rule(ctx, item, notifiers, systems)
        if rule is not None and any(r.name == rule.name for r in rules):
            ctx.bad(item, f"duplicate alert name {rule.name!r}")
        elif rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(ctx: Context, item: Node, notifiers: list[str], systems: list[str]) -> AlertRule | None:
    f = known_fields(ctx, item, ("name", "condition", "notify"), _RULE_KEYS)
    if f is None or any(key not in f for key in ("name", "condition", "notify")):
        return None
    name = _name(ctx, f["name"])
    condition = _condition(ctx, f["condition"])
    notify = _names(ctx, f["notify"], notifiers, "notifier")
    kind = condition[0] if condition else None
    _only(ctx, f, "states", kind, "state")
    _only(ctx, f, "period", kind, "period_cost")
    states = tuple(choice(ctx, n, STATES) for n in _one_or_more(ctx, f["states"])) \
        if "states" in f else ("down",)
    period = choice(ctx, f["period"], ("day", "week", "month")) if "period" in f else "day"
    chosen = _names(ctx, f["systems"], systems, "system") if "systems" in f else ()
    hold = duration(ctx, f["for"]) if "for" in f else 0.0
    repeat = positive_duration(ctx, f["repeat"]) if "repeat" in f else None
    resolved = boolean(ctx, f["send_resolved"]) if "send_resolved" in f else True
    if name is None or condition is None or None in states or period is None:
        return None
    return AlertRule(name=name, kind=condition[0], notify=notify, thresholds=condition[1],
                     states=tuple(s for s in states if s), period=period, systems=chosen,
                     hold=hold or 0.0, repeat=repeat, send_resolved=resolved is not False)


def _only(ctx: Context, f: dict[str, Node], key: str, kind: str | None, wanted: str) -> None:
    if key in f and kind is not None and kind != wanted:
        ctx.bad(f[key], f"only used with condition {wanted}")

"""The summary `outage-agent check` prints: what a loaded config will monitor, and at what cost."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence

from agent.basis import CostBasis, basis_of
from agent.books import Weights
from agent.config.cost import group_peak, peak
from agent.config.probes import probe_types
from agent.loss import attributed, sum_weights
from agent.model import Config, System, UserGroup
from agent.services import ServiceSpec, is_service, rule_sentence
from agent.shard import share
from agent.text import redact

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def summary(config: Config) -> str:
    """Given a loaded config, return a few lines saying what it will monitor and at what cost."""
    cost = config.cost
    head = [_systems(config), f"Currency: {cost.currency}; time zone: {cost.timezone}"]
    if cost.groups:
        total = sum(_peak_cost(group) for group in cost.groups)
        unbounded = any(group_peak(group) is None for group in cost.groups)
        return "\n".join([
            *head,
            *(f"Group {group.name}: peak {_peak(group, cost.currency, ' users')}; "
              f"{_cost_basis(group, cost.currency)}" for group in cost.groups),
            f"Peak cost of a full outage: {_money(f'{total:,.2f}', cost.currency)} per hour "
            "(sum of the groups' peaks" + ("; more as measured, where a measured group has no "
                                          "max)" if unbounded else ")"),
        ])
    [everyone] = cost.user_groups()
    users = max([cost.users.default, *(window.users for window in cost.users.windows)])
    return "\n".join([
        *head,
        f"Cost per user-hour: {_cost_basis(everyone, cost.currency)}",
        f"Peak concurrent users: {_peak_users(everyone, users)}",
        f"Peak cost of a full outage: {_peak(everyone, cost.currency)}",
    ])


def _systems(config: Config) -> str:
    """How many systems there are, with the canaries and this agent's shard."""
    services = sum(is_service(system) for system in config.systems)
    systems = f"Systems: {len(config.systems) - services}"
    canaries = len(config.agent.canaries)
    if services:
        systems += f", services: {services}"
    if canaries:
        systems += f" (and {canaries} {'canary' if canaries == 1 else 'canaries'})"
    if config.agent.shard is not None:
        k, n = config.agent.shard
        systems += f"; shard {k}/{n} probes {len(share(config.systems, (k, n)))} of them"
    return systems


def _peak(group: UserGroup, currency: str, noun: str = "") -> str:
    """The group's users (the count followed by `noun`) times the hourly cost per user where
    they cost most: "1,500 users \N{MULTIPLICATION SIGN} £12.9938 = £19,490.64 per hour";
    for measured users, up to the source's max (or as measured, without one)."""
    found = group_peak(group)
    users, rate = found or peak(group.users, group.hourly_cost_per_user)
    hourly = _money(f"{rate:,.4f}".rstrip("0").rstrip("."), currency)
    full = _money(f"{users * rate:,.2f}", currency)
    text = f"{_figure(users)}{noun} \N{MULTIPLICATION SIGN} {hourly} = {full} per hour"
    if group.source is None:
        return text
    if found is None:
        return f"as measured (no max); at the fallback's peak, {text}"
    return f"{text} (measured users, up to max {_figure(group.source.max or 0)})"


def _peak_users(group: UserGroup, fallback: float) -> str:
    """The most users at once: the schedule's, or up to a measured group's max."""
    if group.source is None:
        return _figure(fallback)
    if group.source.max is None:
        return f"as measured (no max; the fallback's peak is {_figure(fallback)})"
    return (f"{_figure(max(fallback, group.source.max))} (measured, up to max "
            f"{_figure(group.source.max)}; the fallback's peak is {_figure(fallback)})")


def _peak_cost(group: UserGroup) -> float:
    """What the group's time costs an hour at its peak (`group_peak`); at the fallback's
    peak for a group measured without a max."""
    return math.prod(group_peak(group) or peak(group.users, group.hourly_cost_per_user))


def _figure(value: float) -> str:
    """A count or amount with thousands separators, without ".00" when it is whole."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _money(text: str, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def _cost_basis(group: UserGroup, currency: str) -> str:
    """How an hour of one of the group's people was costed."""
    hourly = _money(f"{group.hourly_cost_per_user:,.2f}", currency)
    if group.annual_cost_per_user is None:
        return f"{hourly} per user-hour (given)"
    annual = _money(_figure(group.annual_cost_per_user), currency)
    return f"{annual} / {_figure(group.working_hours_per_year)} h = {hourly} per user-hour"


def systems_table(config: Config) -> str:
    """Given a loaded config, return a table of its systems: name, what is probed, the share
    of users who depend on it and what the agent bills a full outage of it an hour at the
    peak (`peak_costs`), with a note when that counts systems that depend on it."""
    peaks = peak_costs(config)
    rows = [("SYSTEM", "PROBE", "USERS", "PEAK COST/HOUR")]
    rows += [(system.name, redact(probe_text(system), config.secrets), _shares(config, system),
              _money(f"{peaks[system.name]:,.2f}", config.cost.currency))
             for system in config.systems]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=False)),
                        row[3].rjust(widths[3])]) for row in rows]
    if any(system.depends_on for system in config.systems):
        lines.append("Systems others depend on are costed with those down behind them, as the "
                     "agent bills them.")
    return "\n".join(lines)


def peak_costs(config: Config) -> dict[str, float]:
    """Given a loaded config, return what the agent bills an hour of a full outage of each
    system, each group of users at its peak: the system down and every system that depends
    on it, directly or not, down behind it; each group's loss 1 - prod(1 - share x impact)
    over them, all attributed to this root cause (agent.loss, as the engine does); plus the
    system's own direct cost (its dependants' stay on their own series, as in the agent)."""
    basis = basis_of(config)
    group_peaks = [_peak_cost(group) for group in config.cost.user_groups()]
    below = _dependants(config)
    services = {s.name: s.check.spec for s in config.systems
                if isinstance(s.check.spec, ServiceSpec)}
    result = {}
    for system in config.systems:
        weights = outage_weights(basis, [system.name, *_behind(system.name, below, services)])
        staff = sum(attributed(w, w) * cost for w, cost in zip(weights, group_peaks, strict=True))
        result[system.name] = staff + system.direct_cost_per_hour
    return result


def outage_weights(basis: CostBasis, down: Sequence[str]) -> Weights:
    """Given the cost basis and the systems down behind one root cause (it among them), return
    the root cause's weight in each group: the sum of theirs at full impact, as its books add
    its dependants' windows to it."""
    each = [basis.weights(name, basis.impact(name, "down")) for name in down]
    return tuple(sum_weights(column) for column in zip(*each, strict=True))


def _dependants(config: Config) -> dict[str, list[str]]:
    """The systems that name each system in depends_on."""
    found: dict[str, list[str]] = {system.name: [] for system in config.systems}
    for system in config.systems:
        for dependency in system.depends_on:
            found.setdefault(dependency, []).append(system.name)
    return found


def _behind(root: str, dependants: Mapping[str, Sequence[str]],
            services: Mapping[str, ServiceSpec]) -> list[str]:
    """Every system that depends on `root`, directly or through others, and every service
    enough of whose members are down behind it to make it down, each once."""
    seen, stack = {root}, [root]
    for _ in range(len(dependants) + 1):  # each pass adds a service, or ends
        while stack:
            for name in dependants.get(stack.pop(), ()):
                if name not in seen:
                    seen.add(name)
                    stack.append(name)
        stack = [name for name, spec in services.items() if name not in seen
                 and sum(member in seen for member in spec.members) >= spec.down_when]
        if not stack:
            break
        seen.update(stack)
    return sorted(seen - {root})


def probe_text(system: System) -> str:
    """"http https://mail.example/health": the probe's type and its target, the key the type
    requires."""
    spec = system.check.spec
    if isinstance(spec, ServiceSpec):
        return f"service: {rule_sentence(spec)}"
    kind = probe_types()[spec.type]
    if kind.summary is not None:
        return f"{spec.type} {kind.summary(spec)}"
    target = getattr(spec, kind.required[0])
    return f"{spec.type} {shlex.join(target) if isinstance(target, tuple) else target}"


def _shares(config: Config, system: System) -> str:
    """"90%", or with groups "office-staff 100%, care-workers 50%" ("none" for no group)."""
    shares = config.shares(system)
    if not config.cost.groups:
        return _percent(shares.get(next(iter(shares)), 0.0))
    return ", ".join(f"{name} {_percent(part)}" for name, part in shares.items()) or "none"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"

"""The summary `outage-agent check` prints: what a loaded config will monitor, and at what cost."""

from __future__ import annotations

import shlex

from agent.config.cost import peak, peak_cost
from agent.config.probes import probe_types
from agent.model import Config, System, UserGroup
from agent.shard import share
from agent.text import redact

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def summary(config: Config) -> str:
    """Given a loaded config, return a few lines saying what it will monitor and at what cost."""
    cost = config.cost
    head = [_systems(config), f"Currency: {cost.currency}; time zone: {cost.timezone}"]
    if cost.groups:
        total = sum(peak_cost(group.users, group.hourly_cost_per_user) for group in cost.groups)
        return "\n".join([
            *head,
            *(f"Group {group.name}: peak {_peak(group, cost.currency, ' users')}; "
              f"{_cost_basis(group, cost.currency)}" for group in cost.groups),
            f"Peak cost of a full outage: {_money(f'{total:,.2f}', cost.currency)} per hour "
            "(sum of the groups' peaks)",
        ])
    [everyone] = cost.user_groups()
    users = max([cost.users.default, *(window.users for window in cost.users.windows)])
    return "\n".join([
        *head,
        f"Cost per user-hour: {_cost_basis(everyone, cost.currency)}",
        f"Peak concurrent users: {_figure(users)}",
        f"Peak cost of a full outage: {_peak(everyone, cost.currency)}",
    ])


def _systems(config: Config) -> str:
    """How many systems there are, with the canaries and this agent's shard."""
    systems, canaries = f"Systems: {len(config.systems)}", len(config.agent.canaries)
    if canaries:
        systems += f" (and {canaries} {'canary' if canaries == 1 else 'canaries'})"
    if config.agent.shard is not None:
        k, n = config.agent.shard
        systems += f"; shard {k}/{n} probes {len(share(config.systems, (k, n)))} of them"
    return systems


def _peak(group: UserGroup, currency: str, noun: str = "") -> str:
    """The group's users (the count followed by `noun`) times the hourly cost per user where
    they cost most: "1,500 users \N{MULTIPLICATION SIGN} £12.9938 = £19,490.64 per hour"."""
    users, rate = peak(group.users, group.hourly_cost_per_user)
    hourly = _money(f"{rate:,.4f}".rstrip("0").rstrip("."), currency)
    full = _money(f"{users * rate:,.2f}", currency)
    return f"{_figure(users)}{noun} \N{MULTIPLICATION SIGN} {hourly} = {full} per hour"


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
    of users who depend on it and what a full outage of it costs an hour at the peak."""
    rows = [("SYSTEM", "PROBE", "USERS", "PEAK COST/HOUR")]
    rows += [(system.name, redact(probe_text(system), config.secrets), _shares(config, system),
              _money(f"{system_peak(config, system):,.2f}", config.cost.currency))
             for system in config.systems]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=False)),
                                row[3].rjust(widths[3])]) for row in rows)


def system_peak(config: Config, system: System) -> float:
    """What an outage of `system` costs an hour with each group of users at its peak: their
    staff cost times the system's share and impact, plus its direct cost."""
    shares = config.shares(system)
    staff = sum(peak_cost(group.users, group.hourly_cost_per_user) * shares.get(group.name, 0.0)
                for group in config.cost.user_groups())
    return staff * system.impact + system.direct_cost_per_hour


def probe_text(system: System) -> str:
    """"http https://mail.example/health": the probe's type and its target, the key the type
    requires."""
    spec = system.check.spec
    target = getattr(spec, probe_types()[spec.type].required[0])
    return f"{spec.type} {shlex.join(target) if isinstance(target, tuple) else target}"


def _shares(config: Config, system: System) -> str:
    """"90%", or with groups "office-staff 100%, care-workers 50%" ("none" for no group)."""
    shares = config.shares(system)
    if not config.cost.groups:
        return _percent(shares.get(next(iter(shares)), 0.0))
    return ", ".join(f"{name} {_percent(part)}" for name, part in shares.items()) or "none"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"

"""The summary `outage-agent check` prints: what a loaded config will monitor, and at what cost."""

from __future__ import annotations

from agent.model import Config, CostConfig
from agent.shard import share

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def summary(config: Config) -> str:
    """Given a loaded config, return a few lines saying what it will monitor and at what cost."""
    cost, canaries = config.cost, len(config.agent.canaries)
    peak = max([cost.users.default, *(window.users for window in cost.users.windows)])
    rate = f"{cost.hourly_cost_per_user:,.4f}".rstrip("0").rstrip(".")
    full = _money(f"{peak * cost.hourly_cost_per_user:,.2f}", cost.currency)
    systems = f"Systems: {len(config.systems)}"
    if canaries:
        systems += f" (and {canaries} {'canary' if canaries == 1 else 'canaries'})"
    if config.agent.shard is not None:
        k, n = config.agent.shard
        systems += f"; shard {k}/{n} probes {len(share(config.systems, (k, n)))} of them"
    return "\n".join(
        [
            systems,
            f"Currency: {cost.currency}; time zone: {cost.timezone}",
            f"Cost per user-hour: {_cost_basis(cost)}",
            f"Peak concurrent users: {_figure(peak)}",
            f"Peak cost of a full outage: {_figure(peak)} \N{MULTIPLICATION SIGN} "
            f"{_money(rate, cost.currency)} = {full} per hour",
        ]
    )


def _figure(value: float) -> str:
    """A count or amount with thousands separators, without ".00" when it is whole."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _money(text: str, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def _cost_basis(cost: CostConfig) -> str:
    hourly = _money(f"{cost.hourly_cost_per_user:,.2f}", cost.currency)
    if cost.annual_cost_per_user is None:
        return f"{hourly} per user-hour (given)"
    annual = _money(_figure(cost.annual_cost_per_user), cost.currency)
    return f"{annual} / {_figure(cost.working_hours_per_year)} h = {hourly} per user-hour"

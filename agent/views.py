"""What the exporter, the API and the alerts see of the engine at one instant: a view per
system and per group of people, plain frozen data built from the engine's parts."""

from __future__ import annotations

from dataclasses import dataclass

from agent.charges import Charges
from agent.daybook import DayBook
from agent.live import Live, OpenWindow
from agent.model import ProbeResult, State
from agent.records import Amounts, WindowRecord
from agent.services import ServiceSpec


@dataclass(frozen=True)
class SystemView:
    """What the exporter and the API show of one system at one instant."""

    name: str
    state: State
    cause: str | None
    totals: Amounts
    incidents: int
    cost_per_hour: float
    affected_users: float
    cost_day: float
    cost_month: float
    incident_start: float | None
    incident_cost: float
    window: WindowRecord | None
    last_result: ProbeResult | None
    last_probe_at: float | None
    as_of: float
    ended_incident_start: float | None = None  # the last incident to end (agent.live.Live)
    ended_incident_at: float = 0.0
    ended_incident_cost: float = 0.0
    members: tuple[str, ...] = ()  # a service's members (agent.services); () for a system


@dataclass(frozen=True)
class GroupView:
    """One group of people now: how many are at work, the share of their time lost, what
    that costs per hour, and what the group has lost so far."""

    name: str
    concurrent_users: float
    loss_ratio: float
    cost_per_hour: float
    cost_total: float


def window_record(window: OpenWindow, horizon: float, now: float) -> WindowRecord:
    """A window as the ledger stores it: money and time as far as the books have got (for a
    window that costs nothing, as far as the horizon or its end)."""
    member = window.member
    accounted = member.mark if member is not None else max(
        window.start, min(horizon, window.end or now))
    return WindowRecord(
        system=window.system, state=window.state.value, cause=window.cause,
        start=window.start, end=window.end, before_start=window.before_start,
        before_end=window.before_end, last_observed=window.last_observed,
        accounted_until=accounted, amounts=window.amounts.copy(), basis=window.basis,
        new_incident=window.new_incident, reason=window.reason,
    )


def system_view(live: Live, charges: Charges, days: DayBook, at: float,
                today: str) -> SystemView:
    """One system as of `at`: counters as far as the books have got, the burn rate and
    affected users of the present."""
    cost_day, cost_month = days.day_and_month(live, today)
    return SystemView(
        name=live.system.name, state=live.state, cause=live.cause,
        totals=live.totals.copy(), incidents=live.incidents,
        cost_per_hour=charges.rate(live, at), affected_users=charges.affected(live, at),
        cost_day=cost_day, cost_month=cost_month,
        incident_start=live.incident_start, incident_cost=live.incident_cost,
        window=window_record(live.window, charges.horizon, at) if live.window else None,
        last_result=live.last_result, last_probe_at=live.last_probe_at, as_of=at,
        ended_incident_start=live.ended_start, ended_incident_at=live.ended_at,
        ended_incident_cost=live.ended_cost,
        members=spec.members if isinstance(spec := live.system.check.spec, ServiceSpec) else (),
    )


def group_views(charges: Charges, days: DayBook, at: float) -> list[GroupView]:
    """Every group of people as of `at`."""
    basis = charges.basis
    return [
        GroupView(name=group.name, concurrent_users=calendar.users_at(at), loss_ratio=ratio,
                  cost_per_hour=calendar.cost_rate_at(at) * ratio,
                  cost_total=days.group_totals[group.name])
        for group, calendar, ratio in zip(basis.groups, basis.calendars,
                                          charges.accounts.loss_ratios(), strict=True)
    ]

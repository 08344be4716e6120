"""The cost basis: everything that turns a system's state into money at one instant.

That is everything under `cost:` (the groups of people, their users schedules and hourly
costs) and, for each system, the share of each group that uses it, its impact, degraded
impact, direct cost and dependencies. The ledger records each distinct basis with the time
it came into force, so history is costed with the basis in force at the time, and a
changed schedule never rewrites the past (see agent.ledger, cost_basis).

A basis is plain data with a canonical JSON form: its digest says whether two are the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agent.cost import UsersCalendar
from agent.loss import Weight, weight_of
from agent.model import Config, UsersSchedule, UsersWindow
from agent.records import Basis
from agent.users.inforce import MeasuredCalendar, Readings


@dataclass(frozen=True)
class GroupBasis:
    name: str
    users: UsersSchedule
    hourly_cost_per_user: float


@dataclass(frozen=True)
class SystemBasis:
    shares: tuple[tuple[str, float], ...]  # (group, share of it that uses the system)
    impact: float
    degraded_impact: float
    direct_cost_per_hour: float
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostBasis:
    timezone: str
    groups: tuple[GroupBasis, ...]
    systems: dict[str, SystemBasis]  # by name
    # Each measured group's readings (agent.users): not part of the basis (its digest), but
    # what its users are wherever a fresh reading is; its schedule is the fallback.
    readings: Mapping[str, Readings] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def calendars(self) -> tuple[UsersCalendar | MeasuredCalendar, ...]:
        """Each group's users calendar, in the order of `groups`, its readings laid over it."""
        return tuple(self._calendar(g) for g in self.groups)

    def _calendar(self, group: GroupBasis) -> UsersCalendar | MeasuredCalendar:
        schedule = UsersCalendar(group.users, self.timezone, group.hourly_cost_per_user)
        readings = self.readings.get(group.name)
        if readings is None:
            return schedule
        return MeasuredCalendar(schedule, readings, group.hourly_cost_per_user)

    def measured(self, readings: Mapping[str, Readings]) -> CostBasis:
        """This basis with each group's readings laid over its schedule."""
        return dataclasses.replace(self, readings=readings)

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def impact(self, system: str, state: str) -> float:
        """The share of its users' work a system in `state` takes (0 for one not costed)."""
        found = self.systems.get(system)
        if found is None:
            return 0.0
        return {"down": found.impact, "degraded": found.degraded_impact}.get(state, 0.0)

    def weights(self, system: str, impact: float) -> tuple[Weight, ...]:
        """The system's weight in each group (in the order of `groups`) at `impact`."""
        found = self.systems.get(system)
        shares = dict(found.shares) if found is not None else {}
        return tuple(weight_of(shares.get(g.name, 0.0) * impact) for g in self.groups)

    def direct_rate(self, system: str) -> float:
        found = self.systems.get(system)
        return found.direct_cost_per_hour if found is not None else 0.0

    def depends_on(self, system: str) -> tuple[str, ...]:
        found = self.systems.get(system)
        return found.depends_on if found is not None else ()

    def cost_rate_at(self, t: float) -> float:
        """What everyone in every group costs per hour at t."""
        return sum(c.cost_rate_at(t) for c in self.calendars)

    def users_at(self, t: float) -> float:
        return sum(c.users_at(t) for c in self.calendars)

    def to_json(self) -> str:
        """The canonical form: sorted keys, no spaces; the ledger stores this."""
        body = {
            "timezone": self.timezone,
            "groups": [{"name": g.name, "hourly_cost_per_user": g.hourly_cost_per_user,
                        "users": _schedule_json(g.users)} for g in self.groups],
            "systems": {name: {**dataclasses.asdict(s), "shares": [list(p) for p in s.shares],
                               "depends_on": list(s.depends_on)}
                        for name, s in sorted(self.systems.items())},
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CostBasis:
        body = json.loads(text)
        return cls(
            timezone=body["timezone"],
            groups=tuple(GroupBasis(g["name"], _schedule_of(g["users"]),
                                    float(g["hourly_cost_per_user"])) for g in body["groups"]),
            systems={name: SystemBasis(
                shares=tuple((str(g), float(v)) for g, v in s["shares"]),
                impact=float(s["impact"]), degraded_impact=float(s["degraded_impact"]),
                direct_cost_per_hour=float(s["direct_cost_per_hour"]),
                depends_on=tuple(s["depends_on"]))
                for name, s in body["systems"].items()},
        )


def basis_of(config: Config, readings: Mapping[str, Readings] | None = None) -> CostBasis:
    """Given a configuration (and the readings of its measured groups, if any), return the
    cost basis it puts in force."""
    groups = tuple(GroupBasis(g.name, g.users, g.hourly_cost_per_user)
                   for g in config.cost.user_groups())
    systems = {s.name: SystemBasis(
        shares=tuple(config.shares(s).items()), impact=s.impact,
        degraded_impact=s.degraded_impact, direct_cost_per_hour=s.direct_cost_per_hour,
        depends_on=s.depends_on) for s in config.systems}
    return CostBasis(timezone=config.cost.timezone, groups=groups, systems=systems,
                     readings=readings or {})


def window_basis(basis: CostBasis, system: str, impact: float, start: float) -> Basis:
    """What a window starting at `start` is costed with, in words a person can check: all
    concurrent users then, the system's share of them (its share of each group's, added
    up), their average hourly cost, its impact and direct cost."""
    found = basis.systems.get(system)
    shares = dict(found.shares) if found is not None else {}
    users = money = 0.0
    for group, calendar in zip(basis.groups, basis.calendars, strict=True):
        share = shares.get(group.name, 0.0)
        users += share * calendar.users_at(start)
        money += share * calendar.cost_rate_at(start)
    everyone = basis.users_at(start)
    first_hourly = basis.groups[0].hourly_cost_per_user if basis.groups else 0.0
    return Basis(
        hourly_cost_per_user=money / users if users > 0 else first_hourly,
        users_share=users / everyone if everyone > 0 else math.fsum(shares.values()),
        impact=impact, direct_cost_per_hour=basis.direct_rate(system), users_at_start=everyone,
    )


def _schedule_json(schedule: UsersSchedule) -> dict[str, Any]:
    return {
        "default": schedule.default, "holidays": schedule.holidays,
        "windows": [{"days": sorted(w.days), "start": w.start.isoformat(),
                     "end": w.end.isoformat(), "users": w.users,
                     "hourly_cost_per_user": w.hourly_cost_per_user}
                    for w in schedule.windows],
    }


def _schedule_of(body: dict[str, Any]) -> UsersSchedule:
    return UsersSchedule(
        default=float(body["default"]), holidays=body["holidays"],
        windows=tuple(UsersWindow(
            days=frozenset(w["days"]), start=dt.time.fromisoformat(w["start"]),
            end=dt.time.fromisoformat(w["end"]), users=float(w["users"]),
            hourly_cost_per_user=w["hourly_cost_per_user"]) for w in body["windows"]),
    )

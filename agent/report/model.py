"""What a report says, as plain data: built once by `build_report`, read by every renderer."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from agent.loss import round_to_total
from agent.records import AuditEntry


@dataclass(frozen=True, slots=True)
class Evidence:
    """One record behind a window (agent.report.evidence): a member's window of a service
    (`state` its state, from `start` to `end`, None while open), or a heartbeat's ping
    (`state` its kind, at `start`) with the body its job sent."""

    system: str
    state: str
    start: float
    end: float | None
    text: str  # the member window's reason, or the ping's body (redacted when received)


@dataclass(frozen=True, slots=True)
class WindowLine:
    """One window as the report counts it, inside the report's range (slots, as on Incident,
    Pennies and Evidence: a year's report holds 100,000 of them)."""

    id: int
    system: str
    state: str  # down | degraded | maintenance | unknown
    cause: str | None  # the root cause as corrected by a person, else as recorded
    start: float  # as recorded
    end: float | None  # None while still open
    shown_start: float  # clipped to the range (and to now)
    shown_end: float
    downtime: float  # seconds down inside the range, planned maintenance excluded
    staff: float
    direct: float
    recorded_cost: float  # the ledger's figure for the whole window, for comparison
    uncertainty: float  # seconds: the probe gap before each end that falls inside the range
    cost_low: float  # the cost had the window (and every other) been as short as its
    cost_high: float  # probes allow, and as long
    source: str  # live | imported
    reason: str
    note: str | None = None
    ticket: str | None = None
    voided: str | None = None  # the reason it was voided; a voided window costs nothing
    evidence: tuple[Evidence, ...] = ()  # what shows why it was recorded, in time order

    @property
    def cost(self) -> float:
        return self.staff + self.direct


@dataclass(frozen=True, slots=True)
class Incident:
    """A continuous spell of down (and degraded) windows of one system that includes downtime."""

    system: str
    start: float
    end: float | None
    seconds: float  # inside the range
    cost: float
    window_ids: tuple[int, ...]


@dataclass(frozen=True)
class SystemReport:
    name: str
    description: str
    owner: str
    supplier: str
    tier: str
    incidents: int
    downtime: float  # seconds
    uncertainty: float  # seconds
    unobserved: float  # seconds in `unknown` windows: the agent was not watching
    period: float  # seconds counted for availability: the range up to now, less maintenance
    maintenance: float  # seconds of planned maintenance excluded from the period
    availability: float | None  # 24x7; None when no time was counted
    business_availability: float | None  # inside the schedule's windows; None without any
    staff: float
    direct: float
    cost_low: float  # the windows' low and high figures, added up
    cost_high: float
    sla: float | None  # target as a fraction
    allowed_downtime: float | None  # (1 - sla) x period
    longest: Incident | None
    most_expensive: Incident | None
    windows: tuple[WindowLine, ...]

    @property
    def cost(self) -> float:
        return self.staff + self.direct

    @property
    def sla_met(self) -> bool | None:
        if self.allowed_downtime is None:
            return None
        return self.downtime <= self.allowed_downtime + 1e-6


@dataclass(frozen=True)
class GroupModel:
    """One group of people as configured: what an hour of their time costs, how many."""

    name: str
    hourly_cost_per_user: float
    annual_cost_per_user: float | None  # None when the hourly figure was given directly
    working_hours_per_year: float
    peak_users: float
    peak_cost_per_hour: float  # the most their time costs at once (shift rates included)
    scheduled: bool
    holidays: str | None
    measured: bool = False  # users read from a source (the peak: up to its max, if any)
    source_max: float | None = None  # the source's max; None with `measured`: no bound


@dataclass(frozen=True)
class CostModel:
    """How the money was worked out, for the report to show its arithmetic. The single
    figures are those of the only group (or the first); `groups` lists cost.groups."""

    currency: str
    timezone: str
    hourly_cost_per_user: float
    annual_cost_per_user: float | None  # None when the hourly figure was given directly
    working_hours_per_year: float
    peak_users: float
    scheduled: bool  # concurrent users follow a schedule (so business hours mean something)
    holidays: str | None
    groups: tuple[GroupModel, ...] = ()  # empty: no cost.groups, one group of everyone
    peak_cost_per_hour: float = 0.0  # every group's peak, added up
    bases: int = 1  # cost bases in force over the range
    what_if: bool = False  # history re-costed with today's configuration (--basis current)
    # The share of the staff cost costed with measured users (agent.users), the rest with
    # the schedules; None: no reading was in force over the range.
    measured_share: float | None = None
    measured: bool = False  # the only (or first) group's users are read from a source
    source_max: float | None = None  # its max, if any

    @property
    def full_outage_per_hour(self) -> float:
        return self.peak_cost_per_hour


@dataclass(frozen=True)
class Group:
    """Systems sharing an owner, a supplier or a tier."""

    label: str  # owner | supplier | tier
    value: str
    systems: tuple[str, ...]


@dataclass(frozen=True)
class Planned:
    """A period of planned maintenance excluded from one system's figures."""

    system: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Pennies:
    """A system's figures rounded to the penny so that, down each column and across each
    row, what is shown adds up to what is shown (see `Report.pennies`)."""

    staff: float
    direct: float
    low: float = 0.0  # the cost range, to the penny, never excluding the cost shown
    high: float = 0.0

    @property
    def cost(self) -> float:
        return round(self.staff + self.direct, 2)


def to_pennies(cost: float, direct: float, low: float, high: float) -> Pennies:
    """Given a cost already to the penny, its exact direct part and its range, return its
    figures to the penny: the direct part rounded, the staff time the rest (never below 0),
    and the range never excluding the cost."""
    shown_direct = min(round(direct, 2), cost)
    return Pennies(round(cost - shown_direct, 2), shown_direct, min(round(low, 2), cost),
                   max(round(high, 2), cost))


@dataclass(frozen=True)
class Report:
    start: float
    end: float  # exclusive
    as_of: float  # figures run to min(end, as_of)
    site: str
    model: CostModel
    systems: tuple[SystemReport, ...]
    days: tuple[tuple[str, float], ...]  # (local date, cost) for every day of the range
    groups: tuple[Group, ...]
    maintenance: tuple[Planned, ...]
    changes: tuple[AuditEntry, ...]  # the audit trail of the windows in the report

    @property
    def currency(self) -> str:
        return self.model.currency

    @property
    def staff(self) -> float:
        return sum(s.staff for s in self.systems)

    @property
    def direct(self) -> float:
        return sum(s.direct for s in self.systems)

    @property
    def cost(self) -> float:
        return self.staff + self.direct

    def pennies(self) -> dict[str, Pennies]:
        """Each system's figures to the penny: costs rounded so that they add up to the
        total rounded once (the figure the live counters give), direct costs rounded each,
        staff time the difference, so every row and column adds up. Worked out once per
        report (the renderers ask per system: 10,000 systems made it quadratic)."""
        return self._pennies

    @functools.cached_property
    def _pennies(self) -> dict[str, Pennies]:
        costs = round_to_total([s.cost for s in self.systems])
        return {s.name: to_pennies(cost, s.direct, s.cost_low, s.cost_high)
                for s, cost in zip(self.systems, costs, strict=True)}

    def total_pennies(self) -> Pennies:
        """The totals as shown: the rows, added up."""
        shown = self.pennies().values()
        return to_pennies(round(math.fsum(p.cost for p in shown), 2),
                       math.fsum(p.direct for p in shown), self.cost_low, self.cost_high)

    def window_pennies(self) -> dict[int, Pennies]:
        """Each window's figures to the penny, adding up to its system's (worked out once)."""
        return self._window_pennies

    @functools.cached_property
    def _window_pennies(self) -> dict[int, Pennies]:
        out: dict[int, Pennies] = {}
        systems = self.pennies()
        for s in self.systems:
            costs = round_to_total([w.cost for w in s.windows], total=systems[s.name].cost)
            out.update((w.id, to_pennies(cost, w.direct, w.cost_low, w.cost_high))
                       for w, cost in zip(s.windows, costs, strict=True))
        return out

    @property
    def cost_low(self) -> float:
        return sum(s.cost_low for s in self.systems)

    @property
    def cost_high(self) -> float:
        return sum(s.cost_high for s in self.systems)

    @property
    def downtime(self) -> float:
        return sum(s.downtime for s in self.systems)

    @property
    def incidents(self) -> int:
        return sum(s.incidents for s in self.systems)

    def grouped(self, label: str) -> list[tuple[str, list[SystemReport]]]:
        """Given owner, supplier or tier, return each of its values with the systems in it."""
        by_name = {s.name: s for s in self.systems}
        return [(g.value, [by_name[name] for name in g.systems])
                for g in self.groups if g.label == label]

    @property
    def windows(self) -> tuple[WindowLine, ...]:
        return tuple(sorted((w for s in self.systems for w in s.windows),
                            key=lambda w: (w.start, w.id)))

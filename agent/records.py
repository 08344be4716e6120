"""What the engine hands to the ledger: whole rows, so writing one twice changes nothing.

Each record carries absolute values (not increments), which makes a retried or buffered write
idempotent: the ledger upserts a window by (site, system, start) and a day by (site, system,
day).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass
class Amounts:
    """Money and time accrued by one window, one day or one system's lifetime."""

    cost: float = 0.0  # staff + direct, in the currency
    staff: float = 0.0
    direct: float = 0.0
    downtime: float = 0.0  # seconds confirmed down (root cause or behind a dependency)
    degraded: float = 0.0  # seconds confirmed degraded

    def add(self, other: Amounts) -> None:
        self.cost += other.cost
        self.staff += other.staff
        self.direct += other.direct
        self.downtime += other.downtime
        self.degraded += other.degraded

    def copy(self) -> Amounts:
        return replace(self)


@dataclass(frozen=True)
class Basis:
    """The cost model a window was costed with, so a later config change never rewrites it."""

    hourly_cost_per_user: float
    users_share: float
    impact: float  # the impact of the window's state (impact, or degraded_impact)
    direct_cost_per_hour: float
    users_at_start: float


@dataclass(frozen=True)
class WindowRecord:
    system: str
    state: str  # down | degraded | maintenance | unknown
    cause: str | None
    start: float  # POSIX seconds: the first failed probe of the streak that confirmed it
    end: float | None  # the first good probe of the streak that confirmed recovery
    before_start: float | None  # the last good probe before it (uncertainty of the start)
    before_end: float | None  # the last failed probe before the end (uncertainty of the end)
    last_observed: float | None
    accounted_until: float
    amounts: Amounts
    basis: Basis
    new_incident: bool  # this window began an incident (counted by outage_incidents_total)
    reason: str = ""
    source: str = "live"  # live | imported


@dataclass(frozen=True)
class DayRecord:
    """A system's accrual within one calendar day of the cost timezone ("2026-11-27")."""

    system: str
    day: str
    amounts: Amounts


@dataclass(frozen=True)
class TransitionRecord:
    system: str
    at: float
    old_state: str
    new_state: str
    cause: str | None
    reason: str = ""


@dataclass
class AlertState:
    """One alert rule's condition for one key, as kept in the ledger across restarts."""

    rule: str
    key: str
    system: str | None
    since: float  # when the condition was first seen
    fired_at: float | None = None
    last_sent: float | None = None
    acked: bool = False


@dataclass(frozen=True)
class NotificationRecord:
    """What was queued for delivery, kept as an audit trail of who was told what."""

    at: float
    rule: str
    status: str
    title: str
    notifiers: tuple[str, ...]


@dataclass
class Batch:
    """Everything one evaluation wants committed, in order."""

    windows: list[WindowRecord] = field(default_factory=list)
    days: list[DayRecord] = field(default_factory=list)
    transitions: list[TransitionRecord] = field(default_factory=list)
    heartbeat: float | None = None  # the agent was watching at this time
    alerts: list[AlertState] = field(default_factory=list)
    alerts_cleared: list[tuple[str, str]] = field(default_factory=list)  # (rule, key)
    notifications: list[NotificationRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.windows or self.days or self.transitions or self.heartbeat
                    or self.alerts or self.alerts_cleared or self.notifications)

    def extend(self, other: Batch) -> None:
        self.windows.extend(other.windows)
        self.days.extend(other.days)
        self.transitions.extend(other.transitions)
        self.alerts.extend(other.alerts)
        self.alerts_cleared.extend(other.alerts_cleared)
        self.notifications.extend(other.notifications)
        if other.heartbeat is not None:
            self.heartbeat = max(self.heartbeat or 0.0, other.heartbeat)

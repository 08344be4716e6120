"""What the engine hands to the ledger: whole rows, so writing one twice changes nothing.

Each record carries absolute values (not increments), which makes a retried or buffered write
idempotent: the ledger upserts a window by (site, system, start) and a day by (site, system,
day).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(slots=True)
class Amounts:
    """Money and time accrued by one window, one day or one system's lifetime (slots, as on
    Basis, WindowRecord and Annotations: a year's report holds 100,000 of each)."""

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
        # Called for every accruing window at every checkpoint and scrape: the constructor is
        # several times cheaper than dataclasses.replace.
        return Amounts(self.cost, self.staff, self.direct, self.downtime, self.degraded)


@dataclass(frozen=True, slots=True)
class Basis:
    """The cost model a window was costed with, so a later config change never rewrites it."""

    hourly_cost_per_user: float
    users_share: float
    impact: float  # the impact of the window's state (impact, or degraded_impact)
    direct_cost_per_hour: float
    users_at_start: float


@dataclass(frozen=True, slots=True)
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
class GroupDayRecord:
    """What one group of people lost within one calendar day of the cost timezone."""

    group: str
    day: str
    cost: float


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


@dataclass(frozen=True)
class OutboxRecord:
    """A message for one notifier and where it stands: queued until delivered (sent), given
    up on (failed) or refused by a full queue (dropped). Queued ones are sent again after a
    restart; `message` is the notification's fields (agent.notify.Message), by name."""

    message_id: str
    notifier: str
    message: dict[str, Any]
    state: str  # queued | sent | failed | dropped
    at: float  # when it reached this state


@dataclass(frozen=True)
class BeatRecord:
    """A heartbeat system's position (agent.heartbeats.Beat), kept so a restart goes on from
    it: its last ping and when its next success is due."""

    system: str
    due: float
    last_ping: float | None = None
    last_kind: str = ""
    last_success: float | None = None
    started: float | None = None
    duration: float | None = None
    verdict: str = "new"
    reason: str = ""


@dataclass(frozen=True)
class PingRecord:
    """A heartbeat ping that carried a body: the job's output, redacted, the evidence of the
    window it opened or closed."""

    system: str
    at: float
    kind: str  # success, start, fail or "exit N"
    body: str


FALLBACK = "fallback"  # the source of a users reading that failed: the schedule was in force


@dataclass(frozen=True)
class UsersReading:
    """One reading of a group's concurrent users (agent.users): the evidence its cost rests
    on, in force from `at` (agent.users.inforce)."""

    group: str
    at: float
    value: float | None  # None: the reading failed and the fallback was in force
    source: str  # the source type ("prometheus", "http_json", "command") or FALLBACK
    period: float  # the source's `every` in seconds: stale three periods on


@dataclass
class Batch:
    """Everything one evaluation wants committed, in order."""

    windows: list[WindowRecord] = field(default_factory=list)
    days: list[DayRecord] = field(default_factory=list)
    group_days: list[GroupDayRecord] = field(default_factory=list)
    transitions: list[TransitionRecord] = field(default_factory=list)
    heartbeat: float | None = None  # the agent was watching at this time
    alerts: list[AlertState] = field(default_factory=list)
    alerts_cleared: list[tuple[str, str]] = field(default_factory=list)  # (rule, key)
    notifications: list[NotificationRecord] = field(default_factory=list)
    outbox: list[OutboxRecord] = field(default_factory=list)
    prune_before: float | None = None  # drop raw transitions and notifications older than this
    beats: list[BeatRecord] = field(default_factory=list)  # heartbeat positions (upserts)
    pings: list[PingRecord] = field(default_factory=list)  # heartbeat pings with a body
    readings: list[UsersReading] = field(default_factory=list)  # measured users (agent.users)

    def __bool__(self) -> bool:
        return bool(self.windows or self.days or self.group_days or self.transitions
                    or self.heartbeat
                    or self.prune_before
                    or self.alerts or self.alerts_cleared or self.notifications
                    or self.outbox or self.beats or self.pings or self.readings)

    def extend(self, other: Batch) -> None:
        self.windows.extend(other.windows)
        self.days.extend(other.days)
        self.group_days.extend(other.group_days)
        self.transitions.extend(other.transitions)
        self.alerts.extend(other.alerts)
        self.alerts_cleared.extend(other.alerts_cleared)
        self.notifications.extend(other.notifications)
        self.outbox.extend(other.outbox)
        self.beats.extend(other.beats)
        self.pings.extend(other.pings)
        self.readings.extend(other.readings)
        if other.heartbeat is not None:
            self.heartbeat = max(self.heartbeat or 0.0, other.heartbeat)
        if other.prune_before is not None:
            self.prune_before = max(self.prune_before or 0.0, other.prune_before)

    def absorb_all(self, others: Iterable[Batch]) -> None:
        """Add later batches in order, keeping only the latest row per window, day and alert
        key, so a backlog held while the disk is failing grows with what changed, not with
        time. In time linear in their size: a mass outage hands the ledger thousands of
        one-window batches at once, and deduplicating the whole backlog once per batch would
        take seconds."""
        windows = {(w.system, w.start): w for w in self.windows}
        days = {(d.system, d.day): d for d in self.days}
        group_days = {(d.group, d.day): d for d in self.group_days}
        for other in others:
            windows.update(((w.system, w.start), w) for w in other.windows)
            days.update(((d.system, d.day), d) for d in other.days)
            group_days.update(((d.group, d.day), d) for d in other.group_days)
            self.extend(replace(other, windows=[], days=[], group_days=[]))
            if other.alerts or other.alerts_cleared:
                self._absorb_alerts(other)
        self.windows, self.days = list(windows.values()), list(days.values())
        self.group_days = list(group_days.values())
        self.beats = list({b.system: b for b in self.beats}.values())

    def _absorb_alerts(self, other: Batch) -> None:
        """Alert rows of `other` (already appended by `extend`): the latest per key, and
        clearing one drops its earlier upserts."""
        cleared = {(rule, key) for rule, key in other.alerts_cleared}
        kept = [a for a in self.alerts if (a.rule, a.key) not in cleared
                or any(b is a for b in other.alerts)]
        self.alerts = list({(a.rule, a.key): a for a in kept}.values())
        upserted = {(a.rule, a.key) for a in other.alerts}
        self.alerts_cleared = list(dict.fromkeys(
            c for c in self.alerts_cleared if c in cleared or c not in upserted))

    def size(self) -> int:
        return (len(self.windows) + len(self.days) + len(self.group_days)
                + len(self.transitions) + len(self.alerts)
                + len(self.alerts_cleared) + len(self.notifications) + len(self.outbox))


# --- corrections and imports: written by the CLI, never by the daemon ----------------------


@dataclass(frozen=True, slots=True)
class Annotations:
    """What people added to a window afterwards (`annotate`, `void`, `import`)."""

    note: str | None = None
    ticket: str | None = None
    voided_reason: str | None = None  # None: the window counts; else why it does not
    cause: str | None = None  # the root cause as corrected by a person


@dataclass(frozen=True)
class AuditEntry:
    """One change to one window: who made it, when, and the field before and after."""

    window_id: int
    at: float
    who: str
    field: str  # note | ticket | cause | voided | imported | span | merged
    before: str | None
    after: str | None
    system: str = ""  # filled in when read back, for the report


@dataclass(frozen=True)
class ImportedWindow:
    """A window an import writes: a new row (id None) or an imported row extended in place.

    `audit` holds (field, before, after) for the trail; the ledger adds who, when and the id.
    """

    record: WindowRecord
    annotations: Annotations = field(default_factory=Annotations)
    id: int | None = None
    audit: tuple[tuple[str, str | None, str | None], ...] = ()
    impact_override: float | None = None  # the impact the file gave, if it gave one


@dataclass
class ImportChanges:
    """Everything one import writes, in one transaction: windows stored or extended in place,
    and imported windows merged into one of those (deleted; the survivor's audit says so)."""

    windows: list[ImportedWindow] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)

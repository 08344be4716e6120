"""Plain data shared by every module: the validated configuration and what probes report.

Everything here is a frozen dataclass so it can be passed between threads and compared in
tests. Times inside the agent are aware UTC datetimes or POSIX seconds; local time only
appears at the edges (schedules, reports).
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # what mypy reads; at run time, __getattr__ at the end of this module
    from agent.notify.email import EmailNotifier as EmailNotifier
    from agent.notify.slack import SlackNotifier as SlackNotifier
    from agent.notify.teams import TeamsNotifier as TeamsNotifier
    from agent.notify.webhook import WebhookNotifier as WebhookNotifier
    from agent.probes.command import CommandProbe as CommandProbe
    from agent.probes.dns import DnsProbe as DnsProbe
    from agent.probes.heartbeat import HeartbeatProbe as HeartbeatProbe
    from agent.probes.http import HttpProbe as HttpProbe
    from agent.probes.icmp import IcmpProbe as IcmpProbe
    from agent.probes.tcp import TcpProbe as TcpProbe


class State(enum.StrEnum):
    """The confirmed state of a system, as exported in `outage_system_state{state}`."""

    UNKNOWN = "unknown"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"


class Status(enum.StrEnum):
    """What one probe saw. A down target is data, never an exception. UNKNOWN: the probe
    could not be made because of the agent's own resources (no file descriptor, no memory),
    which says nothing about the target and never bills it."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProbeResult:
    status: Status
    latency: float  # seconds the probe took (to the failure, for a failed probe)
    reason: str = ""  # short human text: "HTTP 503", "connection refused", "timeout after 5s"
    # Extra per-probe facts for metrics, e.g. {"tls_not_after": 1767225600.0}.
    facts: tuple[tuple[str, float], ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in (Status.UP, Status.DEGRADED)


# --- probe specifications ---------------------------------------------------------------


class ProbeSpec(Protocol):
    """What a probe checks: a frozen dataclass of its probe type's module (agent/probes/), named
    by `type` (the config's `type:`), which picks the probe function in agent.probes."""

    @property
    def type(self) -> str: ...


@dataclass(frozen=True)
class Check:
    """A probe with the timing it runs under: what the probe engine needs to run it once."""

    spec: ProbeSpec
    timeout: float  # seconds
    degraded_after: float | None = None  # slower than this (seconds) = degraded, not down


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class UsersWindow:
    """Concurrent users on the given weekdays between two local times (may cross midnight)."""

    days: frozenset[int]  # 0 = Monday ... 6 = Sunday, the day the window starts on
    start: dt.time
    end: dt.time  # end <= start means the window ends on the next day
    users: float
    # A shift rate (night shift, overtime): the cost of a user-hour inside this window;
    # None: the group's hourly_cost_per_user.
    hourly_cost_per_user: float | None = None


@dataclass(frozen=True)
class UsersSchedule:
    """Concurrent users by time of day; a plain number is a schedule with no windows."""

    default: float
    windows: tuple[UsersWindow, ...] = ()
    holidays: str | None = None  # "GB-ENG": country GB, subdivision ENG; holidays use default


@dataclass(frozen=True)
class UsersSource:
    """Where the concurrent users of a group are measured (`concurrent_users: {source: ...}`):
    read every `every` seconds by agent.users, the schedule of the group in force whenever no
    fresh reading is. `spec` is the frozen dataclass of its source type's module."""

    spec: ProbeSpec  # typed by `type`, as a probe's spec is
    every: float = 60.0  # seconds, at least 1
    max: float | None = None  # a reading above this is clamped to it (and logged)
    timeout: float = 10.0  # seconds a reading may take


IMPLICIT_GROUP = "everyone"  # the one group of a config without cost.groups


@dataclass(frozen=True)
class UserGroup:
    """A population of staff (cost.groups): how many are at work when, and what an hour of
    their time costs. Within a group, use of different systems is independent."""

    name: str
    users: UsersSchedule
    hourly_cost_per_user: float
    annual_cost_per_user: float | None = None  # with working_hours_per_year, if derived
    working_hours_per_year: float = 1924.0
    source: UsersSource | None = None  # measured users; `users` is then the fallback


@dataclass(frozen=True)
class CostConfig:
    currency: str = "GBP"
    timezone: str = "UTC"
    hourly_cost_per_user: float = 0.0  # derived from annual cost / hours when not given
    annual_cost_per_user: float | None = None
    working_hours_per_year: float = 1924.0
    users: UsersSchedule = field(default_factory=lambda: UsersSchedule(default=0.0))
    groups: tuple[UserGroup, ...] = ()  # cost.groups; empty: one implicit group, 'everyone'
    users_source: UsersSource | None = None  # without groups: everyone's measured users

    def user_groups(self) -> tuple[UserGroup, ...]:
        """The groups of people costed: cost.groups, or 'everyone' built from the top level."""
        if self.groups:
            return self.groups
        return (UserGroup(IMPLICIT_GROUP, self.users, self.hourly_cost_per_user,
                          self.annual_cost_per_user, self.working_hours_per_year,
                          self.users_source),)


@dataclass(frozen=True)
class Maintenance:
    """A planned window: recurring (cron + duration) or one-off (start, end)."""

    cron: str | None = None  # crontab(5) syntax, 0 and 7 are Sunday, in cost.timezone
    duration: float | None = None  # seconds, with cron
    start: dt.datetime | None = None  # aware, with end
    end: dt.datetime | None = None


@dataclass(frozen=True)
class System:
    name: str
    check: Check
    interval: float = 30.0
    retry_interval: float = 5.0  # while a change is in doubt
    # While an outage is confirmed (Nagios's hard state): the next probe only has to notice
    # the recovery, and thousands of systems down at once must not multiply the probe rate.
    down_interval: float | None = None  # None: the same as interval
    failure_threshold: int = 3
    success_threshold: int = 2
    # After flap_threshold recoveries within flap_window (0: never), a recovery must hold for
    # half the window before it counts: a flapping system stays one outage, not thousands.
    flap_threshold: int = 5
    flap_window: float = 600.0
    depends_on: tuple[str, ...] = ()
    users_share: float = 1.0  # the share of 'everyone', without cost.groups
    # With cost.groups: the share of each group that uses it ((group, share), ...); a group
    # not named has share 0.
    users: tuple[tuple[str, float], ...] = ()
    impact: float = 1.0
    degraded_impact: float = 0.0
    direct_cost_per_hour: float = 0.0
    maintenance: tuple[Maintenance, ...] = ()
    description: str = ""
    owner: str = ""
    supplier: str = ""
    tier: str = ""
    sla: float | None = None  # availability target as a fraction, e.g. 0.999


# --- alerting -----------------------------------------------------------------------------


class NotifierSpec(Protocol):
    """Where and how to send: a frozen dataclass of its notifier module (agent/notify/), named
    by `type` (the config's `type:`), which picks the send function in agent.notify."""

    @property
    def type(self) -> str: ...


@dataclass(frozen=True)
class Notifier:
    name: str
    spec: NotifierSpec
    timeout: float = 10.0
    retries: int = 5  # attempts after the first, with exponential backoff
    queue_size: int = 100


@dataclass(frozen=True)
class AlertRule:
    """When to tell people, and whom. `kind` is state, incident_cost, period_cost or cost_rate."""

    name: str
    kind: str
    notify: tuple[str, ...]
    thresholds: tuple[float, ...] = ()  # money (or money per hour for cost_rate)
    states: tuple[str, ...] = ("down",)  # for kind == "state"
    period: str = "day"  # for kind == "period_cost": day | week | month
    systems: tuple[str, ...] = ()  # empty: every system
    hold: float = 0.0  # `for:` seconds the condition must hold before firing
    repeat: float | None = None  # reminder interval while firing
    send_resolved: bool = True


@dataclass(frozen=True)
class WebTls:
    """`tls_server_config` of a web-config.yml, as Prometheus exporters read it."""

    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"  # or VerifyClientCertIfGiven, RequireAndVerify...
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclass(frozen=True)
class WebConfig:
    """The HTTP server's TLS and basic auth, from a Prometheus-style web-config.yml."""

    path: str
    tls: WebTls | None = None
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (name, bcrypt hash)


@dataclass(frozen=True)
class AgentConfig:
    listen: str = "127.0.0.1:9321"
    # A SQLite file's absolute path (already resolved), or a PostgreSQL URL.
    ledger: str = "outage-ledger.db"
    site: str = ""
    # (k, n): this agent owns shard k of n of `systems` (agent.shard); None: all of them
    shard: tuple[int, int] | None = None
    canaries: tuple[System, ...] = ()  # probed like systems; never costed
    max_unobserved_gap: float = 300.0
    log_level: str = "info"
    external_url: str = ""  # where people reach the status page; linked from notifications
    evaluation_interval: float = 5.0  # alerts evaluated, open windows checkpointed
    retention: float | None = None  # seconds of raw transitions kept; windows are kept forever
    web_config: WebConfig | None = None  # TLS and basic auth for the HTTP server
    # One probe-duration histogram per system (15 series each); off for very large estates,
    # where one histogram over all systems keeps /metrics small.
    per_system_histograms: bool = True


@dataclass(frozen=True)
class Config:
    agent: AgentConfig
    cost: CostConfig
    systems: tuple[System, ...]
    source: Path | None = None  # the file it was loaded from
    notifiers: tuple[Notifier, ...] = ()
    alerts: tuple[AlertRule, ...] = ()
    # Values that must never be shown (passwords, tokens, webhook URLs): see agent.text.redact.
    secrets: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def shares(self, system: System) -> dict[str, float]:
        """The share of each group of people that uses `system`."""
        if self.cost.groups:
            return dict(system.users)
        return {IMPLICIT_GROUP: system.users_share}

    def system(self, name: str) -> System:
        for system in self.systems:
            if system.name == name:
                return system
        raise KeyError(name)


# --- the spec dataclasses, importable from here as before ----------------------------------
# Each lives in its own probe or notifier module, beside the code that reads and runs it
# (docs/extending.md). Those modules import this one, so this one fetches them on first use,
# never at import: `agent.model` stays the bottom layer and loads no probe or notifier code.

_SPEC_HOMES = {
    "HttpProbe": "agent.probes.http",
    "TcpProbe": "agent.probes.tcp",
    "DnsProbe": "agent.probes.dns",
    "IcmpProbe": "agent.probes.icmp",
    "CommandProbe": "agent.probes.command",
    "HeartbeatProbe": "agent.probes.heartbeat",
    "WebhookNotifier": "agent.notify.webhook",
    "SlackNotifier": "agent.notify.slack",
    "TeamsNotifier": "agent.notify.teams",
    "EmailNotifier": "agent.notify.email",
}

if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any name from here

    def __getattr__(name: str) -> type:
        """Given a spec dataclass's name, return the class from its module."""
        home = _SPEC_HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        spec: type = getattr(importlib.import_module(home), name)
        return spec

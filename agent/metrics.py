"""Prometheus metrics, read from the engine's views at scrape time.

Names are a public contract (dashboards and alert rules use them): see docs/metrics.md.
Money has no unit in its name: one currency per deployment, named by `outage_agent_info`.

The agent-wide figures come from a custom collector and prometheus_client's registry; the
per-system families (about 20 series per system) are written straight in the text format
by `render_systems`. Through prometheus_client each series costs a Sample object, a label
dict and its escaping, about 8 us: 1.5 s a scrape for 10,000 systems. Written directly
from the views, the same text takes about a tenth of that; tests/test_exporter_reference.py
proves it equal to what prometheus_client renders from the same families.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from agent import __version__
from agent.engine import GroupView, SystemView
from agent.model import State, Status

STATES = [state.value for state in State]
PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class Scrape:
    """Everything the collector shows, captured at one instant after a ledger commit."""

    views: list[SystemView] = field(default_factory=list)
    groups: list[GroupView] = field(default_factory=list)
    concurrent_users: float = 0.0
    ledger_ok: bool = True
    journal_ok: bool = True  # False: what the ledger cannot take is in memory only
    pending: int = 0  # records waiting for the ledger
    clock_offset: float = 0.0  # the agent's clock minus the wall clock, in seconds
    # Each heartbeat system's last ping and last run's duration (None: none yet).
    beats: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    # Each measured group: a reading in force now, and its latest reading (None: none yet).
    users_sources: list[tuple[str, bool, float | None]] = field(default_factory=list)


class Metrics:
    """The agent's registry: live histograms and counters plus the scrape-time collector."""

    def __init__(self, currency: str, site: str, histograms: bool = True,
                 shard: str = "") -> None:
        # No `_created` series: they only add noise. The switch is prometheus_client's, for the
        # whole process, so it is thrown here, as the agent starts, not by importing this module.
        prometheus_client.disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.collector = StateCollector(currency, site, shard)
        self.registry.register(self.collector)
        self.probe_duration = Histogram(
            "outage_probe_duration_seconds", "How long each probe took.",
            ["system"] if histograms else [], buckets=PROBE_BUCKETS, registry=self.registry,
        )
        self.per_system_histograms = histograms
        self.schedule_lag = Histogram(
            "outage_probe_schedule_lag_seconds",
            "How late probes started compared with their planned time.",
            buckets=LAG_BUCKETS, registry=self.registry,
        )
        self.missed_runs = Counter(
            "outage_probe_missed_runs", "Probe runs skipped because the previous one was late "
            "or still running.", ["reason"], registry=self.registry,
        )
        self.probes = Counter(
            "outage_probes", "Probes run, by result.", ["result"], registry=self.registry,
        )
        self.alerts_firing = prometheus_client.Gauge(
            "outage_alerts_firing", "Conditions of each alert rule firing now.", ["alert"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "outage_notifications", "Notifications by notifier and result (sent, failed after "
            "retries, retried, dropped because the queue was full).", ["notifier", "result"],
            registry=self.registry,
        )
        self.reload_ok = prometheus_client.Gauge(
            "outage_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded.", registry=self.registry,
        )
        self.reload_time = prometheus_client.Gauge(
            "outage_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully.", registry=self.registry,
        )

    def count_notification(self, notifier: str, result: str) -> None:
        self.notifications.labels(notifier, result).inc()

    def set_alerts_firing(self, counts: dict[str, int]) -> None:
        for name, count in counts.items():
            self.alerts_firing.labels(name).set(count)

    def observe_probe(self, system: str, latency: float, result: Status) -> None:
        """Count one probe: success (up or degraded), failure (down), or unknown (the agent
        could not make it: its own fault, not the target's)."""
        series = self.probe_duration.labels(system) if self.per_system_histograms else (
            self.probe_duration
        )
        series.observe(latency)
        outcome = {Status.DOWN: "failure", Status.UNKNOWN: "unknown"}.get(result, "success")
        self.probes.labels(outcome).inc()

    def render(self) -> bytes:
        """The whole exposition: the registry's figures, then every system's."""
        return prometheus_client.generate_latest(self.registry) + render_systems(
            self.collector.scrape.views).encode()


def _gauge(name: str, doc: str, labels: Iterable[str] = ("system",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


class StateCollector(Collector):
    """Agent-wide figures from the latest `Scrape` (per-system ones: `render_systems`)."""

    def __init__(self, currency: str, site: str, shard: str = "") -> None:
        self.currency = currency
        self.site = site
        self.shard = shard  # "2/4", or "" when the agent probes every system
        self.scrape = Scrape()

    def describe(self) -> Iterable[object]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        scrape = self.scrape
        info = _gauge("outage_agent_info", "The agent's version, currency, site and shard.",
                      ["version", "currency", "site", "shard"])
        info.add_metric([__version__, self.currency, self.site, self.shard], 1)
        yield info
        users = _gauge("outage_concurrent_users", "Concurrent users now, measured or by the "
                       "schedule (every group of people together).", [])
        users.add_metric([], scrape.concurrent_users)
        yield users
        yield from _group_families(scrape.groups)
        ledger = _gauge("outage_ledger_up", "1 while the ledger commits; 0 while writes are "
                        "failing and held in memory.", [])
        ledger.add_metric([], 1 if scrape.ledger_ok else 0)
        yield ledger
        pending = _gauge("outage_ledger_pending_records", "Records held in memory because "
                         "the ledger has not committed them yet.",
                         [])
        pending.add_metric([], scrape.pending)
        yield pending
        journal = _gauge("outage_ledger_journal_up", "1 unless the journal cannot keep what "
                         "the ledger cannot take either: it is then in memory only, and the "
                         "counters restored at a restart are served as last kept safe.", [])
        journal.add_metric([], 1 if scrape.journal_ok else 0)
        yield journal
        offset = _gauge("outage_clock_offset_seconds", "The agent's clock minus the wall "
                        "clock: nonzero after a wall-clock step until the agent realigns.", [])
        offset.add_metric([], scrape.clock_offset)
        yield offset
        yield from _heartbeat_families(scrape.beats)
        yield from _users_source_families(scrape.users_sources)


def _users_source_families(sources: list[tuple[str, bool, float | None]]
                           ) -> Iterator[GaugeMetricFamily]:
    """Each measured group: whether its reading is in force (else its schedule), and the
    latest reading taken (no sample before the first, or after a failed one)."""
    up = _gauge("outage_users_source_up", "1 while a fresh reading of the group's users "
                "source is in force; 0 while its schedule (the fallback) is.", ["group"])
    measured = _gauge("outage_users_measured", "The latest reading of the group's concurrent "
                      "users, clamped to the source's max.", ["group"])
    for name, fresh, value in sources:
        up.add_metric([name], 1 if fresh else 0)
        if value is not None:
            measured.add_metric([name], value)
    yield from (up, measured)


def _heartbeat_families(beats: list[tuple[str, float | None, float | None]]
                        ) -> Iterator[GaugeMetricFamily]:
    """When each heartbeat system's job last pinged, and how long its last run took (from
    its /start to its success); a system without one has no sample."""
    last = _gauge("outage_heartbeat_last_ping_timestamp_seconds", "When the heartbeat "
                  "system's job last pinged the agent (any kind of ping), Unix time.")
    took = _gauge("outage_heartbeat_last_duration_seconds", "How long the heartbeat "
                  "system's last run took, from its /start ping to its success.")
    for name, ping, duration in beats:
        if ping is not None:
            last.add_metric([name], ping)
        if duration is not None:
            took.add_metric([name], duration)
    yield from (last, took)


def _group_families(groups: list[GroupView]) -> Iterator[GaugeMetricFamily |
                                                         CounterMetricFamily]:
    """The figures of each group of people (cost.groups; one, 'everyone', without them)."""
    labels = ["group"]
    users = _gauge("outage_group_concurrent_users", "Concurrent users of each group of "
                   "people now.", labels)
    ratio = _gauge("outage_group_loss_ratio", "Share of the group's time lost now to "
                   "everything down at once: 1 - product of (1 - share x impact).", labels)
    rate = _gauge("outage_group_cost_per_hour", "What the group's lost time costs now, per "
                  "hour.", labels)
    total = CounterMetricFamily("outage_group_cost", "Cost of the group's lost time so far.",
                                labels=labels)
    for group in groups:
        users.add_metric([group.name], group.concurrent_users)
        ratio.add_metric([group.name], group.loss_ratio)
        rate.add_metric([group.name], group.cost_per_hour)
        total.add_metric([group.name], group.cost_total)
    yield from (users, ratio, rate, total)


def _escape_doc(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


@dataclass(frozen=True)
class Family:
    """One per-system metric family: its exposed name, type and help."""

    name: str
    kind: str  # gauge | counter (the name then ends in _total, as prometheus_client does)
    doc: str

    def header(self) -> str:
        return f"# HELP {self.name} {_escape_doc(self.doc)}\n# TYPE {self.name} {self.kind}\n"


SYSTEM_FAMILIES = (  # in the order of `family_values`
    Family("outage_system_up", "gauge", "1 unless the system is confirmed down."),
    Family("outage_probe_success", "gauge", "1 if the latest probe succeeded (up or degraded)."),
    Family("outage_downtime_seconds_total", "counter", "Confirmed down time, including down "
           "behind a dependency; not maintenance, not degraded."),
    Family("outage_degraded_seconds_total", "counter", "Confirmed degraded time."),
    Family("outage_cost_total", "counter", "Accrued cost of outages in the currency: the "
           "staff time attributed to the system as a root cause, plus its direct costs."),
    Family("outage_direct_cost_total", "counter", "The direct-cost part of outage_cost_total."),
    Family("outage_cost_per_hour", "gauge", "Current burn rate in the currency per hour."),
    Family("outage_affected_users", "gauge", "Concurrent users whose lost time is attributed "
           "to the system now (its share of the combined loss; 0 behind a root cause)."),
    Family("outage_incidents_total", "counter", "Outages confirmed (transitions into down)."),
    Family("outage_open_incident_cost", "gauge", "Cost accrued by the open incident, 0 if none."),
    Family("outage_open_incident_duration_seconds", "gauge", "Age of the open incident, 0 if "
           "none."),
    Family("outage_cost_current_day", "gauge", "Cost in the current calendar day of the cost "
           "timezone."),
    Family("outage_cost_current_month", "gauge", "Cost in the current calendar month of the "
           "cost timezone."),
    Family("outage_probe_last_timestamp_seconds", "gauge", "When the latest probe finished."),
    Family("outage_tls_cert_not_after_timestamp_seconds", "gauge", "When the certificate seen "
           "by the latest HTTPS probe expires; absent without one."),
)
STATE = Family("outage_system_state", "gauge", "1 for the current state of each system.")
CAUSE = Family("outage_system_cause", "gauge", "1 while the system is down (or in maintenance) "
               "behind a dependency; cause names it. Absent otherwise.")
MEMBERS = Family("outage_service_members", "gauge", "How many of a service's members are in "
                 "each state (docs/services.md); absent for a probed system.")
STATE_HEADER, CAUSE_HEADER, MEMBERS_HEADER = STATE.header(), CAUSE.header(), MEMBERS.header()


def family_values(view: SystemView) -> tuple[float | None, ...]:
    """One system's value for each of SYSTEM_FAMILIES; None: no series for it."""
    result, totals = view.last_result, view.totals
    incident_age = 0.0
    if view.incident_start is not None and view.last_probe_at is not None:
        incident_age = max(0.0, view.as_of - view.incident_start)
    return (
        0 if view.state is State.DOWN else 1,
        None if result is None or result.status is Status.UNKNOWN else (1 if result.ok else 0),
        totals.downtime, totals.degraded, totals.cost, totals.direct,
        view.cost_per_hour, view.affected_users, view.incidents,
        view.incident_cost if view.incident_start is not None else 0.0, incident_age,
        view.cost_day, view.cost_month, view.last_probe_at,
        None if result is None or not result.facts else dict(result.facts).get("tls_not_after"),
    )


_COMMON = {0: "0.0", 1: "1.0"}  # most values: formatted once, not per series


def _number(value: float) -> str:
    """A sample value as prometheus_client writes it (Go's float formatting)."""
    common = _COMMON.get(value)  # type: ignore[call-overload]
    if common is None or (not value and math.copysign(1.0, value) < 0):  # -0.0 is "-0.0"
        return floatToGoString(value)
    return common


def _label(text: str) -> str:
    """A label value escaped for the text format (system names never need it: see config)."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", r"\\").replace('"', r'\"').replace("\n", r"\n")
    return text


def render_systems(views: list[SystemView]) -> str:
    """Every per-system family in the Prometheus text format, one family after another,
    labels in the order prometheus_client writes them (sorted by name)."""
    labels = [f'{{system="{_label(view.name)}"}} ' for view in views]
    rows = [family_values(view) for view in views]
    out: list[str] = []
    for index, family in enumerate(SYSTEM_FAMILIES):
        out.append(family.header())
        name = family.name
        out.extend([f"{name}{label}{_number(number)}\n" for label, row in
                    zip(labels, rows, strict=True) if (number := row[index]) is not None])
    out.append(STATE_HEADER)
    for view in views:
        system, current = _label(view.name), view.state.value
        out.extend(f'outage_system_state{{state="{state}",system="{system}"}} '
                   f'{"1.0" if state == current else "0.0"}\n' for state in STATES)
    out.append(CAUSE_HEADER)
    out.extend(f'outage_system_cause{{cause="{_label(view.cause)}",system="{_label(view.name)}"}}'
               " 1.0\n" for view in views if view.cause)
    out.append(MEMBERS_HEADER)
    services = [view for view in views if view.members]
    states = {view.name: view.state.value for view in views} if services else {}
    for view in services:
        system = _label(view.name)
        found = [states.get(member, "unknown") for member in view.members]
        out.extend(f'outage_service_members{{state="{state}",system="{system}"}} '
                   f"{_number(float(found.count(state)))}\n" for state in STATES)
    return "".join(out)

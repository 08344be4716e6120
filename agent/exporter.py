"""Prometheus metrics, read from the engine's views at scrape time by a custom collector.

Names are a public contract (dashboards and alert rules use them): see README, "Metrics".
Money has no unit in its name: one currency per deployment, named by `outage_agent_info`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent import __version__
from agent.engine import SystemView
from agent.model import State

prometheus_client.disable_created_metrics()  # no `_created` series: they only add noise

STATES = [state.value for state in State]
PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class Scrape:
    """Everything the collector shows, captured at one instant after a ledger commit."""

    views: list[SystemView] = field(default_factory=list)
    concurrent_users: float = 0.0
    ledger_ok: bool = True
    committed: bool = True  # False when the figures include writes not yet on disk
    pending: int = 0  # records waiting for the ledger


class Metrics:
    """The agent's registry: live histograms and counters plus the scrape-time collector."""

    def __init__(self, currency: str, site: str, histograms: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.collector = StateCollector(currency, site)
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

    def observe_probe(self, system: str, latency: float, ok: bool) -> None:
        series = self.probe_duration.labels(system) if self.per_system_histograms else (
            self.probe_duration
        )
        series.observe(latency)
        self.probes.labels("success" if ok else "failure").inc()

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


def _gauge(name: str, doc: str, labels: Iterable[str] = ("system",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _counter(name: str, doc: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=["system"])


class StateCollector(Collector):
    """Per-system state, money and time from the latest `Scrape`."""

    def __init__(self, currency: str, site: str) -> None:
        self.currency = currency
        self.site = site
        self.scrape = Scrape()

    def describe(self) -> Iterable[object]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        scrape = self.scrape
        info = _gauge("outage_agent_info", "The agent's version, currency and site.",
                      ["version", "currency", "site"])
        info.add_metric([__version__, self.currency, self.site], 1)
        yield info
        users = _gauge("outage_concurrent_users", "Concurrent users now, by the schedule.", [])
        users.add_metric([], scrape.concurrent_users)
        yield users
        ledger = _gauge("outage_ledger_up", "1 while the ledger commits; 0 while writes are "
                        "failing and held in memory.", [])
        ledger.add_metric([], 1 if scrape.ledger_ok else 0)
        yield ledger
        pending = _gauge("outage_ledger_pending_records", "Records held in memory because "
                         "the ledger has not committed them yet (figures shown include them).",
                         [])
        pending.add_metric([], scrape.pending)
        yield pending
        yield from self._per_system(scrape.views)

    def _per_system(self, views: list[SystemView]) -> Iterator[GaugeMetricFamily |
                                                                CounterMetricFamily]:
        families = self._families()
        state = _gauge("outage_system_state", "1 for the current state of each system.",
                       ["system", "state"])
        cause = _gauge("outage_system_cause", "1 while the system is down behind a dependency; "
                       "cause names the root cause. Absent otherwise.", ["system", "cause"])
        for view in views:
            for family, value in zip(families, self._values(view), strict=True):
                if value is not None:
                    family.add_metric([view.name], value)
            for name in STATES:
                state.add_metric([view.name, name], 1 if view.state.value == name else 0)
            if view.state is State.DOWN and view.cause:
                cause.add_metric([view.name, view.cause], 1)
        yield from families
        yield state
        yield cause

    @staticmethod
    def _families() -> list[GaugeMetricFamily | CounterMetricFamily]:
        return [
            _gauge("outage_system_up", "1 unless the system is confirmed down."),
            _gauge("outage_probe_success", "1 if the latest probe succeeded (up or degraded)."),
            _counter("outage_downtime_seconds", "Confirmed down time, including down behind a "
                     "dependency; not maintenance, not degraded."),
            _counter("outage_degraded_seconds", "Confirmed degraded time."),
            _counter("outage_cost", "Accrued cost of outages in the currency (staff time plus "
                     "direct costs)."),
            _counter("outage_direct_cost", "The direct-cost part of outage_cost_total."),
            _gauge("outage_cost_per_hour", "Current burn rate in the currency per hour."),
            _gauge("outage_affected_users", "Concurrent users affected now (counted at the "
                   "root cause)."),
            _counter("outage_incidents", "Outages confirmed (transitions into down)."),
            _gauge("outage_open_incident_cost", "Cost accrued by the open incident, 0 if none."),
            _gauge("outage_open_incident_duration_seconds", "Age of the open incident, 0 if "
                   "none."),
            _gauge("outage_cost_current_day", "Cost in the current calendar day of the cost "
                   "timezone."),
            _gauge("outage_cost_current_month", "Cost in the current calendar month of the "
                   "cost timezone."),
            _gauge("outage_probe_last_timestamp_seconds", "When the latest probe finished."),
            _gauge("outage_tls_cert_not_after_timestamp_seconds", "When the certificate seen "
                   "by the latest HTTPS probe expires; absent without one."),
        ]

    @staticmethod
    def _values(view: SystemView) -> list[float | None]:
        result = view.last_result
        incident_age = 0.0
        if view.incident_start is not None and view.last_probe_at is not None:
            incident_age = max(0.0, view.as_of - view.incident_start)
        return [
            0 if view.state is State.DOWN else 1,
            None if result is None else (1 if result.ok else 0),
            view.totals.downtime, view.totals.degraded, view.totals.cost, view.totals.direct,
            view.cost_per_hour, view.affected_users, view.incidents,
            view.incident_cost if view.incident_start is not None else 0.0, incident_age,
            view.cost_day, view.cost_month, view.last_probe_at,
            None if result is None else dict(result.facts).get("tls_not_after"),
        ]

"""render_systems, the per-system families written straight in the text format, proven against
prometheus_client's own rendering of the same families, answer by answer.

The reference is a Collector built from prometheus_client's MetricFamily classes and rendered
by generate_latest. It reads the same values (`family_values`): what is proven is the writing, which
render_systems does by hand for speed: names, help, types, label order and escaping, number
formatting and the series left out for None.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.metrics import (
    CAUSE,
    MEMBERS,
    STATE,
    STATES,
    SYSTEM_FAMILIES,
    family_values,
    render_systems,
)
from agent.model import ProbeResult, State, Status
from agent.records import Amounts
from agent.views import SystemView

NOW = 1_800_000_000.0


class SystemsCollector(Collector):
    """The per-system families of `views` as prometheus_client collects them."""

    def __init__(self, views: list[SystemView]) -> None:
        self.views = views

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        rows = [family_values(view) for view in self.views]
        for index, family in enumerate(SYSTEM_FAMILIES):
            kind = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
            metric = kind(family.name, family.doc, labels=["system"])
            for view, row in zip(self.views, rows, strict=True):
                if row[index] is not None:
                    metric.add_metric([view.name], row[index])
            yield metric
        state = GaugeMetricFamily(STATE.name, STATE.doc, labels=["system", "state"])
        for view in self.views:
            for name in STATES:
                state.add_metric([view.name, name], 1 if view.state.value == name else 0)
        yield state
        cause = GaugeMetricFamily(CAUSE.name, CAUSE.doc, labels=["system", "cause"])
        for view in self.views:
            if view.cause:
                cause.add_metric([view.name, view.cause], 1)
        yield cause
        states = {view.name: view.state.value for view in self.views}
        members = GaugeMetricFamily(MEMBERS.name, MEMBERS.doc, labels=["system", "state"])
        for view in self.views:
            found = [states.get(member, "unknown") for member in view.members]
            for name in STATES if view.members else ():
                members.add_metric([view.name, name], found.count(name))
        yield members


def reference(views: list[SystemView]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemsCollector(views))
    return generate_latest(registry).decode()


def view(name: str, state: State = State.UP, **fields: object) -> SystemView:
    base = SystemView(
        name=name, state=state, cause=None, totals=Amounts(), incidents=0, cost_per_hour=0.0,
        affected_users=0.0, cost_day=0.0, cost_month=0.0, incident_start=None,
        incident_cost=0.0, window=None, last_result=ProbeResult(Status.UP, 0.01),
        last_probe_at=NOW, as_of=NOW,
    )
    return SystemView(**{**base.__dict__, **fields})


VIEWS = {
    "up": view("email"),
    "never-probed": view("new", State.UNKNOWN, last_result=None, last_probe_at=None),
    "probe-unknown": view("ldap", State.UNKNOWN, last_result=ProbeResult(Status.UNKNOWN, 0.0)),
    "down-with-an-incident": view(
        "finance", State.DOWN, incidents=3, cost_per_hour=25987.53, affected_users=1999.5,
        totals=Amounts(cost=1e21, staff=0.1 + 0.2, direct=1e-7, downtime=86400 * 400.5,
                       degraded=12.25),
        incident_start=NOW - 5400, incident_cost=1234.567, cost_day=-0.0, cost_month=2 ** 53,
        last_result=ProbeResult(Status.DOWN, 5.0, "HTTP 503")),
    "behind-a-cause": view("payroll", State.DOWN, cause="finance",
                           last_result=ProbeResult(Status.DOWN, 0.5)),
    "maintenance": view("hr", State.MAINTENANCE, cause='core "east"\\dc\n2'),
    "degraded-with-a-certificate": view(
        "web", State.DEGRADED, last_result=ProbeResult(
            Status.DEGRADED, 2.5, "slow", (("tls_not_after", 1_801_234_567.0),))),
    "label-escaping": view('quote " back \\ newline \n end'),
    "unicode": view("café-☕-系统"),
    "a-service": view("exchange", State.DEGRADED, members=("exch-1", "exch-2")),
    "not-numbers": view("odd", cost_per_hour=math.inf, affected_users=math.nan,
                        cost_day=-math.inf),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_one_system_renders_as_prometheus_client_renders_it(name: str) -> None:
    views = [VIEWS[name]]
    assert render_systems(views) == reference(views)


def test_a_service_counts_its_members_in_each_state() -> None:
    views = [view("exchange", State.DOWN, members=("exch-1", "exch-2", "exch-3")),
             view("exch-1", State.DOWN), view("exch-2", State.DOWN), view("exch-3")]
    text = render_systems(views)
    assert text == reference(views)
    assert 'outage_service_members{state="down",system="exchange"} 2.0' in text
    assert 'outage_service_members{state="up",system="exchange"} 1.0' in text
    assert 'outage_service_members{state="down",system="exch-1"}' not in text


def test_every_system_together_renders_as_prometheus_client_renders_them() -> None:
    views = list(VIEWS.values())
    assert render_systems(views) == reference(views)


def test_no_systems_still_give_every_family_its_help_and_type() -> None:
    assert render_systems([]) == reference([])
    assert render_systems([]).count("# TYPE ") == len(SYSTEM_FAMILIES) + 3  # state, cause, members

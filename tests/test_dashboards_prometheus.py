"""Every PromQL expression in both dashboards, run by real Prometheus against a running agent
while a loopback target is down: each parses, returns data, and the money agrees with the
agent's own figures (`/api/v1/systems`, which the ledger-backed day/month gauges feed).

How the money is compared: the test reads the agent's API (a0), waits for a Prometheus scrape
that started after that read and takes its timestamp t, then reads the API again (a1). Every
query is evaluated at exactly t, so `increase()` has nothing to extrapolate at the end, and the
counters were 0 at Prometheus's first scrape, so nothing at the start either. A figure that
only grows (cost, downtime) must then lie between a0 and a1, within the API's rounding; a
constant one (the burn rate) must equal it.
"""

from __future__ import annotations

import math
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.helpers import substitute
from support.realparts import (
    AgentProcess,
    HttpTarget,
    PrometheusProcess,
    configured_agent,
    fast_config,
    get_json,
    http_targets,
    require_tool,
    wait_for,
)

from agent import dashboards

GRAFANA = Path(__file__).resolve().parent.parent / "grafana"
SITE = "test-site"
SYSTEMS = ("intranet", "finance", "payroll", "website")
SERVICES = ("web-pair",)  # probed through its members, payroll and website
# The agent's own site differs from SITE: the scrape config's target label wins in Prometheus.
CONFIG = fast_config(site="agent-config-site", systems="""\
  - name: intranet
    probe: {{type: http, url: "{intranet}"}}
    users_share: 0.5
  - name: finance
    depends_on: [intranet]
    probe: {{type: http, url: "{finance}"}}
    users_share: 0.2
    direct_cost_per_hour: 90
  - name: payroll
    probe: {{type: http, url: "{payroll}"}}
    users_share: 0.2
  - name: website
    probe: {{type: http, url: "{website}"}}
    users_share: 0.1
services:
  - name: web-pair
    members: [payroll, website]
    users_share: 0.05
""")
# Metric -> (field of /api/v1/systems, its rounding there). Queries reading exactly one of
# these (and no ratio) are compared with the agent.
FIGURES = {
    "outage_cost_per_hour": ("cost_per_hour", 0.005),
    "outage_cost_current_day": ("cost_today", 0.005),
    "outage_cost_current_month": ("cost_month", 0.005),
    "outage_open_incident_cost": ("incident_cost", 0.005),
    "outage_cost_total": ("cost_total", 0.005),
    "outage_affected_users": ("affected_users", 0.05),
    "outage_incidents_total": ("incidents_total", 0.0),
    "outage_downtime_seconds_total": ("downtime_seconds_total", 0.0005),
    "outage_group_cost_per_hour": ("cost_per_hour", 0.005),  # of "group:NAME" (summary)
}
MONEY_FIELDS = {"cost_per_hour", "cost_today", "cost_month", "incident_cost", "cost_total"}


@pytest.fixture
def estate(tmp_path):
    targets = http_targets(*SYSTEMS)
    agent = configured_agent(tmp_path, CONFIG, **{name: t.url for name, t in targets.items()})
    prometheus = PrometheusProcess(tmp_path, {f"127.0.0.1:{agent.port}": {"site": SITE}})
    try:
        yield agent, prometheus, targets
    finally:
        prometheus.stop()
        agent.stop()
        for target in targets.values():
            target.down()


def systems(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    """/api/v1/systems by name, and each group of people of /api/v1/summary as "group:NAME"."""
    answer = agent.systems()
    for s in answer.values():
        s["incident_cost"] = (s["open_outage"] or {}).get("incident_cost", 0.0)
    summary = get_json(agent.base + "/api/v1/summary")
    return answer | {f"group:{g['group']}": g for g in summary["groups"]}


def states(agent: AgentProcess) -> dict[str, tuple[str, str | None]]:
    return {name: (s["state"], s["cause"]) for name, s in agent.systems().items()}


def bring_about_the_outages(agent: AgentProcess, prometheus: PrometheusProcess,
                            targets: dict[str, HttpTarget]) -> None:
    """payroll has a closed outage; intranet is down and finance down behind it, now."""
    prometheus.start()
    agent.start()
    wait_for("every system up", lambda: all(s == ("up", None) for s in states(agent).values()))
    # Counters are 0 in Prometheus's first samples, so increase() has no start to guess.
    wait_for("a scrape with every system up", lambda: len(prometheus.query(
        'outage_system_state{state="up"} == 1')) == len(SYSTEMS + SERVICES), timeout=30)

    targets["payroll"].down()
    wait_for("payroll down", lambda: states(agent)["payroll"][0] == "down")
    prometheus.wait_for_data('outage_system_up{system="payroll"} == 0')
    targets["payroll"].up()
    wait_for("payroll back up", lambda: states(agent)["payroll"][0] == "up")

    targets["intranet"].down()
    targets["finance"].down()
    wait_for("finance down behind intranet", lambda: states(agent)["finance"] == (
        "down", "intranet") and states(agent)["intranet"] == ("down", None))
    prometheus.wait_for_data('outage_system_cause{system="finance", cause="intranet"}')
    prometheus.wait_for_data('outage_system_up{system="payroll"} == 1')


def bracket(agent: AgentProcess, prometheus: PrometheusProcess) -> tuple[dict, dict, float]:
    """(a0, a1, t): API reads just before and just after the scrape at t, with no state change
    between them. Prometheus scrapes a target at a steady 1 s, so the next scrape is predicted
    from the last one; a wrong guess only widens the bracket, it never makes it wrong."""
    for _ in range(5):
        last = scrape_after(prometheus, 0.0)()
        assert last is not None
        time.sleep(min(1.0, max(0.0, last + 0.85 - time.time())))
        before = systems(agent)
        t = wait_for("a scrape after the API read", scrape_after(prometheus, time.time()),
                     timeout=10, every=0.02)
        after = systems(agent)
        if all((before[n]["state"], before[n]["cause"]) == (after[n]["state"], after[n]["cause"])
               for n in SYSTEMS):
            return before, after, t
    raise AssertionError("the estate kept changing state")


def scrape_after(prometheus: PrometheusProcess, moment: float) -> Callable[[], float | None]:
    """A check for wait_for: the timestamp of the agent's latest scrape once it is after
    `moment`, else None."""
    def check() -> float | None:
        [latest] = prometheus.query("timestamp(outage_agent_info)")
        stamp = float(latest["value"][1])
        return stamp if stamp > moment else None

    return check


def resolve_variable(prometheus: PrometheusProcess, query: str, values: dict[str, str],
                     t: float) -> list[str]:
    """Run a `label_values(selector, label)` variable query as Grafana would."""
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
    assert match, query
    selector, label = substitute(match[1], values), match[2]
    return sorted(prometheus.api(f"label/{label}/values", **{
        "match[]": selector, "start": f"{prometheus.started_at:.3f}", "end": f"{t:.3f}"}))


def figure(name: str, field: str, a0: dict, a1: dict, tolerance: float) -> tuple[float, float]:
    low, high = sorted((a0[name][field], a1[name][field]))
    return low - tolerance - 1e-6, high + tolerance + 1e-6


def mapped_metric(expr: str) -> str | None:
    read = {m for m in FIGURES if m in expr}
    if len(read) != 1 or "/" in expr:
        return None
    return read.pop()


def last_values(result: list[dict[str, Any]], ranged: bool) -> list[tuple[dict, float]]:
    if ranged:
        return [(r["metric"], float(r["values"][-1][1])) for r in result]
    return [(r["metric"], float(r["value"][1])) for r in result]


def check_against_agent(where: str, expr: str, values: list[tuple[dict, float]],
                        chosen: list[str], a0: dict, a1: dict, span: int) -> str | None:
    """Compare one query's figures with the agent's; return what was compared, if anything."""
    down = sorted(n for n in chosen if a0[n]["state"] == "down")
    if "outage_system_state" in expr:
        for labels, value in values:
            assert value == dashboards.STATE_CODES[a0[labels["system"]]["state"]], where
        return "state"
    if "outage_system_cause" in expr:
        got = {(labels.get("system", chosen[0]), labels["cause"]) for labels, _ in values}
        assert got == {(n, a0[n]["cause"]) for n in chosen if a0[n]["cause"]}, where
        return "cause"
    if "outage_service_members" in expr:  # members down or in maintenance, per service
        for labels, value in values:
            members = a0[labels["system"]]["service"]["members"]
            assert value == sum(a0[m]["state"] in ("down", "maintenance") for m in members)
        return "members"
    if expr.startswith("count(") and "outage_system_up" in expr:
        assert values == [({}, len(down))], where
        return "down"
    if "outage_downtime_seconds_total" in expr and "/ " + str(span) in expr:  # availability
        for labels, value in values:
            low, high = figure(labels.get("system", chosen[0]), "downtime_seconds_total",
                               a0, a1, 0.0005)
            assert 1 - high / span - 1e-9 <= value <= 1 - low / span + 1e-9, where
        return "availability"
    metric = mapped_metric(expr)
    if metric is None:
        return None
    field, tolerance = FIGURES[metric]
    if metric.startswith("outage_group_"):  # one group here, everyone: the summary's figure
        for labels, value in values:
            low, high = figure(f"group:{labels['group']}", field, a0, a1, tolerance)
            assert low <= value <= high, f"{where}: {labels['group']} {value} not in range"
        return field
    if all("system" in labels for labels, _ in values):
        names = sorted(labels["system"] for labels, _ in values)
        assert names == (down if "outage_system_up" in expr else sorted(chosen)), where
        for labels, value in values:
            low, high = figure(labels["system"], field, a0, a1, tolerance)
            assert low <= value <= high, (
                f"{where}: {labels['system']} {value} not in [{low}, {high}] ({field})")
    else:
        [(_, value)] = values
        bounds = [figure(n, field, a0, a1, tolerance) for n in chosen]
        low, high = sum(b[0] for b in bounds), sum(b[1] for b in bounds)
        assert low <= value <= high, f"{where}: {value} not in [{low}, {high}] ({field})"
    return field


def evaluate(prometheus: PrometheusProcess, board: dict, values: dict[str, str],
             chosen: list[str], a0: dict, a1: dict, t: float) -> set[tuple[str, str, str]]:
    """Run every query of a dashboard at t, instant and (for time series) over the range from
    before Prometheus started; return the (dashboard, panel, figure) triples compared."""
    compared = set()
    span = int(values["__range_s"])
    for panel in board["panels"]:
        for target in panel["targets"]:
            where = f"{board['uid']} / {panel['title']} / {target['refId']}"
            expr = substitute(target["expr"], values)
            result = [(r["metric"], float(r["value"][1])) for r in prometheus.query(expr, at=t)]
            assert result, f"{where}: no data for {expr}"
            if target["range"]:
                series = prometheus.query_range(expr, t - span, t, step=1)
                assert series, f"{where}: no data over the range for {expr}"
                assert all(float(r["values"][-1][0]) == pytest.approx(t) for r in series)
                result = [(r["metric"], float(r["values"][-1][1])) for r in series]
            elif "@ start()" in expr:
                continue  # in an instant query the range starts now: the figure is always 0
            if panel["fieldConfig"]["defaults"].get("unit") == "percentunit":
                assert all(0 <= v <= 1 for _, v in result), f"{where}: {result}"
            figure_name = check_against_agent(where, expr, result, chosen, a0, a1, span)
            if figure_name:
                compared.add((board["uid"], panel["title"], figure_name))
    return compared


def has_money_unit(panel: dict) -> bool:
    units = [panel["fieldConfig"]["defaults"].get("unit")] + [
        p["value"] for o in panel["fieldConfig"]["overrides"] for p in o["properties"]
        if p["id"] == "unit"]
    return any(str(u).startswith("currency") for u in units)


def test_every_dashboard_query_returns_data_and_the_money_agrees_with_the_agent(estate):
    agent, prometheus, targets = estate
    bring_about_the_outages(agent, prometheus, targets)
    a0, a1, t = bracket(agent, prometheus)
    assert a0["intranet"]["cost_total"] > 0 and a0["payroll"]["cost_total"] > 0
    assert a0["payroll"]["incidents_total"] == 1 and a0["payroll"]["state"] == "up"
    assert a0["finance"]["cost_per_hour"] == pytest.approx(90, abs=0.01)  # direct cost only
    text = agent.metrics_text()  # with outage_system_cause present, the scrape still lints
    assert "\noutage_system_cause{" in text
    lint = subprocess.run([require_tool("promtool", "prometheus"), "check", "metrics"],
                          input=text, capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    span = math.ceil(t - prometheus.started_at) + 1  # the range reaches before any sample
    grafana = {"__range": f"{span}s", "__range_s": str(span), "__range_ms": str(span * 1000),
               "__rate_interval": "15s", "__interval": "2s", "site": SITE}
    boards = dashboards.build("GBP")
    overview, detail = boards["outage-cost-overview.json"], boards["outage-system-detail.json"]
    variables = {v["name"]: v for v in overview["templating"]["list"]}
    assert resolve_variable(prometheus, variables["site"]["query"], grafana, t) == [SITE]
    assert resolve_variable(prometheus, variables["system"]["query"], grafana, t) == sorted(
        SYSTEMS + SERVICES)

    compared = evaluate(prometheus, overview, {**grafana, "system": ".*"},
                        list(SYSTEMS + SERVICES), a0, a1, t)
    compared |= evaluate(prometheus, detail, {**grafana, "system": "finance"}, ["finance"],
                         a0, a1, t)
    # A root cause has no cause: for intranet that one query is empty, and every other answers.
    cause = [p for p in detail["panels"] if "outage_system_cause" in p["targets"][0]["expr"]]
    intranet = {**grafana, "system": "intranet"}
    assert prometheus.query(substitute(cause[0]["targets"][0]["expr"], intranet), at=t) == []
    compared |= evaluate(prometheus, {**detail, "panels": [
        p for p in detail["panels"] if p not in cause]}, intranet, ["intranet"], a0, a1, t)

    money = {(b["uid"], p["title"]) for b in (overview, detail) for p in b["panels"]
             if has_money_unit(p)}
    checked = {(uid, title) for uid, title, name in compared if name in MONEY_FIELDS}
    assert money and money <= checked, f"money panels not compared: {money - checked}"
    assert {"state", "cause", "down", "availability", "members"} <= {
        name for *_, name in compared}


def test_alert_rule_queries_run_in_prometheus(estate):
    agent, prometheus, _ = estate
    prometheus.start()
    agent.start()
    prometheus.wait_for_data("outage_cost_current_day")
    rules = yaml.safe_load((GRAFANA / "alerts/outage-cost.yaml").read_text())
    exprs = [d["model"]["expr"] for g in rules["groups"] for r in g["rules"] for d in r["data"]
             if d["datasourceUid"] != "__expr__"]
    assert exprs
    for expr in exprs:
        assert prometheus.query(expr), expr

"""The Grafana dashboards: committed JSON equals the generator's output, and its structure holds
(ids, grid, titles, datasource through the variable, units on money and time panels)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import dashboards
from agent.cli import main

REPO = Path(__file__).resolve().parent.parent
GRAFANA = REPO / "grafana"
QUORUM = REPO / "deploy/prometheus/quorum.yml"
ORGANISATION = "outage-cost-organisation.json"  # reads the quorum series: no site label
MONEY_METRICS = ("outage_cost_total", "outage_cost_per_hour", "outage_open_incident_cost",
                 "outage_cost_current_day", "outage_cost_current_month",
                 "outage_direct_cost_total", "outage:cost_per_hour:quorum",
                 "outage:cost:quorum_rate5m")
TIME_METRICS = ("outage_open_incident_duration_seconds", "outage_probe_duration_seconds",
                "outage_downtime_seconds_total")
TIME_UNITS = {"s", "ms", "dtdurations", "dtdurationms", "dthms"}


def committed() -> dict[str, Any]:
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def panels_of(board: dict[str, Any]) -> list[dict[str, Any]]:
    return list(board["panels"])


def every_panel() -> list[tuple[str, dict[str, Any]]]:
    return [(name, p) for name, board in committed().items() for p in panels_of(board)]


def unit_of(panel: dict[str, Any], ref: str) -> str | None:
    """The unit Grafana shows for one query of a panel: an override for its column, else the
    panel default (the y axis unit for a heatmap)."""
    if panel["type"] == "heatmap":
        return panel["options"]["yAxis"].get("unit")
    for override in panel["fieldConfig"]["overrides"]:
        matcher = override["matcher"]
        if (matcher["id"], matcher["options"]) in (("byName", f"Value #{ref}"),
                                                   ("byFrameRefID", ref)):
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    return str(prop["value"])
    return panel["fieldConfig"]["defaults"].get("unit")


def kind_of(expr: str) -> str | None:
    """money, time or None from the metrics a query reads (a ratio of them is neither; a
    division by a number, such as minutes into hours, keeps the kind)."""
    if re.search(r"/(?!\s*[\d.]+\b)", expr):
        return None
    if any(m in expr for m in MONEY_METRICS):
        return "money"
    if any(m in expr for m in TIME_METRICS):
        return "time"
    return None


def test_committed_dashboards_are_the_generators_output_for_gbp():
    expected = dashboards.build("GBP")
    assert sorted(committed()) == sorted(expected), "run: outage-agent dashboards"
    for name, board in expected.items():
        text = (GRAFANA / "dashboards" / name).read_text(encoding="utf-8")
        assert text == dashboards.render(board), f"{name} is stale: run outage-agent dashboards"


def test_cli_writes_dashboards_for_a_currency(tmp_path, capsys):
    assert main(["dashboards", "--currency", "EUR", "-o", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(dashboards.DASHBOARDS)
    text = (tmp_path / "out" / "outage-cost-overview.json").read_text()
    assert "currencyEUR" in text and "currencyGBP" not in text and "EUR per hour" in text
    assert str(tmp_path / "out") in capsys.readouterr().out


def test_cli_refuses_a_bad_currency_code(tmp_path, capsys):
    assert main(["dashboards", "--currency", "pounds", "-o", str(tmp_path)]) == 2
    assert "ISO 4217" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("code", "unit"), [
    ("GBP", "currencyGBP"), ("EUR", "currencyEUR"), ("USD", "currencyUSD"),
    ("CHF", "currencyCHF"), ("NZD", "suffix: NZD"), ("AED", "suffix: AED"),
])
def test_money_unit_is_grafanas_currency_or_a_suffix(code, unit):
    assert dashboards.money_unit(code) == unit


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_panel_ids_and_titles_are_unique_and_the_grid_does_not_overlap(name):
    board = committed()[name]
    ids = [p["id"] for p in panels_of(board)]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in panels_of(board)]
    assert len(titles) == len(set(titles)), "two panels with one title"
    taken: set[tuple[int, int]] = set()
    for p in panels_of(board):
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                 for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, f"panel {p['id']} {p['title']!r} overlaps another"
        taken |= cells


@pytest.mark.parametrize(("name", "panel"), every_panel(),
                         ids=[f"{n}:{p['title']}" for n, p in every_panel()])
def test_every_panel_has_a_title_queries_and_the_datasource_variable(name, panel):
    assert panel["title"].strip() and panel["description"].strip()
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"]
    for t in panel["targets"]:
        assert t["datasource"] == panel["datasource"]
        assert t["expr"].strip() and t["refId"]
        if name == ORGANISATION:  # the quorum series have no site, every query a system
            assert not re.search(r"\bsite\b", t["expr"]) and 'system=~"$system"' in t["expr"]
        else:
            assert 'site=~"$site"' in t["expr"], "every query filters on the site variable"


@pytest.mark.parametrize(("name", "panel"), every_panel(),
                         ids=[f"{n}:{p['title']}" for n, p in every_panel()])
def test_money_and_time_queries_carry_a_unit(name, panel):
    for t in panel["targets"]:
        kind = kind_of(t["expr"])
        unit = unit_of(panel, t["refId"])
        if kind == "money":
            assert unit == "currencyGBP", (t["refId"], unit)
        elif kind == "time":
            assert unit in TIME_UNITS, (t["refId"], unit)


def test_every_money_metric_panel_is_checked_for_a_unit():
    """Guard for the test above: it sees money panels in every dashboard."""
    money = [(n, p["title"]) for n, p in every_panel()
             if any(kind_of(t["expr"]) == "money" for t in p["targets"])]
    assert {n for n, _ in money} == set(dashboards.DASHBOARDS)
    assert len(money) >= 10


def test_calendar_figures_come_from_the_ledger_gauges_not_increase():
    exprs = [t["expr"] for _, p in every_panel() for t in p["targets"]
             if re.search(r"\b(today|this month)\b", p["title"], re.I)]
    assert exprs and all("outage_cost_current_" in e and "increase" not in e for e in exprs)


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_no_datasource_uid_is_hard_coded(name):
    def uids(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["uid"]] if "uid" in node and "type" in node else []
            return found + [u for v in node.values() for u in uids(v)]
        if isinstance(node, list):
            return [u for v in node for u in uids(v)]
        return []

    board = committed()[name]
    assert set(uids({k: v for k, v in board.items() if k != "uid"})) == {"${datasource}"}
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    if name == ORGANISATION:
        assert set(variables) == {"datasource", "system"}
        assert variables["system"]["query"] == (
            "label_values(outage:system_probing:sites, system)")
        return
    assert set(variables) == {"datasource", "site", "system"}
    assert variables["site"]["query"] == "label_values(outage_agent_info, site)"


def test_detail_dashboard_is_for_one_system_and_the_overview_for_many():
    boards = committed()
    system = {n: {v["name"]: v for v in b["templating"]["list"]}["system"]
              for n, b in boards.items()}
    assert system["outage-cost-overview.json"]["multi"] is True
    assert system["outage-system-detail.json"]["multi"] is False
    assert system[ORGANISATION]["multi"] is True
    detail_exprs = [t["expr"] for p in panels_of(boards["outage-system-detail.json"])
                    for t in p["targets"]]
    assert all('system="$system"' in e for e in detail_exprs)
    assert any("outage_system_cause" in e for e in detail_exprs)
    assert any("histogram_quantile" in e for e in detail_exprs)


def test_organisation_dashboard_reads_only_the_quorum_recording_rules():
    """Never an agent's own series (outage_...), which would add up across sites: only the
    series quorum.yml records, and every one of its votes and money series is shown."""
    recorded = {rule["record"] for group in yaml.safe_load(QUORUM.read_text())["groups"]
                for rule in group["rules"] if "record" in rule}
    board = committed()[ORGANISATION]
    assert board["uid"] == dashboards.ORGANISATION_UID
    exprs = [t["expr"] for p in panels_of(board) for t in p["targets"]]
    read = {name for e in exprs for name in re.findall(r"\boutage[:_][a-z0-9_:]*", e)}
    assert read and read <= recorded, read - recorded
    assert {"outage:system_down:quorum", "outage:system_down:sites",
            "outage:system_probing:sites", "outage:cost_per_hour:quorum"} <= read
    for e in exprs:
        assert not re.search(r"\b(sum|count|avg)\b[^(]*\(\s*outage_", e), e
    titles = [p["title"] for p in panels_of(board)]
    assert {"table", "state-timeline"} <= {p["type"] for p in panels_of(board)}, titles


def test_provisioning_points_at_the_dashboards_and_the_alerts_at_the_datasource():
    provider = yaml.safe_load(
        (GRAFANA / "provisioning/dashboards/outage-agent.yaml").read_text())["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/outage-agent/dashboards"  # docs' mount
    [source] = yaml.safe_load(
        (GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())["datasources"]
    assert source["type"] == "prometheus"
    alerts = yaml.safe_load((GRAFANA / "alerts/outage-cost.yaml").read_text())
    rules = [r for g in alerts["groups"] for r in g["rules"]]
    assert rules
    for rule in rules:
        queries = [d for d in rule["data"] if d["datasourceUid"] != "__expr__"]
        assert queries and all(d["datasourceUid"] == source["uid"] for d in queries)
        assert rule["condition"] in {d["refId"] for d in rule["data"]}


def test_the_dashboards_page_describes_every_panel():
    page = " ".join((REPO / "docs" / "dashboards.md").read_text(encoding="utf-8").split())
    for _, panel in every_panel():
        assert panel["title"] in page, f"docs/dashboards.md lacks {panel['title']!r}"

"""Grafana dashboards for the agent's metrics, generated for one currency.

Grafana cannot take a panel's unit from a variable, so the dashboards are built for a currency:
`outage-agent dashboards --currency EUR -o DIR`. The JSON committed in `grafana/dashboards` is
this module's output for GBP, and a test keeps it so. Everything here is pure: `build()` returns
the dashboards as dicts and `render()` the exact text written.

Every query filters on `site=~"$site"` (Prometheus target labels carry the site, see
deploy/prometheus/prometheus.yml) and reaches Prometheus through the `$datasource` variable, so
no datasource UID is written down. Calendar figures come from the agent's ledger-backed
`outage_cost_current_day/month` gauges, not from `increase()` over a rolling range.

The organisation dashboard is the exception: it reads only the quorum recording rules of
deploy/prometheus/quorum.yml (series without a `site` label), never the agents' own series,
so three sites that see one outage never bill it three times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Json = dict[str, Any]

# Currency units Grafana has had built in for years; any other code gets a plain suffix unit.
GRAFANA_CURRENCIES = frozenset({
    "USD", "GBP", "EUR", "JPY", "RUB", "UAH", "BRL", "DKK", "ISK", "NOK", "SEK", "CZK", "CHF",
    "PLN", "ZAR", "INR", "KRW", "IDR", "PHP",
})
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
OVERVIEW_UID = "outage-cost-overview"
DETAIL_UID = "outage-system-detail"
ORGANISATION_UID = "outage-cost-organisation"
TAGS = ["outage-cost"]
# State timeline codes: a higher code is worse, so `max` across sites shows the worst state.
STATE_CODES = {"unknown": 0, "up": 1, "maintenance": 2, "degraded": 3, "down": 4}
STATE_COLOURS = {"unknown": "text", "up": "green", "maintenance": "blue",
                 "degraded": "orange", "down": "red"}
TIME_UNIT = "dtdurations"
# outage:system_down:quorum is 0 or 1: the organisation's verdict on a system.
QUORUM_CODES = {"up": 0, "down": 1}


def money_unit(currency: str) -> str:
    """Given an ISO 4217 code, return Grafana's unit for it; raise ValueError if it is not one."""
    code = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    return f"currency{code}" if code in GRAFANA_CURRENCIES else f"suffix: {code}"


# --- PromQL --------------------------------------------------------------------------------


def state_code(sel: str) -> str:
    """The current state of each system as one number (STATE_CODES), worst across sites."""
    terms = " or ".join(f'(outage_system_state{{{sel}, state="{name}"}} == 1) * {code}'
                        for name, code in STATE_CODES.items())
    return f"max by (system) ({terms})"


def down_now(sel: str) -> str:
    """Systems confirmed down now, by system: for `... and on (system) (down_now)`."""
    return f"min by (system) (outage_system_up{{{sel}}}) == 0"


def cost_in_range(sel: str, by: str = "system") -> str:
    """Cost accrued since the start of the dashboard's range, at every step of a range query.

    `@ start()` is the counter at the range's start; a system with no sample then counts from 0.
    """
    agg = f"sum by ({by})" if by else "sum"
    now = f"{agg} (outage_cost_total{{{sel}}})"
    return f"{now} - ({agg} (outage_cost_total{{{sel}}} @ start()) or {now} * 0)"


def availability(sel: str, by: str = "system") -> str:
    """24x7 availability over the range: 1 - confirmed down time / the range."""
    agg = f"avg by ({by})" if by else "avg"
    return (f"clamp_min(1 - {agg} (increase(outage_downtime_seconds_total{{{sel}}}[$__range]))"
            f" / $__range_s, 0)")


# --- panels --------------------------------------------------------------------------------


def target(expr: str, ref: str = "A", legend: str = "", instant: bool = False,
           fmt: str = "time_series") -> Json:
    return {"datasource": DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend,
            "instant": instant, "range": not instant, "format": fmt}


def panel(kind: str, title: str, description: str, targets: list[Json], unit: str,
          options: Json | None = None, defaults: Json | None = None,
          overrides: list[Json] | None = None, **extra: Any) -> Json:
    """Given a panel's parts, return it (id and gridPos are set by `grid`)."""
    return {
        "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})},
                        "overrides": overrides or []},
        "options": options or {}, "targets": targets, **extra,
    }


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def stat(title: str, description: str, expr: str, unit: str, *, legend: str = "",
         decimals: int | None = 0, colour: Json | None = None, mappings: list[Json] | None = None,
         text_mode: str = "value", no_value: str | None = None) -> Json:
    defaults: Json = {"color": {"mode": "thresholds"},
                      "thresholds": colour or thresholds((None, "green"), (0.01, "red"))}
    if decimals is not None:
        defaults["decimals"] = decimals
    if mappings:
        defaults["mappings"] = mappings
    if no_value:
        defaults["noValue"] = no_value
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "value", "graphMode": "none", "justifyMode": "auto",
               "orientation": "auto", "textMode": text_mode}
    return panel("stat", title, description, [target(expr, legend=legend, instant=True)], unit,
                 options, defaults)


def timeseries(title: str, description: str, targets: list[Json], unit: str, *,
               stack: bool = False, steps: bool = False, decimals: int | None = None,
               bounds: tuple[float, float] | None = None) -> Json:
    custom: Json = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 60 if stack else 10,
                    "showPoints": "never", "spanNulls": False,
                    "lineInterpolation": "stepAfter" if steps else "linear",
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults: Json = {"custom": custom, "color": {"mode": "palette-classic"}}
    if decimals is not None:
        defaults["decimals"] = decimals
    if bounds is not None:
        defaults["min"], defaults["max"] = bounds
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, description, targets, unit, options, defaults)


def bargauge(title: str, description: str, expr: str, unit: str, *, decimals: int = 0,
             colour: Json | None = None, bounds: tuple[float, float] | None = None,
             descending: bool = True) -> Json:
    """One bar per system from an instant table query, sorted by value."""
    defaults: Json = {"decimals": decimals, "color": {"mode": "thresholds"},
                      "thresholds": colour or thresholds((None, "green"), (0.01, "red"))}
    if bounds is not None:
        defaults["min"], defaults["max"] = bounds
    options = {"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
               "valueMode": "color", "minVizHeight": 10, "minVizWidth": 0,
               "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}}
    return panel("bargauge", title, description,
                 [target(expr, legend="{{system}}", instant=True, fmt="table")], unit, options,
                 defaults, transformations=[
                     {"id": "organize", "options": {"excludeByName": {"Time": True}}},
                     {"id": "sortBy", "options": {"sort": [{"field": "Value",
                                                            "desc": descending}]}},
                 ])


def state_mappings(codes: dict[str, int] | None = None) -> list[Json]:
    """Value mappings from a state's code to its name and colour (STATE_CODES by default)."""
    return [{"type": "value", "options": {
        str(code): {"text": name, "color": STATE_COLOURS[name], "index": code}
        for name, code in (codes or STATE_CODES).items()}}]


def state_timeline(title: str, description: str, expr: str,
                   mappings: list[Json] | None = None) -> Json:
    defaults = {"color": {"mode": "thresholds"}, "mappings": mappings or state_mappings(),
                "thresholds": thresholds((None, "text")),
                "custom": {"fillOpacity": 80, "lineWidth": 0}}
    options = {"mergeValues": True, "showValue": "never", "alignValue": "left", "rowHeight": 0.8,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "single", "sort": "none"}}
    return panel("state-timeline", title, description, [target(expr, legend="{{system}}")],
                 "none", options, defaults)


def column(name: str, unit: str, decimals: int = 0, hidden: bool = False) -> list[Json]:
    props: list[Json] = [{"id": "displayName", "value": name}, {"id": "unit", "value": unit},
                         {"id": "decimals", "value": decimals}]
    if hidden:
        props.append({"id": "custom.hidden", "value": True})
    return props


def table(title: str, description: str, columns: list[tuple[str, str, str, str]],
          links: list[Json], mappings: dict[str, list[Json]] | None = None) -> Json:
    """Given (refId, expr, column name, unit) per column, one row per system (instant);
    `mappings` gives value mappings for some columns, by refId."""
    targets = [target(expr, ref, instant=True, fmt="table") for ref, expr, _, _ in columns]
    overrides = [{"matcher": {"id": "byName", "options": f"Value #{ref}"},
                  "properties": column(name, unit) + (
                      [{"id": "mappings", "value": mappings[ref]}]
                      if mappings and ref in mappings else [])}
                 for ref, _, name, unit in columns if name]
    overrides.append({"matcher": {"id": "byName", "options": "system"},
                      "properties": [{"id": "displayName", "value": "System"},
                                     {"id": "links", "value": links}]})
    overrides.append({"matcher": {"id": "byName", "options": "cause"},
                      "properties": [{"id": "displayName", "value": "Down because of"}]})
    hidden = {"Time": True, **{f"Value #{ref}": True for ref, _, name, _ in columns if not name}}
    return panel("table", title, description, targets, "none",
                 {"showHeader": True, "cellHeight": "sm",
                  "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
                 {"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
                 overrides, transformations=[
                     {"id": "merge", "options": {}},
                     {"id": "organize", "options": {"excludeByName": hidden}},
                 ])


def heatmap(title: str, description: str, expr: str) -> Json:
    options = {"calculate": False, "cellGap": 1, "showValue": "never",
               "yAxis": {"unit": "s", "axisPlacement": "left", "decimals": 3},
               "color": {"mode": "scheme", "scheme": "Oranges", "scale": "exponential",
                         "exponent": 0.5, "steps": 64, "fill": "dark-orange", "reverse": False},
               "filterValues": {"le": 1e-9}, "rowsFrame": {"layout": "auto"},
               "legend": {"show": True}, "tooltip": {"show": True, "yHistogram": False}}
    return panel("heatmap", title, description,
                 [target(expr, legend="{{le}}", fmt="heatmap")], "short", options,
                 {"custom": {"scaleDistribution": {"type": "linear"}}})


def grid(rows: list[tuple[int, list[tuple[int, Json]]]]) -> list[Json]:
    """Given rows of (height, [(width, panel)]), return the panels with ids and positions."""
    placed: list[Json] = []
    y = 0
    for height, row in rows:
        x = 0
        for width, item in row:
            placed.append({"id": len(placed) + 1,
                           "gridPos": {"h": height, "w": width, "x": x, "y": y}, **item})
            x += width
        y += height
    return placed


# --- variables and dashboards ----------------------------------------------------------------


def query_variable(name: str, label: str, query: str, multi: bool) -> Json:
    current: Json = {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {}
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": query, "definition": query, "refresh": 2, "sort": 1, "hide": 0,
            "includeAll": multi, "multi": multi, "allValue": ".*" if multi else None,
            "current": current, "options": [], "regex": ""}


def variables(multi_system: bool) -> list[Json]:
    return [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "refresh": 1, "hide": 0, "includeAll": False, "multi": False,
         "current": {}, "options": [], "regex": ""},
        query_variable("site", "Site", "label_values(outage_agent_info, site)", True),
        query_variable("system", "System",
                       'label_values(outage_system_up{site=~"$site"}, system)', multi_system),
    ]


def dashboard(uid: str, title: str, description: str, panels: list[Json],
              multi_system: bool, templating: list[Json] | None = None) -> Json:
    return {
        "uid": uid, "title": title, "description": description, "tags": TAGS,
        "editable": True, "graphTooltip": 1, "refresh": "1m", "schemaVersion": 39,
        "version": 1, "time": {"from": "now-24h", "to": "now"}, "timepicker": {},
        "timezone": "", "fiscalYearStartMonth": 0, "liveNow": False,
        "links": [{"type": "dashboards", "title": "Outage cost", "tags": TAGS, "asDropdown": False,
                   "includeVars": True, "keepTime": True, "icon": "external link",
                   "targetBlank": False, "tooltip": "", "url": ""}],
        "templating": {"list": templating or variables(multi_system)},
        "panels": panels,
    }


def detail_link() -> list[Json]:
    return [{"title": "Open the system's detail dashboard", "url":
             f"/d/{DETAIL_UID}/{DETAIL_UID}?${{datasource:queryparam}}&${{site:queryparam}}"
             "&var-system=${__value.raw}&${__url_time_range}"}]


def overview(currency: str) -> Json:
    """Given a currency code, return the overview dashboard: what outages cost, and where."""
    money, code = money_unit(currency), currency.strip().upper()
    sel = 'site=~"$site", system=~"$system"'
    down = down_now(sel)
    hot = thresholds((None, "green"), (0.01, "red"))
    table_columns = [
        ("A", f"sum by (system) (outage_affected_users{{{sel}}}) and on (system) ({down})",
         "Users affected", "none"),
        ("B", f"sum by (system) (outage_cost_per_hour{{{sel}}}) and on (system) ({down})",
         f"Burn rate ({code} per hour)", money),
        ("C", f"sum by (system) (outage_open_incident_cost{{{sel}}}) and on (system) ({down})",
         "Running cost of this incident", money),
        ("D", f"max by (system) (outage_open_incident_duration_seconds{{{sel}}}) "
         f"and on (system) ({down})", "Down for", TIME_UNIT),
        ("E", f"max by (system, cause) (outage_system_cause{{{sel}}})", "", "none"),
    ]
    rows: list[tuple[int, list[tuple[int, Json]]]] = [
        (4, [
            (4, stat(f"Burn rate now ({code} per hour)", "What outages are costing per hour "
                     "right now: the sum of every system's current rate.",
                     f"sum(outage_cost_per_hour{{{sel}}})", money, colour=hot)),
            (4, stat("Cost today", "Cost of outages in the current calendar day of the agent's "
                     "cost.timezone, from its ledger (survives restarts).",
                     f"sum(outage_cost_current_day{{{sel}}})", money, colour=hot)),
            (4, stat("Cost this month", "Cost of outages in the current calendar month of the "
                     "agent's cost.timezone, from its ledger.",
                     f"sum(outage_cost_current_month{{{sel}}})", money, colour=hot)),
            (4, stat("Cost, last 30 days", "Cost of outages in the rolling 30 days to now "
                     "(needs 30 days of Prometheus retention).",
                     f"sum(increase(outage_cost_total{{{sel}}}[30d]))", money, colour=hot)),
            (4, stat("Systems down now", "Systems confirmed down, including those down behind a "
                     "dependency.", f"count({down}) or vector(0)", "none",
                     colour=thresholds((None, "green"), (1, "red")))),
            (4, stat("Users affected now", "Concurrent users who cannot work normally now, "
                     "counted once at the root cause.",
                     f"sum(outage_affected_users{{{sel}}})", "none",
                     colour=thresholds((None, "green"), (1, "red")))),
        ]),
        (7, [(24, table("Down now: users affected and running cost per system",
                        "Each system down now: users affected, what it costs per hour, what "
                        "the open incident has cost so far, how long it has been down, and the "
                        "root cause when it is down because of a dependency. Click a system "
                        "for its detail.", table_columns, detail_link()))]),
        (8, [
            (12, timeseries("Who is losing time: share of each group's time lost", "For each "
                            "group of people (cost.groups; 'everyone' without them), the share "
                            "of their working time lost to everything down at once: 1 - the "
                            "product of (1 - share x impact). It never exceeds 100%.",
                            [target('max by (group) (outage_group_loss_ratio{site=~"$site"})',
                                    legend="{{group}}")], "percentunit", bounds=(0, 1))),
            (12, timeseries(f"Who is losing time: cost per hour by group ({code})", "What each "
                            "group of people's lost time costs per hour: its concurrent users "
                            "x their hourly cost x the share of their time lost.",
                            [target('sum by (group) (outage_group_cost_per_hour'
                                    '{site=~"$site"})', legend="{{group}}")], money,
                            stack=True, decimals=0)),
        ]),
        (9, [
            (12, timeseries("Cumulative cost in range, by system", "Cost accrued since the "
                            "start of the time range, stacked by system.",
                            [target(cost_in_range(sel), legend="{{system}}")], money,
                            stack=True, decimals=0)),
            (12, timeseries(f"Burn rate by system ({code} per hour)", "What each system's "
                            "outage cost per hour, over time, stacked.",
                            [target(f"sum by (system) (outage_cost_per_hour{{{sel}}})",
                                    legend="{{system}}")], money, stack=True, decimals=0)),
        ]),
        (8, [(24, state_timeline("State of every system", "Up, degraded, down, maintenance or "
                                 "unknown, for every system over the range.", state_code(sel)))]),
        (9, [
            (8, bargauge("Availability in range (24x7)", "Share of the range each system was "
                         "not confirmed down (24x7). Business-hours availability is in "
                         "`outage-agent report`.", availability(sel), "percentunit",
                         decimals=2, bounds=(0, 1), descending=False,
                         colour=thresholds((None, "red"), (0.99, "orange"), (0.999, "green")))),
            (8, bargauge("Top systems by cost in range", "The systems whose outages cost most "
                         "over the time range.", "topk(10, sum by (system) (increase("
                         f"outage_cost_total{{{sel}}}[$__range])))", money)),
            (8, bargauge("Incidents in range, per system", "Outages confirmed (transitions into "
                         "down) per system over the time range.", "round(sum by (system) ("
                         f"increase(outage_incidents_total{{{sel}}}[$__range])))", "none",
                         colour=thresholds((None, "green"), (1, "orange")))),
        ]),
    ]
    return dashboard(OVERVIEW_UID, "Outage cost overview", "How much outages are costing now, "
                     f"today, this month, and which systems cost most. Money in {code}.",
                     grid(rows), multi_system=True)


def system_detail(currency: str) -> Json:
    """Given a currency code, return the detail dashboard for one system ($system)."""
    money, code = money_unit(currency), currency.strip().upper()
    sel = 'site=~"$site", system="$system"'
    hot = thresholds((None, "green"), (0.01, "red"))
    bucket = f"outage_probe_duration_seconds_bucket{{{sel}}}[$__rate_interval]"
    quantiles = [target(f"histogram_quantile({q}, sum by (le) (rate({bucket})))", ref,
                        legend=f"p{round(q * 100)}")
                 for ref, q in (("A", 0.5), ("B", 0.9), ("C", 0.99))]
    rows: list[tuple[int, list[tuple[int, Json]]]] = [
        (4, [
            (4, stat("State now", "The system's confirmed state.", state_code(sel), "none",
                     decimals=None, mappings=state_mappings(),
                     colour=thresholds((None, "text")))),
            (4, stat("Down because of", "The root cause while this system is down because a "
                     "system it depends on is down (its users are costed there).",
                     f"max by (cause) (outage_system_cause{{{sel}}})", "none",
                     legend="{{cause}}", text_mode="name", no_value="no dependency down",
                     colour=thresholds((None, "orange")))),
            (4, stat(f"Burn rate now ({code} per hour)", "What this system's outage costs per "
                     "hour right now.", f"sum(outage_cost_per_hour{{{sel}}})", money,
                     colour=hot)),
            (4, stat("Running cost of the open incident", "Cost accrued by the open incident "
                     "(down or degraded) so far; 0 if none.",
                     f"sum(outage_open_incident_cost{{{sel}}})", money, colour=hot)),
            (4, stat("Open incident age", "How long the open incident has lasted; 0 if none.",
                     f"max(outage_open_incident_duration_seconds{{{sel}}})", TIME_UNIT,
                     colour=thresholds((None, "green"), (1, "red")))),
            (4, stat("Users affected now", "Concurrent users affected now (0 when the users "
                     "are counted at a root cause).", f"sum(outage_affected_users{{{sel}}})",
                     "none", colour=thresholds((None, "green"), (1, "red")))),
        ]),
        (4, [
            (4, stat("Cost today", "This system's outage cost in the current calendar day, "
                     "from the agent's ledger.", f"sum(outage_cost_current_day{{{sel}}})",
                     money, colour=hot)),
            (4, stat("Cost this month", "This system's outage cost in the current calendar "
                     "month, from the agent's ledger.",
                     f"sum(outage_cost_current_month{{{sel}}})", money, colour=hot)),
            (4, stat("Cost in range", "This system's outage cost over the time range.",
                     f"sum(increase(outage_cost_total{{{sel}}}[$__range]))", money,
                     colour=hot)),
            (4, stat("Incidents in range", "Outages confirmed over the time range.",
                     f"round(sum(increase(outage_incidents_total{{{sel}}}[$__range])))", "none",
                     colour=thresholds((None, "green"), (1, "orange")))),
            (4, stat("Downtime in range", "Confirmed down time over the range, including down "
                     "behind a dependency.",
                     f"sum(increase(outage_downtime_seconds_total{{{sel}}}[$__range]))",
                     TIME_UNIT, colour=thresholds((None, "green"), (1, "red")))),
            (4, stat("Availability in range (24x7)", "Share of the range the system was not "
                     "confirmed down. Business-hours availability is in `outage-agent report`.",
                     availability(sel, by=""), "percentunit", decimals=3,
                     colour=thresholds((None, "red"), (0.99, "orange"), (0.999, "green")))),
        ]),
        (5, [(24, state_timeline("State", "The system's state over the range.",
                                 state_code(sel)))]),
        (9, [
            (12, heatmap("Probe latency", "How long probes took: a histogram per interval.",
                         f"sum by (le) (increase({bucket}))")),
            (12, timeseries("Probe latency quantiles", "Median, 90th and 99th percentile probe "
                            "latency, from the histogram.", quantiles, "s")),
        ]),
        (8, [
            (6, timeseries("Probe success ratio", "Share of scrapes whose latest probe "
                           "succeeded (up or degraded).",
                           [target(f"avg(avg_over_time(outage_probe_success{{{sel}}}"
                                   "[$__rate_interval]))", legend="success")],
                           "percentunit", bounds=(0, 1))),
            (6, timeseries("Incidents (running count)", "Outages confirmed since the ledger "
                           "began: each step up is a new incident.",
                           [target(f"max(outage_incidents_total{{{sel}}})",
                                   legend="incidents")], "none", steps=True, decimals=0)),
            (6, timeseries(f"Burn rate ({code} per hour)", "What this system's outages cost "
                           "per hour, over time.",
                           [target(f"sum(outage_cost_per_hour{{{sel}}})", legend="burn rate")],
                           money, decimals=0)),
            (6, timeseries("Cumulative cost in range", "Cost accrued since the start of the "
                           "time range.", [target(cost_in_range(sel, by=""), legend="cost")],
                           money, decimals=0)),
        ]),
    ]
    return dashboard(DETAIL_UID, "Outage cost: system detail", "One system: state, probe "
                     f"latency and success, incidents, cost and cause. Money in {code}.",
                     grid(rows), multi_system=False)


def organisation(currency: str) -> Json:
    """Given a currency code, return the organisation dashboard: systems down at a quorum of
    the sites that probe them, and their cost counted once.

    It reads only the recording rules of deploy/prometheus/quorum.yml, which the Prometheus
    that sees every site loads: never an agent's own series, which would add up across sites.
    Those series carry no `site` label, so there is no Site variable.
    """
    money, code = money_unit(currency), currency.strip().upper()
    sel = 'system=~"$system"'
    cost_rate = f"outage:cost_per_hour:quorum{{{sel}}}"
    # Cost in range: the quorum cost rate (per hour) sampled every minute over the range, a
    # minute's worth each. Exact to the minute at each change, and a minute with no series
    # (no agent scraped) adds nothing. The rate of outage_cost_total would lag a new outage.
    in_range = f"sum_over_time({cost_rate}[$__range:1m])"
    votes = f"max by (system) (outage:system_down:sites{{{sel}}})"
    probing = f"max by (system) (outage:system_probing:sites{{{sel}}})"
    quorum = f"max by (system) (outage:system_down:quorum{{{sel}}})"
    hot = thresholds((None, "green"), (0.01, "red"))
    verdict = state_mappings(QUORUM_CODES)
    link = [{"title": "Open the system's detail dashboard, every site side by side", "url":
             f"/d/{DETAIL_UID}/{DETAIL_UID}?${{datasource:queryparam}}&var-site=$__all"
             "&var-system=${__value.raw}&${__url_time_range}"}]
    table_columns = [
        ("A", quorum, "Down at quorum", "none"),
        ("B", votes, "Sites seeing it down", "none"),
        ("C", probing, "Sites probing it", "none"),
        ("D", f"sum by (system) ({cost_rate})", f"Burn rate ({code} per hour)", money),
        ("E", f"sum by (system) ({in_range}) / 60", "Cost in range", money),
    ]
    rows: list[tuple[int, list[tuple[int, Json]]]] = [
        (4, [
            (6, stat("Systems down at quorum now", "Systems that most of the sites probing "
                     "them see down: outages of the organisation, not of one site's network.",
                     f"sum(outage:system_down:quorum{{{sel}}})", "none",
                     colour=thresholds((None, "green"), (1, "red")))),
            (6, stat("Systems seen down by any site now", "Systems at least one site sees "
                     "down, at quorum or not: more than the count at quorum means a site's own "
                     "network or uplink is failing.",
                     f"count(outage:system_down:sites{{{sel}}} > 0) or vector(0)", "none",
                     colour=thresholds((None, "green"), (1, "orange")))),
            (6, stat(f"Organisation burn rate now ({code} per hour)", "What outages cost the "
                     "organisation per hour now: each system down at quorum counted once, at "
                     "the rate its sites report, never once per site.", f"sum({cost_rate})",
                     money, colour=hot)),
            (6, stat("Organisation cost in range", "What outages at quorum cost over the time "
                     "range, counted once: the burn rate at quorum taken minute by minute "
                     "(to within a minute at each change).", f"sum({in_range}) / 60", money,
                     colour=hot)),
        ]),
        (8, [
            (16, table("Systems: votes and cost at quorum", "Every system the sites probe: "
                       "whether it is down at quorum, how many sites see it down of how many "
                       "probe it, its burn rate at quorum and what it cost over the range. "
                       "Click a system for its detail, every site side by side.",
                       table_columns, link, mappings={"A": verdict})),
            (8, bargauge("Share of probing sites that see it down", "Sites seeing the system "
                         "down over sites probing it, now. Above half is a quorum: two of "
                         "three, both of two.", f"{votes} / {probing}", "percentunit",
                         decimals=0, bounds=(0, 1),
                         colour=thresholds((None, "green"), (0.01, "orange"), (0.501, "red")))),
        ]),
        (7, [(24, state_timeline("Down at quorum, by system", "When each system was down for "
                                 "the organisation (at a majority of the sites probing it) "
                                 "over the range.", quorum, mappings=verdict))]),
        (9, [
            (12, timeseries("Sites seeing each system down", "How many sites saw each system "
                            "down, over the range: one site alone is its own network, most of "
                            "them is the system.", [target(votes, legend="{{system}}")],
                            "none", steps=True, decimals=0)),
            (12, timeseries(f"Burn rate at quorum by system ({code} per hour)", "What each "
                            "system's outage cost the organisation per hour over time, counted "
                            "once, stacked.",
                            [target(f"sum by (system) ({cost_rate})", legend="{{system}}")],
                            money, stack=True, decimals=0)),
        ]),
    ]
    templating = [
        variables(multi_system=True)[0],
        query_variable("system", "System", "label_values(outage:system_probing:sites, system)",
                       True),
    ]
    return dashboard(ORGANISATION_UID, "Outage cost: organisation (quorum across sites)",
                     "Outages of the organisation: systems down at most of the sites that "
                     "probe them, costed once, from the quorum recording rules "
                     f"(deploy/prometheus/quorum.yml). Money in {code}.", grid(rows),
                     multi_system=True, templating=templating)


DASHBOARDS: dict[str, Callable[[str], Json]] = {
    "outage-cost-overview.json": overview,
    "outage-system-detail.json": system_detail,
    "outage-cost-organisation.json": organisation,
}


def build(currency: str = "GBP") -> dict[str, Json]:
    """Given a currency code, return file name -> dashboard; raise ValueError for a bad code."""
    money_unit(currency)
    return {name: make(currency) for name, make in DASHBOARDS.items()}


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path, currency: str = "GBP") -> list[Path]:
    """Write every dashboard for `currency` into `directory` (created if missing)."""
    boards = build(currency)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, board in boards.items():
        path = directory / name
        path.write_text(render(board), encoding="utf-8")
        written.append(path)
    return written

"""Grafana's parts, as plain dicts: units, panels of each kind, their places on the grid, and a
dashboard's frame (its variables and links).

Every panel reaches Prometheus through the `$datasource` variable, so no datasource UID is
written down.
"""

from __future__ import annotations

from typing import Any

from agent.currency import currency_error
from agent.dashboards.queries import STATE_CODES

Json = dict[str, Any]

# Currency units Grafana has had built in for years; any other code gets a plain suffix unit.
GRAFANA_CURRENCIES = frozenset({
    "USD", "GBP", "EUR", "JPY", "RUB", "UAH", "BRL", "DKK", "ISK", "NOK", "SEK", "CZK", "CHF",
    "PLN", "ZAR", "INR", "KRW", "IDR", "PHP",
})
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["outage-cost"]
STATE_COLOURS = {"unknown": "text", "up": "green", "maintenance": "blue",
                 "degraded": "orange", "down": "red"}
TIME_UNIT = "dtdurations"


def money_unit(currency: str) -> str:
    """Given an ISO 4217 code, return Grafana's unit for it; raise ValueError if it is not one."""
    if (problem := currency_error(currency)) is not None:
        raise ValueError(problem)
    return f"currency{currency}" if currency in GRAFANA_CURRENCIES else f"suffix: {currency}"


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


# --- a dashboard's frame: variables and links ------------------------------------------------


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

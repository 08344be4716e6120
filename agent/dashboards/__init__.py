"""Grafana dashboards for the agent's metrics, generated for one currency.

Grafana cannot take a panel's unit from a variable, so the dashboards are built for a currency:
`outage-agent dashboards --currency EUR -o DIR`. The JSON committed in `grafana/dashboards` is
this package's output for GBP, and a test keeps it so. Everything here is pure: `build()` returns
the dashboards as dicts and `render()` the exact text written.

Every query filters on `site=~"$site"` (Prometheus target labels carry the site, see
deploy/prometheus/prometheus.yml) and reaches Prometheus through the `$datasource` variable, so
no datasource UID is written down. Calendar figures come from the agent's ledger-backed
`outage_cost_current_day/month` gauges, not from `increase()` over a rolling range.

The organisation dashboard is the exception: it reads only the quorum recording rules of
deploy/prometheus/quorum.yml (series without a `site` label), never the agents' own series,
so three sites that see one outage never bill it three times.

`queries` writes the PromQL the dashboards share, `panels` Grafana's panels and a dashboard's
frame, and `boards` what each dashboard shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from agent.dashboards.boards import ORGANISATION_UID, organisation, overview, system_detail
from agent.dashboards.panels import Json, money_unit
from agent.dashboards.queries import STATE_CODES

__all__ = ["DASHBOARDS", "ORGANISATION_UID", "STATE_CODES", "build", "money_unit",
           "organisation", "render"]


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

"""The prometheus users source: an instant query (`/api/v1/query`) whose answer is one
number, e.g. sum(citrix_sessions_active{site="shire-hall"})."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agent.config.probes import http_url
from agent.config.tree import Context, Node
from agent.config.values import non_empty
from agent.probes.http import HttpProbe
from agent.users.base import Outcome, SourceType, number_of
from agent.users.web import WEB_FIELDS, FetchError, check_keys, get_json, tls_of


@dataclass(frozen=True)
class PrometheusSource:
    url: str  # the server, e.g. http://prometheus.internal:9090
    query: str
    tls: HttpProbe  # TLS settings and headers, as an http probe's
    type: str = "prometheus"


def _server(ctx: Context, node: Node) -> str | None:
    """The server's URL: the query's path and query string are added to it, so it has none
    of its own."""
    url = http_url(ctx, node)
    if url is not None and (urlsplit(url).query or urlsplit(url).fragment):
        ctx.bad(node, "the Prometheus server's URL takes no query string or fragment "
                      "(its /api/v1/query is asked)")
        return None
    return url


def _spec(**values: Any) -> PrometheusSource:
    return PrometheusSource(values["url"], values["query"], tls_of(values))


async def read(spec: PrometheusSource, timeout: float) -> Outcome:
    """Run the query now; its answer must be a scalar or a vector of exactly one sample."""
    url = spec.url.rstrip("/") + "/api/v1/query"
    try:
        answer = await get_json(spec.tls, url, timeout, {"query": spec.query})
    except FetchError as exc:
        return Outcome(None, str(exc))
    return value_of(answer)


def value_of(answer: Any) -> Outcome:
    """Given the JSON of an instant query, return its one value."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(answer, dict) and answer.get("status") == "error":
        said = str(answer.get("error", "")).splitlines()[:1]
        return Outcome(None, "Prometheus error" + (f": {said[0][:120]}" if said else ""))
    if not isinstance(data, dict) or answer.get("status") != "success":
        return Outcome(None, "not a successful Prometheus query answer")
    result = data.get("result")
    if data.get("resultType") == "scalar" and isinstance(result, list) and len(result) == 2:
        return number_of(result[1], "the query's value")
    if data.get("resultType") != "vector" or not isinstance(result, list):
        return Outcome(None, f"the query gave a {data.get('resultType')}, not a number")
    if len(result) != 1:
        return Outcome(None, f"the query gave {len(result)} series, not one (sum them?)")
    sample = result[0].get("value") if isinstance(result[0], dict) else None
    if not isinstance(sample, list) or len(sample) != 2:
        return Outcome(None, "the query's sample has no value")
    return number_of(sample[1], "the query's value")


TYPE = SourceType("prometheus", _spec, ("url", "query"),
                  {**WEB_FIELDS, "url": _server, "query": non_empty}, read, check_keys)

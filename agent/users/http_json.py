"""The http_json users source: a GET whose JSON answer holds the number at a dotted path
(`data.sessions`; a list item by its index, `sites.0.users`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.config.tree import Context, Node
from agent.config.values import non_empty
from agent.probes.http import HttpProbe
from agent.users.base import Outcome, SourceType, number_of
from agent.users.web import WEB_FIELDS, FetchError, check_keys, get_json, tls_of


@dataclass(frozen=True)
class HttpJsonSource:
    url: str
    path: tuple[str, ...]  # the keys (or list indexes) down to the number
    tls: HttpProbe  # TLS settings and headers, as an http probe's
    type: str = "http_json"


def _path(ctx: Context, node: Node) -> tuple[str, ...] | None:
    text = non_empty(ctx, node)
    if text is None:
        return None
    parts = tuple(text.split("."))
    if "" in parts:
        ctx.bad(node, 'expected a dotted path to a number, e.g. "data.sessions"')
        return None
    return parts


def _spec(**values: Any) -> HttpJsonSource:
    return HttpJsonSource(values["url"], values["path"], tls_of(values))


async def read(spec: HttpJsonSource, timeout: float) -> Outcome:
    try:
        answer = await get_json(spec.tls, spec.url, timeout)
    except FetchError as exc:
        return Outcome(None, str(exc))
    return find(answer, spec.path)


def find(answer: Any, path: tuple[str, ...]) -> Outcome:
    """Given a JSON answer and a path, return the number found there, or why there is none."""
    here = answer
    for depth, key in enumerate(path):
        if isinstance(here, dict) and key in here:
            here = here[key]
        elif isinstance(here, list) and key.isdigit() and int(key) < len(here):
            here = here[int(key)]
        else:
            return Outcome(None, f"no {'.'.join(path[:depth + 1])!r} in the answer")
    return number_of(here, repr(".".join(path)))


TYPE = SourceType("http_json", _spec, ("url", "path"), {**WEB_FIELDS, "path": _path}, read,
                  check_keys)

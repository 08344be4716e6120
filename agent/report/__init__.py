"""`outage-agent report`: what outages cost over a period, per system and in total.

`build_report` (pure) turns the ledger's windows into a `Report`; each format is a module with
one `render(report) -> str`, looked up in RENDERERS (and as pieces to write, in STREAMERS);
`source.read_report` reads the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from agent.report import csv, html, json, markdown
from agent.report.build import build_report
from agent.report.model import Report

RENDERERS: dict[str, Callable[[Report], str]] = {
    "md": markdown.render,
    "html": html.render,
    "csv": csv.render,
    "json": json.render,
}


def _whole(render: Callable[[Report], str]) -> Callable[[Report], Iterator[str]]:
    return lambda report: iter((render(report),))


# Each format as pieces to write as they are made: the CSV and JSON of a year list every
# window (tens of MB), the Markdown and HTML pages are summaries (agent.report.summary).
STREAMERS: dict[str, Callable[[Report], Iterator[str]]] = {
    "md": _whole(markdown.render),
    "html": _whole(html.render),
    "csv": csv.chunks,
    "json": json.chunks,
}

__all__ = ["RENDERERS", "STREAMERS", "Report", "build_report"]

"""`outage-agent report`: what outages cost over a period, per system and in total.

`build_report` (pure) turns the ledger's windows into a `Report`; each format is a module with
one `render(report) -> str`, looked up in RENDERERS; `source.read_report` reads the ledger.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.report import csv, html, json, markdown
from agent.report.build import build_report
from agent.report.model import Report

RENDERERS: dict[str, Callable[[Report], str]] = {
    "md": markdown.render,
    "html": html.render,
    "csv": csv.render,
    "json": json.render,
}

__all__ = ["RENDERERS", "Report", "build_report"]

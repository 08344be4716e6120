"""A report of a large estate: the JSON and CSV written a piece at a time are the documents
they were, and past summary.WINDOW_LIMIT windows the Markdown and HTML pages summarise and
say so (the module's limits shrunk here, so a small month stands for a year)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from report.test_formats import report  # noqa: F401 (the fixture: a small month of two systems)

from agent.report import STREAMERS, csv, html, markdown, summary
from agent.report import json as json_format


def test_the_streamed_json_is_the_text_of_one_json_dumps_of_the_document(report):  # noqa: F811
    shown, total = report.pennies(), report.total_pennies()
    lines = report.window_pennies()
    document = json.loads(json_format.render(report))
    document["systems"] = [
        {**json_format.system(s, shown[s.name]),
         "windows": [{**json_format.window(w, lines[w.id]), "evidence": json_format.evidence(w)}
                     for w in s.windows]}
        for s in report.systems]
    assert document["total_cost"] == total.cost
    assert "".join(STREAMERS["json"](report)) == json.dumps(document, indent=2,
                                                            ensure_ascii=False) + "\n"


def test_the_streamed_json_of_no_systems_is_an_empty_list(report):  # noqa: F811
    empty = dataclasses.replace(report, systems=(), groups=())
    assert json.loads(json_format.render(empty))["systems"] == []


def test_the_csv_comes_a_few_rows_at_a_time_and_joins_to_the_whole(report):  # noqa: F811
    pieces = list(csv.chunks(report, rows=1))
    assert len(pieces) == 1 + len(report.windows)  # each row as formatted, then the rest
    assert "".join(pieces) == csv.render(report)


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(summary, "WINDOW_LIMIT", 2)
    monkeypatch.setattr(summary, "TOP_SYSTEMS", 1)


def test_a_large_report_shows_the_costliest_systems_and_windows_and_says_so(
        report, small_limits):  # noqa: F811
    view = summary.shown(report)
    assert [s.name for s in view.systems] == ["email"]
    assert view.listed == {1, 3}  # email's two costliest of its three windows
    text = markdown.render(report)
    assert "This report summarises 4 windows of 2 systems" in text
    assert "lists the 2 costliest of their windows (£6,496.88 or more each)" in text
    assert "the other 1 systems cost £5,647.50 in all" in text
    assert "## Systems: the 1 that cost most" in text and "### finance" not in text
    assert "| 4 | " not in text  # window 4 (voided, £0) is left out of the list
    assert "### email" in text and "| 1 | " in text and "| 3 | " in text
    page = html.render(report)
    assert "This report summarises 4 windows of 2 systems" in page
    assert "<h3>finance</h3>" not in page


def test_a_summary_totals_each_supplier_rather_than_listing_its_systems(
        report, small_limits):  # noqa: F811
    text = markdown.render(report)
    assert "## By supplier\n\n| Supplier | Systems | SLA breached | Downtime |" in text
    assert "| Acme | 1 | 1 | " in text  # email breached its SLA


def test_a_report_of_one_system_lists_all_its_windows_however_many(
        report, small_limits):  # noqa: F811
    email = dataclasses.replace(report, systems=report.systems[:1])
    assert not summary.shown(email).summarised
    text = markdown.render(email)
    assert "summarises" not in text and "| 4 | " in text


def test_a_report_within_the_limit_is_not_summarised(report):  # noqa: F811
    assert not summary.shown(report).summarised
    assert "summarises" not in markdown.render(report)

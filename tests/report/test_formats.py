"""Each report format, field by field, on one small month read back from a real ledger.

The month (London, November 2026: 720 h, all GMT), with H = £25,000 / 1,924 h:
- email (users_share 0.5, SLA 99.9%, supplier Acme): live 3 Nov 09:00-10:30 (1.5 h x 1,000
  users = 1,500 H = £19,490.64, probes 30 s before its start and 15 s before its end);
  imported 20 Nov 09:00-09:30 (500 H = £6,496.88); 25 Nov 10:00-11:00 voided.
  Total 2,000 H = £25,987.53, 2 h down: 99.722% available, SLA breached.
- finance (users_share 0.2, £450 an hour direct, SLA 99.5%): 10 Nov 12:00-13:00: 400 H =
  £5,197.505 of staff time + £450 = £5,647.505; 99.861% available, SLA met.
Rounded so the staff column adds up to its total (£31,185.031 -> £31,185.03), the spare penny
goes to the larger remainder: email £25,987.53 (.526), finance £5,197.50 (.505).
Email's live window may have started 30 s sooner and ended 15 s sooner: at 1,000 users x H,
£108.28 and £54.14 either way of its £19,490.644. Its windows are rounded to add up to its
£25,987.53: £19,490.65 (.644, the larger remainder) and £6,496.88 (.8815).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.helpers import HOURLY, config, system
from support.ledgerparts import LONDON, at, store, window, write_config

from agent.ledger import Ledger
from agent.report import RENDERERS, build_report

NOV = (at("2026-11-01 00:00", LONDON), at("2026-12-01 00:00", LONDON))
AFTER = at("2027-01-01 00:00")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    ledger = Ledger(Path(tmp_path_factory.mktemp("formats")) / "ledger.db", site="shire-hall")
    ledger.open()
    try:
        store(
            ledger,
            window("email", at("2026-11-03 09:00"), at("2026-11-03 10:30"), share=0.5,
                   before_start=at("2026-11-03 08:59:30"), before_end=at("2026-11-03 10:29:45"),
                   cost=1500 * HOURLY),
            window("finance", at("2026-11-10 12:00"), at("2026-11-10 13:00"), share=0.2,
                   direct=450.0, cost=400 * HOURLY + 450),
            window("email", at("2026-11-20 09:00"), at("2026-11-20 09:30"), share=0.5,
                   source="imported", cost=500 * HOURLY),
            window("email", at("2026-11-25 10:00"), at("2026-11-25 11:00"), share=0.5,
                   cost=1000 * HOURLY),
        )
        ledger.annotate(4, {"voided": "probe misconfigured"}, "alice@desk", at("2026-12-01 09:00"))
        ledger.annotate(1, {"ticket": "INC-42"}, "bob@desk", at("2026-12-01 09:05"))
        windows = ledger.report_windows(*NOV)
        audit = ledger.audit_trail()
    finally:
        ledger.close()
    cfg = config(system("email", users_share=0.5, sla=0.999, supplier="Acme"),
                 system("finance", users_share=0.2, direct_cost_per_hour=450.0, sla=0.995),
                 timezone=LONDON)
    cfg = dataclasses.replace(cfg, cost=dataclasses.replace(cfg.cost, annual_cost_per_user=25000.0),
                              agent=dataclasses.replace(cfg.agent, site="shire-hall"))
    return build_report(windows, cfg, *NOV, AFTER, audit=audit)


def test_renderers_are_the_formats_the_cli_offers():
    from agent.cli import REPORT_FORMATS

    assert tuple(RENDERERS) == REPORT_FORMATS


def test_json_has_exactly_the_documented_fields(report):
    document = json.loads(RENDERERS["json"](report))
    windows = {s["system"]: s.pop("windows") for s in document["systems"]}
    assert {name: [w["id"] for w in found] for name, found in windows.items()} == {
        "email": [1, 3, 4], "finance": [2]}
    assert windows["email"][0] == {  # the CSV's first row, with numbers and nulls
        "id": 1, "system": "email", "state": "down", "cause": None,
        "start": "2026-11-03T09:00:00.000Z", "end": "2026-11-03T10:30:00.000Z",
        "downtime_seconds": 5400.0, "staff_cost": 19490.65, "direct_cost": 0.0,
        "cost": 19490.65, "recorded_cost": 19490.64, "uncertainty_seconds": 45.0,
        "source": "live", "voided_reason": None, "ticket": "INC-42", "note": None, "reason": "",
        "cost_low": 19436.50, "cost_high": 19598.93,
        "evidence": [],  # a service's members' windows, a heartbeat's pings: none here
    }
    assert document == {
        "site": "shire-hall",
        "from": "2026-11-01T00:00:00.000Z", "to": "2026-12-01T00:00:00.000Z",
        "currency": "GBP", "total_cost": 31635.03, "total_cost_low": 31580.89,
        "total_cost_high": 31743.31, "total_downtime_seconds": 10800.0, "basis": "recorded",
        "measured_share": None,  # no users source: every figure from the schedule
        "systems": [
            {"system": "email", "incidents": 2, "downtime_seconds": 7200.0,
             "availability": 0.997222, "cost": 25987.53, "cost_low": 25933.39,
             "cost_high": 26095.81, "staff_cost": 25987.53, "direct_cost": 0.0,
             "sla_met": False},
            {"system": "finance", "incidents": 1, "downtime_seconds": 3600.0,
             "availability": 0.998611, "cost": 5647.50, "cost_low": 5647.50,
             "cost_high": 5647.51, "staff_cost": 5197.50, "direct_cost": 450.0,
             "sla_met": True},
        ],
    }


def test_csv_has_one_row_per_window(report):
    rows = list(csv.DictReader(io.StringIO(RENDERERS["csv"](report))))
    assert [(r["id"], r["system"], r["source"], r["cost"]) for r in rows] == [
        ("1", "email", "live", "19490.65"), ("2", "finance", "live", "5647.5"),
        ("3", "email", "imported", "6496.88"), ("4", "email", "live", "0.0"),
    ]
    assert rows[0] == {
        "id": "1", "system": "email", "state": "down", "cause": "",
        "start": "2026-11-03T09:00:00.000Z", "end": "2026-11-03T10:30:00.000Z",
        "downtime_seconds": "5400.0", "staff_cost": "19490.65", "direct_cost": "0.0",
        "cost": "19490.65", "recorded_cost": "19490.64", "uncertainty_seconds": "45.0",
        "source": "live", "voided_reason": "", "ticket": "INC-42", "note": "", "reason": "",
        "cost_low": "19436.5", "cost_high": "19598.93",
    }
    assert (rows[3]["voided_reason"], rows[3]["recorded_cost"]) == ("probe misconfigured",
                                                                    "12993.76")


def test_csv_cells_are_never_spreadsheet_formulas():
    from agent.report.csv import text

    assert text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert text("power cut") == "power cut"


def test_markdown_states_the_estimate_the_derivation_and_each_system(report):
    md = RENDERERS["md"](report)
    assert md.startswith("# Outage report at shire-hall: 2026-11-01 to 2026-11-30\n")
    assert "estimate of productivity cost" in md
    assert ("| Hourly cost of a full outage | 2,000 users \N{MULTIPLICATION SIGN} £25,000 a "
            "year ÷ 1,924 working hours = £25,987.53 per hour |") in md
    assert "| Estimated cost | £31,635.03 (staff time £31,185.03, direct costs £450.00) |" in md
    assert "| Range | £31,580.89 to £31,743.31, as the probe times allow" in md
    assert ("| email | 2 | 2h ± 45s | 99.722% | n/a | £25,987.53 | £0.00 | £25,987.53 | "
            "99.9%: BREACHED (allowed 43m 12s, actual 2h) |") in md
    assert ("| finance | 1 | 1h | 99.861% | n/a | £5,197.50 | £450.00 | £5,647.50 | "
            "99.5%: met (allowed 3h 36m, actual 1h) |") in md
    assert "### Supplier: Acme" in md
    assert "| email | 99.9% | 43m 12s | 2h ± 45s | 99.722% | **BREACHED** | £25,987.53 |" in md
    assert "- Downtime 1h in 1 incident; availability 99.861% 24x7" in md
    assert "No planned maintenance fell in this range." in md


def test_markdown_strikes_out_a_voided_window_and_lists_the_audit_trail(report):
    md = RENDERERS["md"](report)
    # Struck out: what was recorded (1 h, 1,000 H = £12,993.76), which now counts for nothing.
    assert ("| ~~4~~ | ~~2026-11-25 10:00 GMT~~ | ~~2026-11-25 11:00 GMT~~ | ~~down~~ |  | "
            "~~1h~~ | ~~£12,993.76~~ | VOIDED: probe misconfigured |") in md
    assert "| imported |" in md  # the imported window's notes
    assert ("| 2026-12-01 09:00 GMT | alice@desk | 4 | email | voided | (none) | "
            "probe misconfigured |") in md
    assert "| 2026-12-01 09:05 GMT | bob@desk | 1 | email | ticket | (none) | INC-42 |" in md


def test_html_is_one_self_contained_printable_file_with_svg_charts(report):
    page = RENDERERS["html"](report)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3  # cost per day, downtime by system, timeline
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "@media print" in page
    assert "<tr class=voided>" in page and "VOIDED: probe misconfigured" in page
    assert "£25,987.53 per hour" in page
    assert "estimate of productivity cost" in page


def test_html_table_cells_are_escaped_unless_they_are_markup():
    from markupsafe import Markup

    from agent.report.html import table

    assert table(("a<b", "n"), [["<i>x</i> & y", Markup("<b>kept</b>")], [7, None]],
                 numeric=(1,), classes=("voided",)) == (
        "<table><thead><tr><th>a&lt;b</th><th class=n>n</th></tr></thead><tbody>"
        "<tr class=voided><td>&lt;i&gt;x&lt;/i&gt; &amp; y</td><td class=n><b>kept</b></td></tr>"
        "<tr><td>7</td><td class=n>None</td></tr></tbody></table>")


def test_the_report_command_prints_or_writes_each_format(tmp_path, capsys):
    from agent.cli import main

    path = write_config(tmp_path, '- name: email\n  probe: {type: tcp, target: "127.0.0.1:9"}\n'
                                  "  users_share: 0.5\n", timezone=LONDON)
    base = ["report", "-c", str(path), "--from", "2026-11-01", "--to", "2026-12-01"]
    assert main(base) == 1  # no ledger yet
    assert "no ledger at" in capsys.readouterr().err
    ledger = Ledger(tmp_path / "ledger.db", site="shire-hall")
    ledger.open()
    store(ledger, window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00"), share=0.5))
    ledger.close()
    assert main([*base, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["from"], document["total_cost"]) == ("2026-11-01T00:00:00.000Z",
                                                           round(1000 * HOURLY, 2))
    assert main([*base, "--format", "html", "-o", str(tmp_path / "november.html")]) == 0
    assert (tmp_path / "november.html").read_text().startswith("<!DOCTYPE html>")
    assert main([*base, "--system", "email", "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") == 3  # the -o message, the header, one window
    assert main([*base, "--system", "payroll"]) == 2
    assert main([*base[:4], "2026-12-01", "--to", "2026-11-01"]) == 2
    assert main([*base[:4], "November", "--to", "2026-12-01"]) == 2
    err = capsys.readouterr().err
    assert "no system named 'payroll'" in err and "--to must be after --from" in err
    assert "not an ISO 8601 date or time: 'November'" in err


# Free text a person or a target supplies, each a way to smuggle markup into a report.
HOSTILE = {
    "description": "<img src=x onerror=alert(1)> [docs](javascript:alert(1))",
    "owner": "<script>alert(2)</script>",
    "supplier": "![logo](javascript:alert(3)) & co",
    "tier": "JavaScript :alert(4)",
    "reason": "HTTP 503 <b>down</b> see <javascript:alert(5)>",
    "note": "[x]: javascript:alert(6)\n\\[still](javascript:alert(7))",
    "ticket": "<a href='javascript:alert(8)'>INC-1</a>",
    "voided": "vbscript:msgbox(9) | <iframe>",
    "who": "<svg onload=alert(10)>",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    """A report whose every piece of user-supplied text is markup: the system's description,
    owner, supplier and tier, a window's reason, note, ticket and void reason, and the audit
    trail's who, before and after."""
    ledger = Ledger(Path(tmp_path_factory.mktemp("hostile")) / "ledger.db", site="shire-hall")
    ledger.open()
    try:
        first = window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00"), cost=HOURLY)
        store(ledger, dataclasses.replace(first, reason=HOSTILE["reason"]),
              window("email", at("2026-11-04 09:00"), at("2026-11-04 10:00"), cost=HOURLY))
        when = at("2026-12-01 09:00")
        ledger.annotate(1, {"note": "<i>first</i>"}, HOSTILE["who"], when)
        ledger.annotate(1, {"note": HOSTILE["note"], "ticket": HOSTILE["ticket"]},
                        HOSTILE["who"], when + 60)
        ledger.annotate(2, {"voided": HOSTILE["voided"]}, HOSTILE["who"], when + 120)
        windows, audit = ledger.report_windows(*NOV), ledger.audit_trail()
    finally:
        ledger.close()
    labels = {key: HOSTILE[key] for key in ("description", "owner", "supplier", "tier")}
    cfg = config(system("email", users_share=0.5, **labels), timezone=LONDON)
    return build_report(windows, cfg, *NOV, AFTER, audit=audit)


@pytest.mark.fault("raw HTML, [text](javascript:...) links and bare javascript: in "
                   "descriptions, owners, suppliers, tiers, notes, tickets, reasons and the "
                   "audit trail", "shown as text in a Markdown report: <, > and & as "
                   "entities, link brackets and the scheme's colon escaped", area="Security")
def test_markdown_shows_user_supplied_markup_as_inert_text(hostile):
    md = RENDERERS["md"](hostile)
    assert "<" not in md.replace("<br>", "")  # no HTML at all: the report writes none
    assert not re.search(r"(?i)(?:java|vb)script\s*:", md)  # every such colon is escaped
    assert not re.search(r"(?<!\\)[\[\]]", md)  # no bracket left to open a link or an image
    for text in ("&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(2)",
                 "!\\[logo\\](javascript\\:alert(3)) &amp; co", "JavaScript \\:alert(4)",
                 "&lt;b&gt;down&lt;/b&gt;", "\\[x\\]: javascript\\:alert(6)",
                 "\\\\\\[still\\]", "&lt;a href='javascript\\:alert(8)'&gt;INC-1",
                 "vbscript\\:msgbox(9) \\| &lt;iframe&gt;", "&lt;svg onload=alert(10)&gt;",
                 "&lt;i&gt;first&lt;/i&gt;"):
        assert text in md


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.fault("the same markup in an HTML report", "escaped: shown as text, never "
                   "run or linked", area="Security")
def test_html_escapes_the_same_user_supplied_markup(hostile):
    page = RENDERERS["html"](hostile)
    parser = _Elements()
    parser.feed(page)
    tags = {tag for tag, _ in parser.found}
    assert not tags & {"img", "script", "a", "b", "i", "iframe"}
    attributes = {name for _, attrs in parser.found for name, _ in attrs}
    assert not {name for name in attributes if name in ("href", "src") or name.startswith("on")}
    for text in ("&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(2)",
                 "![logo](javascript:alert(3)) &amp; co", "&lt;svg onload=alert(10)&gt;",
                 "&lt;a href=&#39;javascript:alert(8)&#39;&gt;INC-1", "&lt;i&gt;first"):
        assert text in page

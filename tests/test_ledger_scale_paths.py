"""The paths issue 20 made fast, checked by behaviour (speed is measured only in
benchmarks/): streamed JSON and CSV are the documents they were, imports written a chunk at
a time stay all-or-nothing, windows read as tuples are the windows read by name, a report
that skips the audit trail differs only where it is shown, and `/api/v1/outages` pages add
up to the plain list."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ledgerparts import LONDON, at, write_config

from agent import export
from agent.cli.report import REPORT_FORMATS, SHOWS_CHANGES
from agent.config import load_config
from agent.importer import import_file
from agent.ledger import Ledger, edits
from agent.ledger.reads import overlapping
from agent.ledger.rows import stored_window
from agent.report import STREAMERS
from agent.report.source import read_report
from agent.web import pages
from agent.web.query import BadRequest

ROWS = [
    {"id": 1, "system": "email", "cost": 12.5, "note": None, "ticket": "INC-1"},
    {"id": 2, "system": "fïnance", "cost": 0.1, "note": 'say "hi", \\ ok\n', "ticket": ""},
    {"id": -3, "system": "network", "cost": 1e-07, "note": "£ - ü", "ticket": None},
]


def counting(rows: list[dict[str, Any]], seen: list[int]) -> Iterator[dict[str, Any]]:
    for row in rows:
        seen.append(row["id"])
        yield row


@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []], ids=["three", "one", "none"])
def test_an_exported_json_array_is_the_text_json_dumps_gives(rows):
    assert "".join(export._json_list(iter(rows), 0)) == json.dumps(rows, indent=1,
                                                                     ensure_ascii=False)
    both = {"windows": rows, "audit": rows[::-1]}
    assert "".join(export._json_object({k: iter(v) for k, v in both.items()})) == json.dumps(
        both, indent=1, ensure_ascii=False)


def test_an_export_writes_its_first_rows_before_it_has_read_the_rest():
    seen: list[int] = []
    pieces = export._json_list(counting(ROWS, seen), 0)
    assert next(pieces) == "["
    assert next(pieces).startswith('\n {\n  "id": 1,')
    assert seen == [1]  # the second row is not yet formatted


def test_an_exported_csv_comes_in_batches_that_join_to_one_table():
    seen: list[int] = []
    pieces = export._csv(counting(ROWS, seen), list(ROWS[0]), batch=2)
    first = next(pieces)
    assert seen == [1, 2] and first.count("\r\n") == 3  # the header and two rows
    text = first + "".join(pieces)
    assert [row["id"] for row in csv.DictReader(io.StringIO(text))] == ["1", "2", "-3"]


# --- imports, written a chunk at a time -----------------------------------------------------

SYSTEMS = """\
- name: email
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.5
"""
FILE = "system,start,end,note\n" + "".join(
    f"email,2026-11-{day:02d} 09:00,2026-11-{day:02d} 10:00,day {day}\n" for day in range(1, 6))


@pytest.fixture
def cfg(tmp_path: Path):
    return load_config(write_config(tmp_path, SYSTEMS, ledger=str(tmp_path / "ledger.db"),
                                    timezone=LONDON))


def test_each_window_written_in_chunks_has_its_own_audit_row(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(edits, "IMPORT_CHUNK", 2)
    path = tmp_path / "windows.csv"
    path.write_text(FILE)
    assert import_file(cfg, path, "alice@desk", at("2027-01-01 00:00")).stored == 5
    ledger = Ledger(cfg.agent.ledger, cfg.agent.site)
    notes = {w.id: w.annotations.note for w in ledger.report_windows(0.0, 4e9)}
    trail = {e.window_id: e.after for e in ledger.audit_trail() if e.field == "imported"}
    assert sorted(notes.values()) == [f"day {d}" for d in range(1, 6)]
    assert {wid: trail[wid] for wid in notes} == {
        wid: f"windows.csv line {int(note.split()[1]) + 1}" for wid, note in notes.items()}


@pytest.mark.fault("the write fails after the first chunk is in", "nothing is imported")
def test_a_failure_after_a_chunk_was_written_leaves_nothing(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(edits, "IMPORT_CHUNK", 2)
    real, calls = edits.audit_row, []

    def failing(site, entry):  # the second chunk's audit rows cannot be written
        calls.append(entry)
        if len(calls) > 2:
            raise OSError("disk full")
        return real(site, entry)

    monkeypatch.setattr(edits, "audit_row", failing)
    path = tmp_path / "windows.csv"
    path.write_text(FILE)
    with pytest.raises(OSError):
        import_file(cfg, path, "alice@desk", at("2027-01-01 00:00"))
    assert Ledger(cfg.agent.ledger, cfg.agent.site).report_windows(0.0, 4e9) == []


def test_windows_read_as_tuples_are_the_windows_read_by_column_name(cfg, tmp_path):
    path = tmp_path / "windows.csv"
    path.write_text(FILE)
    import_file(cfg, path, "alice@desk", at("2027-01-01 00:00"))
    ledger = Ledger(cfg.agent.ledger, cfg.agent.site)
    ledger.annotate(1, {"voided": "a test", "cause": "network"}, "bob", at("2027-01-02 00:00"))
    with ledger.engine.connect() as conn:
        by_name = [stored_window(row) for row in conn.execute(
            overlapping(cfg.agent.site, 0.0, 4e9)).mappings()]
    assert len(by_name) == 5 and by_name[0].annotations.voided_reason == "a test"
    assert ledger.report_windows(0.0, 4e9) == by_name


def test_json_and_csv_reports_are_the_same_without_reading_the_audit_trail(cfg, tmp_path):
    path = tmp_path / "windows.csv"
    path.write_text(FILE)
    import_file(cfg, path, "alice@desk", at("2027-01-01 00:00"))
    span = (at("2026-11-01 00:00"), at("2026-12-01 00:00"), at("2026-12-01 00:00"))
    full, bare = read_report(cfg, *span), read_report(cfg, *span, audit=False)
    assert full.changes and not bare.changes
    for fmt in REPORT_FORMATS:
        same = "".join(STREAMERS[fmt](full)) == "".join(STREAMERS[fmt](bare))
        assert same is (fmt not in SHOWS_CHANGES), fmt


# --- pages of /api/v1/outages ---------------------------------------------------------------


def listing(n: int) -> tuple[list[dict[str, Any]], list[pages.Place]]:
    places = sorted((1000.0 + (k // 3) * 0.25, k) for k in range(n))  # equal starts too
    return [{"id": wid} for _, wid in places], places


@pytest.mark.parametrize("limit", [1, 4, 7, 30])
def test_pages_followed_by_their_cursors_add_up_to_the_plain_list(limit):
    rows, places = listing(29)
    found, after = [], None
    while True:
        chosen, cursor = pages.page(rows, places, after, limit)
        found += chosen
        if cursor is None:
            break
        after = pages.parse_cursor(cursor)
    assert found == rows


def test_a_cursor_still_points_at_its_place_when_a_window_is_added_before_it():
    rows, places = listing(10)
    _, cursor = pages.page(rows, places, None, 4)
    assert cursor is not None
    second, _ = pages.page(rows, places, pages.parse_cursor(cursor), 4)
    places.insert(0, (10.0, 99))  # an older window recorded since: an import, say
    rows.insert(0, {"id": 99})
    assert pages.page(rows, places, pages.parse_cursor(cursor), 4)[0] == second


@pytest.mark.parametrize("text", ["0", "10001", "-1", "1.5", "", "٣"])
def test_a_limit_outside_1_to_10000_is_refused(text):
    with pytest.raises(BadRequest, match="limit"):
        pages.parse_limit(text)


@pytest.mark.parametrize("text", ["abc", "1_", "1.5", "nan_1", "1e9_2"])
def test_a_cursor_the_api_did_not_give_is_refused(text):
    with pytest.raises(BadRequest, match="cursor"):
        pages.parse_cursor(text)


async def test_the_api_pages_with_a_link_header_and_add_up_to_the_plain_list(tmp_path):
    import datetime as dt

    from aiohttp.test_utils import TestClient, TestServer
    from support.helpers import config, system
    from test_web_api import window

    from agent.daemon import Agent
    from agent.records import Batch
    from agent.web.server import make_app

    now = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC).timestamp()
    agent = Agent(config(system("db"), ledger=tmp_path / "ledger.db"), clock=lambda: now)
    await agent.start()
    assert agent.probing is not None
    agent.probing.pause()
    await agent.ledger.commit(Batch(windows=[
        window("down", now - 86400 + k * 600, now - 86400 + k * 600 + 300) for k in range(9)]))
    try:
        async with TestClient(TestServer(make_app(agent))) as client:
            asked = "/api/v1/outages?from=2026-06-01&to=2026-06-11"
            plain = await (await client.get(asked)).json()
            url, found, links = asked + "&limit=4", [], 0
            while url:
                response = await client.get(url)
                assert response.status == 200
                found += await response.json()
                link = response.headers.get("Link")
                url = link[1:link.index(">")] if link else ""
                links += bool(link)
            bad = await client.get("/api/v1/outages?cursor=1.0_1")
    finally:
        await agent.stop()
    assert len(plain) == 9 and found == plain and links == 2
    assert bad.status == 400

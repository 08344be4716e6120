"""`outage-agent import` into a real ledger file: costing, idempotence, merging, refusal.

H is £25,000 / 1,924 h; email has users_share 0.5 of 2,000 users, so it costs 1,000 H an hour.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.helpers import HOURLY
from support.ledgerparts import LONDON, at, store, untouched, window, write_config

from agent.cli import main
from agent.config import load_config
from agent.importer import ImportRefused, import_file
from agent.ledger import Ledger
from agent.report import build_report

H = HOURLY
SYSTEMS = """\
- name: email
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.5
- name: network
  probe: {type: tcp, target: "127.0.0.1:9"}
- name: finance
  depends_on: [network]
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.2
  direct_cost_per_hour: 450
"""
NOW = at("2027-01-01 00:00")
WHO = "alice@desk"


@pytest.fixture
def cfg(tmp_path: Path, ledger_location: str):
    return load_config(write_config(tmp_path, SYSTEMS, ledger=ledger_location, timezone=LONDON))


def csv_file(tmp_path: Path, text: str, name: str = "windows.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ledger_of(cfg) -> Ledger:
    return Ledger(cfg.agent.ledger, cfg.agent.site)


def windows(cfg):
    return [w.record for w in ledger_of(cfg).report_windows(0.0, 4e9)]


def test_imported_windows_are_costed_and_marked_imported(cfg, tmp_path):
    path = csv_file(tmp_path, "system,start,end,note,ticket\n"
                              "email,2026-11-03T09:00,2026-11-03T10:30,mail store,INC-7\n")
    result = import_file(cfg, path, WHO, NOW)
    assert (result.rows, result.stored) == (1, 1)
    [stored] = ledger_of(cfg).report_windows(0.0, 4e9)
    record = stored.record
    assert (record.source, record.state, record.start, record.end) == (
        "imported", "down", at("2026-11-03 09:00"), at("2026-11-03 10:30"))
    # 1.5 h x 2,000 users x 0.5 x H, with the basis it was costed with.
    assert record.amounts.cost == pytest.approx(1500 * H)
    assert (record.basis.users_share, record.basis.impact, record.basis.users_at_start) == (
        0.5, 1.0, 2000.0)
    assert (stored.annotations.note, stored.annotations.ticket) == ("mail store", "INC-7")
    assert ledger_of(cfg).totals() == {}  # the live counters resume from live windows only
    [entry] = ledger_of(cfg).audit_trail()
    assert (entry.who, entry.field, entry.after) == (WHO, "imported", "windows.csv line 2")


def test_importing_the_same_file_twice_stores_each_window_once(cfg, tmp_path):
    path = csv_file(tmp_path, "system,start,end\n"
                              "email,2026-11-03T09:00,2026-11-03T10:30\n"
                              "finance,2026-11-04T09:00,2026-11-04T10:00\n")
    import_file(cfg, path, WHO, NOW)
    again = import_file(cfg, path, WHO, NOW)
    assert (again.stored, again.unchanged) == (0, 2)
    assert len(windows(cfg)) == 2
    assert len(ledger_of(cfg).audit_trail()) == 2
    assert "already recorded as #1, unchanged" in again.lines[0]


def test_overlapping_windows_merge_into_their_union_costed_once(cfg, tmp_path):
    import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                        "email,2026-11-03T09:00,2026-11-03T10:00\n"), WHO, NOW)
    later = csv_file(tmp_path, "system,start,end\n"
                               "email,2026-11-03T09:30,2026-11-03T10:30\n"
                               "email,2026-11-03T10:15,2026-11-03T11:00\n", "later.csv")
    result = import_file(cfg, later, WHO, NOW)
    [record] = windows(cfg)
    # 09:00-10:00, 09:30-10:30 and 10:15-11:00 are one window, 09:00-11:00: 2 h x 1,000 H.
    assert (record.start, record.end) == (at("2026-11-03 09:00"), at("2026-11-03 11:00"))
    assert record.amounts.cost == pytest.approx(2000 * H)
    assert result.lines == [
        "email 2026-11-03 09:00 GMT to 2026-11-03 11:00 GMT: lines 2, 3 overlap and are "
        "merged; merged with imported #1"]
    span = [e for e in ledger_of(cfg).audit_trail() if e.field == "span"]
    assert [(e.window_id, e.before, e.after) for e in span] == [
        (1, "2026-11-03T09:00:00.000Z/2026-11-03T10:00:00.000Z",
         "2026-11-03T09:00:00.000Z/2026-11-03T11:00:00.000Z")]


def test_a_window_bridging_two_imported_ones_merges_all_three(cfg, tmp_path):
    import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                        "email,2026-11-03T09:00,2026-11-03T10:00\n"
                                        "email,2026-11-03T11:00,2026-11-03T12:00\n"), WHO, NOW)
    import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                        "email,2026-11-03T09:30,2026-11-03T11:30\n", "b.csv"),
                WHO, NOW)
    [record] = windows(cfg)
    assert (record.start, record.end) == (at("2026-11-03 09:00"), at("2026-11-03 12:00"))
    merged = [e for e in ledger_of(cfg).audit_trail() if e.field == "merged"]
    assert [(e.window_id, e.before) for e in merged] == [
        (1, "#2 2026-11-03T11:00:00.000Z/2026-11-03T12:00:00.000Z")]


def test_a_live_window_keeps_its_figures_and_only_the_rest_is_imported(cfg, tmp_path):
    ledger = Ledger(cfg.agent.ledger, cfg.agent.site)
    ledger.open()
    try:
        [live] = store(ledger, window("email", at("2026-11-03 10:00"), at("2026-11-03 11:00"),
                                      share=0.5, cost=1000 * H))
    finally:
        ledger.close()
    path = csv_file(tmp_path, "system,start,end\nemail,2026-11-03T09:30,2026-11-03T11:30\n")
    result = import_file(cfg, path, WHO, NOW)
    assert result.lines == [
        "email 2026-11-03 09:30 GMT to 2026-11-03 11:30 GMT: line 2; overlaps live window #1 "
        "(2026-11-03 10:00 GMT to 2026-11-03 11:00 GMT), which keeps its own figures: only "
        "2026-11-03 09:30 GMT to 2026-11-03 10:00 GMT, 2026-11-03 11:00 GMT to "
        "2026-11-03 11:30 GMT imported"]
    first, kept, last = ledger_of(cfg).report_windows(0.0, 4e9)
    assert kept == live
    assert [(w.record.source, w.record.start, w.record.end, w.record.amounts.cost)
            for w in (first, last)] == [
        ("imported", at("2026-11-03 09:30"), at("2026-11-03 10:00"), pytest.approx(500 * H)),
        ("imported", at("2026-11-03 11:00"), at("2026-11-03 11:30"), pytest.approx(500 * H)),
    ]
    assert ledger_of(cfg).totals()["email"].amounts.cost == pytest.approx(1000 * H)
    # The union, 09:30-11:30, is costed once: 2 h x 1,000 H.
    report = build_report(ledger_of(cfg).report_windows(0.0, 4e9), cfg, at("2026-11-01 00:00"),
                          at("2026-12-01 00:00"), NOW)
    assert report.cost == pytest.approx(2000 * H)
    assert report.systems[0].incidents == 1
    assert import_file(cfg, path, WHO, NOW).unchanged == 1


def test_a_window_inside_a_live_one_has_nothing_to_import(cfg, tmp_path):
    ledger = Ledger(cfg.agent.ledger, cfg.agent.site)
    ledger.open()
    try:
        store(ledger, window("email", at("2026-11-03 09:00"), None, share=0.5))  # still open
    finally:
        ledger.close()
    path = csv_file(tmp_path, "system,start,end\nemail,2026-11-03T10:00,2026-11-03T11:00\n")
    result = import_file(cfg, path, WHO, NOW)
    assert (result.stored, result.covered) == (0, 1)
    assert result.lines[0].endswith("nothing left to import")
    assert len(windows(cfg)) == 1


def test_a_root_cause_leaves_only_direct_costs(cfg, tmp_path):
    path = csv_file(tmp_path, "system,start,end,cause\n"
                              "network,2026-11-04T08:00,2026-11-04T12:00,\n"
                              "finance,2026-11-04T09:00,2026-11-04T11:00,network\n")
    import_file(cfg, path, WHO, NOW)
    network, finance = windows(cfg)
    assert (finance.cause, finance.amounts.staff, finance.amounts.direct) == ("network", 0.0,
                                                                            900.0)
    # network takes everyone's time for 4 h; finance's users are among them
    assert network.amounts.staff == pytest.approx(4 * 2000 * H)


def test_a_cause_that_was_not_down_over_the_whole_window_is_refused(cfg, tmp_path):
    # Issue 13, case 5: a cause with no window made the email outage's money vanish.
    path = csv_file(tmp_path, "system,start,end,cause\n"
                              "network,2026-11-04T09:30,2026-11-04T10:00,\n"
                              "finance,2026-11-04T09:00,2026-11-04T11:00,network\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(cfg, path, WHO, NOW)
    assert refused.value.problems == [
        "windows.csv:3: cause (column 4): 'network' was not down over the whole window: "
        "nothing recorded or imported from 2026-11-04 09:00:00 GMT to 2026-11-04 09:30:00 GMT "
        "(import its window too, or leave the cause empty)",
    ]
    assert windows(cfg) == []


def test_a_cause_that_is_not_a_dependency_is_refused(cfg, tmp_path):
    path = csv_file(tmp_path, "system,start,end,cause\n"
                              "email,2026-11-04T09:00,2026-11-04T10:00,network\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(cfg, path, WHO, NOW)
    assert refused.value.problems == [
        "windows.csv:2: cause (column 4): 'network' is not a dependency of 'email', directly "
        "or through others (its depends_on: none)",
    ]


def test_without_a_cause_depends_on_and_the_dependency_s_windows_decide_it(cfg, tmp_path):
    # Issue 13, case 5: finance depends on network; network was down 10:00-11:00, so that
    # hour of finance's outage is behind network, as live; the rest is finance's own.
    path = csv_file(tmp_path, "system,start,end\n"
                              "network,2026-11-04T10:00,2026-11-04T11:00\n"
                              "finance,2026-11-04T09:00,2026-11-04T12:00\n")
    import_file(cfg, path, WHO, NOW)
    found = sorted(windows(cfg), key=lambda r: (r.system, r.start))
    assert [(r.system, r.start, r.end, r.cause) for r in found] == [
        ("finance", at("2026-11-04 09:00"), at("2026-11-04 10:00"), None),
        ("finance", at("2026-11-04 10:00"), at("2026-11-04 11:00"), "network"),
        ("finance", at("2026-11-04 11:00"), at("2026-11-04 12:00"), None),
        ("network", at("2026-11-04 10:00"), at("2026-11-04 11:00"), None),
    ]
    assert [r.new_incident for r in found] == [True, False, False, True]
    # finance alone: 0.2 of 2,000 people for 2 h; network: all of them for 1 h, finance's
    # users included (1 - 0 x 0.8 = 1)
    assert sum(r.amounts.staff for r in found if r.system == "finance") == pytest.approx(
        2 * 400 * H)
    assert found[3].amounts.staff == pytest.approx(2000 * H)
    assert sum(r.amounts.direct for r in found) == pytest.approx(3 * 450)


def test_state_and_impact_columns_override_the_configured_impact(cfg, tmp_path):
    path = csv_file(tmp_path, "system,start,end,state,impact\n"
                              "email,2026-11-04T09:00,2026-11-04T10:00,degraded,0.25\n")
    import_file(cfg, path, WHO, NOW)
    [record] = windows(cfg)
    # 1 h x 1,000 users x 0.25 = 250 H; degraded is not downtime.
    assert (record.state, record.basis.impact) == ("degraded", 0.25)
    assert record.amounts.cost == pytest.approx(250 * H)
    assert (record.amounts.downtime, record.amounts.degraded) == (0.0, 3600.0)


# --- naive times are wall-clock times in cost.timezone --------------------------------------------


@pytest.mark.parametrize(("start", "end", "real_start", "hours"), [
    # 25 October 2026: 02:00 BST becomes 01:00 GMT, so 00:30 to 03:00 lasts 3.5 h.
    ("2026-10-25T00:30", "2026-10-25T03:00", "2026-10-24 23:30", 3.5),
    # 29 March 2026: 01:00 GMT becomes 02:00 BST, so 00:30 to 03:00 lasts 1.5 h.
    ("2026-03-29T00:30", "2026-03-29T03:00", "2026-03-29 00:30", 1.5),
    # An explicit offset is taken as given.
    ("2026-10-25T01:30+00:00", "2026-10-25T02:30Z", "2026-10-25 01:30", 1.0),
])
def test_naive_times_are_read_in_the_cost_timezone_across_dst(cfg, tmp_path, start, end,
                                                              real_start, hours):
    import_file(cfg, csv_file(tmp_path, f"system,start,end\nemail,{start},{end}\n"), WHO, NOW)
    [record] = windows(cfg)
    assert record.start == at(real_start)  # UTC
    assert record.end - record.start == hours * 3600
    assert record.amounts.cost == pytest.approx(hours * 1000 * H)


def test_a_time_the_clocks_skipped_is_refused(cfg, tmp_path):
    path = csv_file(tmp_path, "system,start,end\nemail,2026-03-29T01:30,2026-03-29T03:00\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(cfg, path, WHO, NOW)
    assert refused.value.problems == [
        "windows.csv:2: start (column 2): 2026-03-29T01:30 did not happen in Europe/London: "
        "the clocks went forward"]


# --- a bad file is refused whole ----------------------------------------------------------------


BAD = """\
system,start,end,impact
email,2026-11-03T09:00,2026-11-03T10:00,0.5
emial,2026-11-03T09:00,2026-11-03T10:00,
email,yesterday,2026-11-03T10:00,
email,2026-11-03T11:00,2026-11-03T10:00,
email,2026-11-03T09:00,2026-11-03T10:00,2
email,2026-11-03T09:00
email,2026-11-03T09:00,2099-01-01T00:00,
"""


def test_a_bad_file_is_refused_whole_naming_line_and_column(cfg, tmp_path):
    with pytest.raises(ImportRefused) as refused:
        import_file(cfg, csv_file(tmp_path, BAD), WHO, NOW)
    assert refused.value.problems == [
        "windows.csv:3: system (column 1): no system named 'emial' in the configuration; "
        "did you mean 'email'?",
        "windows.csv:4: start (column 2): not an ISO 8601 date or time: 'yesterday' "
        "(e.g. 2026-11-03 or 2026-11-03T09:30)",
        "windows.csv:5: end (column 3): must be after start (2026-11-03T11:00)",
        "windows.csv:6: impact (column 4): expected a number from 0 to 1, got '2'",
        "windows.csv:7: expected 4 fields (system,start,end,impact), got 2",
        "windows.csv:8: end (column 3): is in the future: only past windows can be imported",
    ]
    assert untouched(cfg.agent.ledger)  # nothing written, not even an empty ledger


def test_a_bad_header_is_refused(cfg, tmp_path):
    path = csv_file(tmp_path, "sytem,start,end,start\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(cfg, path, WHO, NOW)
    assert refused.value.problems == [
        "windows.csv:1: column 1 'sytem': unknown column (known: system, start, end, state, "
        "cause, impact, note, ticket); did you mean 'system'?",
        "windows.csv:1: column 4 'start': given twice",
        "windows.csv:1: missing column 'system'"]


def test_the_cli_refuses_a_bad_file_with_exit_2_and_writes_nothing(cfg, tmp_path, capsys):
    import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                        "email,2026-11-03T09:00,2026-11-03T10:00\n", "ok.csv"),
                WHO, NOW)
    before = windows(cfg)
    code = main(["import", "-c", str(tmp_path / "config.yaml"), str(csv_file(tmp_path, BAD))])
    err = capsys.readouterr().err
    assert code == 2
    assert "windows.csv:3: system (column 1)" in err
    assert err.rstrip().endswith("refused; nothing was imported")
    assert windows(cfg) == before


@pytest.mark.parametrize(("start", "end", "problems"), [
    pytest.param("0001-01-01 00:00", "0001-01-01 10:00", [
        "start (column 2): 0001-01-01 00:00 is out of range: times run from 1970-01-01 to "
        "2100-01-01 UTC",
        "end (column 3): 0001-01-01 10:00 is out of range: times run from 1970-01-01 to "
        "2100-01-01 UTC"], id="year-1"),
    pytest.param("1969-12-31T22:00:00Z", "1970-01-01T01:00:00Z", [
        "start (column 2): 1969-12-31T22:00:00Z is out of range: times run from 1970-01-01 "
        "to 2100-01-01 UTC"], id="year-1969"),
    pytest.param("2026-12-01\x0010:00", "2026-12-01 11:00", [
        "start (column 2): not an ISO 8601 date or time: '2026-12-01\\x0010:00' "
        "(e.g. 2026-11-03 or 2026-11-03T09:30)"], id="nul-byte"),
    pytest.param("2026-12-01 09:00", "2026-12-01 11:00\x00", [
        "end (column 3): not an ISO 8601 date or time: '2026-12-01 11:00\\x00' "
        "(e.g. 2026-11-03 or 2026-11-03T09:30)"], id="trailing-nul"),
])
@pytest.mark.fault("an imported window dated before 1970 (year 1, 1969), or with a NUL byte "
                   "inside a time (`2026-12-01\\x0010:00`)",
                   "the file is refused whole, exit 2, naming line, column and the range "
                   "1970-2100 UTC that reports and the API take; nothing is written",
                   area="Reports and imports")
def test_the_cli_refuses_times_out_of_range_or_with_a_nul_byte(cfg, tmp_path, capsys, start,
                                                                end, problems):
    path = csv_file(tmp_path, f"system,start,end\nemail,{start},{end}\n")
    assert main(["import", "-c", str(tmp_path / "config.yaml"), str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [f"windows.csv:2: {problem}" for problem in problems]
    assert err[-1].endswith("refused; nothing was imported")
    assert untouched(cfg.agent.ledger)


def test_the_cli_summarises_an_import_and_a_dry_run_writes_nothing(cfg, tmp_path, capsys):
    path = csv_file(tmp_path, "system,start,end\nemail,2026-11-03T09:00,2026-11-03T10:00\n")
    config = str(tmp_path / "config.yaml")
    assert main(["import", "-c", config, str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "1 row: 1 window stored, 0 already recorded, 0 wholly inside live-recorded windows "
        "(dry run: nothing written)")  # one row, one window: no "1 rows: 1 windows"
    assert windows(cfg) == []
    assert main(["import", "-c", config, str(path)]) == 0
    assert len(windows(cfg)) == 1


def test_an_import_waits_for_the_daemon_s_writes_and_keeps_them(cfg, tmp_path):
    ledger = Ledger(cfg.agent.ledger, cfg.agent.site)
    ledger.open()  # the daemon's writer, running beside the import
    try:
        store(ledger, window("network", at("2026-11-05 09:00"), None))
        import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                            "email,2026-11-03T09:00,2026-11-03T10:00\n"),
                    WHO, time.time())
        store(ledger, window("network", at("2026-11-05 09:00"), at("2026-11-05 10:00")))
    finally:
        ledger.close()
    assert [(w.system, w.source, w.end) for w in windows(cfg)] == [
        ("email", "imported", at("2026-11-03 10:00")),
        ("network", "live", at("2026-11-05 10:00")),
    ]


def test_overlapping_imports_store_only_what_they_add_and_export_adds_up_to_the_report(
        cfg, tmp_path, capsys):
    # Issue 13, case 4: importing network over a live email outage stored the hour at 150%
    # of everyone's time, and the exports disagreed with the report.
    ledger = ledger_of(cfg)
    ledger.prepare()
    ledger.open()
    store(ledger, window("email", at("2026-11-04 09:00"), at("2026-11-04 10:00"), share=0.5,
                         cost=1000 * H))  # as the live engine stored it: 0.5 of 2,000 people
    ledger.close()
    import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                        "network,2026-11-04T09:00,2026-11-04T10:00\n"), WHO, NOW)
    import_file(cfg, csv_file(tmp_path, "system,start,end\n"
                                        "finance,2026-11-04T09:30,2026-11-04T10:30\n",
                              "more.csv"), WHO, NOW)
    found = {(r.system, r.start): r for r in windows(cfg)}
    # network takes everyone's time 09:00-10:00: it adds 1,000 H to the live email's 1,000 H.
    assert found[("network", at("2026-11-04 09:00"))].amounts.staff == pytest.approx(1000 * H)
    # finance is behind network until 10:00 (its users already counted), then alone: 0.2 of
    # 2,000 people for half an hour = 200 H, and £450 an hour of its own for the hour.
    behind = found[("finance", at("2026-11-04 09:30"))]
    alone = found[("finance", at("2026-11-04 10:00"))]
    assert (behind.cause, behind.amounts.staff) == ("network", 0.0)
    assert (alone.cause, alone.amounts.staff) == (None, pytest.approx(200 * H))
    stored_total = sum(r.amounts.cost for r in found.values())
    assert stored_total == pytest.approx(2200 * H + 450)
    report = build_report(ledger.report_windows(0.0, 4e9), cfg, at("2026-11-01 00:00"),
                          at("2026-12-01 00:00"), NOW, bases=ledger.bases())
    assert report.cost == pytest.approx(2200 * H + 450)
    assert main(["export", "-c", str(tmp_path / "config.yaml"), "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert sum(w["cost"] for w in exported) == pytest.approx(report.cost, abs=0.02)
    assert {w["system"]: w["recorded_cost"] for w in exported if w["source"] == "live"} == {
        "email": round(1000 * H, 2)}

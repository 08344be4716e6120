"""Correcting the record: `annotate` and `void` change how a window is reported and costed,
never delete it, never touch the live counters, and leave an audit trail.

H is £25,000 / 1,924 h; every system here has all 2,000 users, so an hour down costs 2,000 H.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support.helpers import DOWN, HOURLY, UP
from support.ledgerparts import at, store, window, write_config

from agent.cli import main
from agent.config import load_config
from agent.engine import Engine
from agent.ledger import SCHEMA_VERSION, Ledger, migration_sql
from agent.report import RENDERERS, build_report

H = HOURLY
SYSTEMS = """\
- name: network
  probe: {type: tcp, target: "127.0.0.1:9"}
- name: email
  depends_on: [network]
  probe: {type: tcp, target: "127.0.0.1:9"}
- name: web
  probe: {type: tcp, target: "127.0.0.1:9"}
"""
NOV = (at("2026-11-01 00:00"), at("2026-12-01 00:00"))
AFTER = at("2027-01-01 00:00")


@pytest.fixture
def cfg(tmp_path: Path, ledger_location: str):
    return load_config(write_config(tmp_path, SYSTEMS, ledger=ledger_location))


@pytest.fixture
def ledger(cfg):
    book = Ledger(cfg.agent.ledger, cfg.agent.site)
    book.open()
    yield book
    book.close()


def report_of(cfg, ledger):
    windows = ledger.report_windows(*NOV)
    return build_report(windows, cfg, *NOV, AFTER,
                        audit=ledger.audit_trail(w.id for w in windows))


def test_annotations_are_kept_with_an_audit_trail(cfg, ledger):
    store(ledger, window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00")))
    ledger.annotate(1, {"note": "mail store full", "ticket": "INC-7"}, "alice@desk", 100.0)
    ledger.annotate(1, {"note": "mail store full", "ticket": "INC-8"}, "bob@desk", 200.0)
    stored = ledger.window(1)
    assert stored is not None
    assert (stored.annotations.note, stored.annotations.ticket) == ("mail store full", "INC-8")
    assert [(e.window_id, e.at, e.who, e.field, e.before, e.after, e.system)
            for e in ledger.audit_trail()] == [
        (1, 100.0, "alice@desk", "note", None, "mail store full", "email"),
        (1, 100.0, "alice@desk", "ticket", None, "INC-7", "email"),
        (1, 200.0, "bob@desk", "ticket", "INC-7", "INC-8", "email"),  # the note did not change
    ]


def test_a_corrected_root_cause_moves_the_staff_time_to_it(cfg, ledger):
    store(ledger,
          window("network", at("2026-11-03 09:00"), at("2026-11-03 10:00")),
          window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00")))
    # Recorded as two root causes at once, each taking everyone's time: 2,000 H in all,
    # shared evenly (two systems that each take everything split it).
    _, email, _ = report_of(cfg, ledger).systems
    assert report_of(cfg, ledger).cost == pytest.approx(2000 * H)
    assert email.staff == pytest.approx(1000 * H)
    ledger.annotate(2, {"cause": "network"}, "alice@desk", 100.0)
    network, email, _ = report_of(cfg, ledger).systems
    # email was down behind network: its users are counted there, at the full 2,000 H.
    assert (network.staff, email.staff) == (pytest.approx(2000 * H), 0.0)
    assert email.windows[0].cause == "network"
    ledger.annotate(2, {"cause": "email"}, "alice@desk", 200.0)  # its own root cause again
    assert report_of(cfg, ledger).systems[1].windows[0].cause is None


def test_a_voided_window_costs_nothing_but_is_listed_with_its_reason(cfg, ledger):
    store(ledger,
          window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00"), cost=2000 * H),
          window("email", at("2026-11-04 09:00"), at("2026-11-04 11:00"), cost=4000 * H))
    totals_before = ledger.totals()
    ledger.annotate(2, {"voided": "probe pointed at the test server"}, "alice@desk",
                    at("2026-12-01 09:00"))
    report = report_of(cfg, ledger)
    email = report.systems[1]
    assert (email.cost, email.downtime, email.incidents) == (pytest.approx(2000 * H), 3600.0, 1)
    assert [w.voided for w in email.windows] == [None, "probe pointed at the test server"]
    md = RENDERERS["md"](report)
    assert "VOIDED: probe pointed at the test server" in md
    assert "| ~~2~~ | ~~2026-11-04 09:00 UTC~~ |" in md
    assert ("| 2026-12-01 09:00 UTC | alice@desk | 2 | email | voided | (none) | "
            "probe pointed at the test server |") in md
    # The live counters never go down: a void shows in reports and the API only.
    assert ledger.totals() == totals_before
    ledger.annotate(2, {"voided": None}, "bob@desk", at("2026-12-02 09:00"))
    assert report_of(cfg, ledger).systems[1].cost == pytest.approx(6000 * H)


def test_the_daemon_never_overwrites_what_people_added(cfg, ledger):
    engine = Engine(cfg, at("2026-11-03 08:59"))
    for k, result in enumerate([UP, DOWN, DOWN, DOWN]):
        now = at("2026-11-03 09:00") + 5 * k
        ledger.submit(engine.observe("network", UP, now)).result(10)  # email's cause is not
        ledger.submit(engine.observe("email", result, now + 1)).result(10)  # in doubt
    [open_window] = ledger.open_windows()
    ledger.annotate(open_window.id, {"note": "n", "ticket": "t", "cause": "network",
                                     "voided": "false alarm"}, "alice@desk", 1.0)
    ledger.submit(engine.account(at("2026-11-03 09:30"))).result(10)  # the daemon's upsert
    stored = ledger.window(open_window.id)
    assert stored is not None
    assert stored.record.accounted_until == at("2026-11-03 09:30")
    assert (stored.annotations.note, stored.annotations.ticket, stored.annotations.cause,
            stored.annotations.voided_reason) == ("n", "t", "network", "false alarm")


def test_a_ledger_of_schema_2_is_migrated_with_its_windows(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number in (1, 2):
        for statement in migration_sql(number, "sqlite"):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO windows (system, state, start_ts, end_ts, accounted_until, "
                 "hourly_cost_per_user, users_share, impact, direct_cost_per_hour, "
                 "users_at_start) VALUES ('email', 'down', 10, 20, 20, 13, 1, 1, 0, 2000)")
    conn.commit()
    conn.close()
    ledger = Ledger(path)
    ledger.prepare()
    [stored] = ledger.report_windows(0, 100)
    assert stored.annotations.voided_reason is None
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 9
        applied = check.execute("SELECT version FROM ledger_schema ORDER BY version").fetchall()
    assert applied == [(3,), (4,), (5,), (6,), (7,), (8,), (9,)]  # those this file had not yet seen


@pytest.mark.fault("A ledger holds windows that end before they start or count more downtime "
                   "than they last (written while the wall clock was behind)",
                   "the migration clamps them, logs each and records it in the audit trail, "
                   "then the ledger refuses any such window for good", area="Ledger")
def test_windows_that_break_time_are_repaired_and_then_refused(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number in range(1, 6):
        for statement in migration_sql(number, "sqlite"):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    columns = ("system, state, start_ts, end_ts, accounted_until, downtime_seconds, cost, "
               "hourly_cost_per_user, users_share, impact, direct_cost_per_hour, users_at_start")
    conn.execute(f"INSERT INTO windows ({columns}) VALUES "  # the FAKETIME=-2h row: start = end
                 "('email', 'down', 7200, 7200, 7200, 7198, 51961, 13, 1, 1, 0, 2000), "
                 "('web', 'down', 100, 40, 100, 60, 10, 13, 1, 1, 0, 2000), "
                 "('ok', 'down', 10, 20, 20, 10, 1, 13, 1, 1, 0, 2000)")
    conn.commit()
    conn.close()
    ledger = Ledger(path)
    ledger.prepare()
    found = {w.record.system: w.record for w in ledger.report_windows(0, 1e5)}
    assert (found["email"].end, found["email"].amounts.downtime) == (7200, 0)
    assert (found["web"].start, found["web"].end, found["web"].amounts.downtime) == (100, 100, 0)
    assert (found["ok"].end, found["ok"].amounts.downtime) == (20, 10)  # untouched
    repairs = [(e.system, e.field, e.who) for e in ledger.audit_trail()]
    assert repairs == [("email", "repaired", "outage-agent (schema 6)"),
                       ("web", "repaired", "outage-agent (schema 6)")]
    with sqlite3.connect(path) as check, pytest.raises(sqlite3.IntegrityError, match="before"):
        check.execute(f"INSERT INTO windows ({columns}) VALUES "
                      "('x', 'down', 50, 40, 50, 0, 0, 13, 1, 1, 0, 2000)")


# --- the commands -------------------------------------------------------------------------------


def test_annotate_and_void_from_the_command_line(cfg, ledger, tmp_path, capsys):
    store(ledger, window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00")),
          window("network", at("2026-11-03 08:00"), at("2026-11-03 09:30")),
          window("network", at("2026-11-03 09:30"), at("2026-11-03 10:00")))
    config = str(tmp_path / "config.yaml")
    assert main(["annotate", "-c", config, "1", "--note", "disk full", "--cause",
                 "network"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "window 1: note: None -> 'disk full'", "window 1: cause: None -> 'network'"]
    assert main(["void", "-c", config, "1", "--reason", "probe misconfigured"]) == 0
    assert main(["void", "-c", config, "1", "--reason", "probe misconfigured"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "window 1: voided: None -> 'probe misconfigured'",
        "window 1: already so; nothing changed"]
    assert main(["void", "-c", config, "1", "--undo"]) == 0
    who = {e.who for e in ledger.audit_trail()}
    assert len(who) == 1 and "@" in who.pop()
    assert [e.field for e in ledger.audit_trail()] == ["note", "cause", "voided", "voided"]


@pytest.mark.parametrize(("args", "message"), [
    (["annotate", "9", "--note", "x"], "no window with id 9"),
    (["annotate", "1"], "nothing to change"),
    (["annotate", "1", "--cause", "dns"], "--cause: no system named 'dns'"),
    (["annotate", "1", "--cause", "web"], "--cause: 'web' is not a dependency of 'email', "
                                          "directly or through others (its depends_on: "
                                          "network)"),
    (["annotate", "1", "--cause", "network"], "--cause: 'network' was not down over the "
                                              "whole window: nothing recorded or imported "
                                              "from 2026-11-03 09:30:00 UTC to "
                                              "2026-11-03 10:00:00 UTC"),
    (["void", "1", "--reason", " "], "--reason: say why"),
])
def test_a_correction_that_cannot_apply_exits_2(cfg, ledger, tmp_path, capsys, args, message):
    store(ledger, window("email", at("2026-11-03 09:00"), at("2026-11-03 10:00")),
          window("network", at("2026-11-03 08:00"), at("2026-11-03 09:30")))
    command, rest = args[0], args[1:]
    assert main([command, "-c", str(tmp_path / "config.yaml"), *rest]) == 2
    assert message in capsys.readouterr().err
    assert ledger.audit_trail() == []

"""Heartbeat deadlines (agent.heartbeats) with an injected clock: every time here is a number,
so days, DST changes and restarts take milliseconds; and the engine's verdict and money
for a heartbeat system (agent.pushes feeding agent.engine), checked against hand figures."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from support.helpers import HOURLY, config, system

from agent import heartbeats as hb
from agent.engine import Engine
from agent.model import Check, State, Status
from agent.probes.heartbeat import HeartbeatProbe, token_error
from agent.pushes import Heartbeats

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")
HOUR, DAY = 3600.0, 86400.0
TOKEN = "0123456789abcdef0123456789abcdef"
T0 = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC).timestamp()  # a Monday
DAILY = HeartbeatProbe(grace=2 * HOUR, token=TOKEN, every=DAY, max_runtime=30 * 60)
NIGHTLY = HeartbeatProbe(grace=HOUR, token=TOKEN, schedule="30 2 * * *")
# 2,000 users x £25,000 / 1,924 h at share 1, impact 1: £25,987.53 an hour.
PER_HOUR = 25_987.53


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def statuses(results: list) -> list[Status]:
    return [r.status for r in results]


# --- deadlines ------------------------------------------------------------------------------


def test_a_success_on_time_keeps_it_up_and_sets_the_next_due_a_period_on():
    beat = hb.first_beat(DAILY, UTC, T0)
    assert beat.due == T0 + DAY
    assert statuses(hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0 + 3 * HOUR)) == [Status.UP]
    assert beat.due == T0 + DAY + 3 * HOUR
    assert statuses(hb.judge(beat, DAILY, T0 + DAY)) == [Status.UP]


def test_an_overdue_success_is_in_doubt_at_its_due_time_and_down_after_the_grace():
    beat = hb.first_beat(DAILY, UTC, T0)
    hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0)
    assert statuses(hb.judge(beat, DAILY, T0 + DAY)) == [Status.DOWN]  # in doubt from due
    assert beat.verdict == hb.LATE
    assert hb.judge(beat, DAILY, T0 + DAY + HOUR) == []  # still in its grace
    assert statuses(hb.judge(beat, DAILY, T0 + DAY + 2 * HOUR)) == [Status.DOWN]
    assert beat.verdict == hb.DOWN
    assert "due at 2026-11-03T00:00:00" in beat.reason


def test_a_deadline_missed_by_the_scheduler_is_still_two_downs_at_once():
    beat = hb.first_beat(DAILY, UTC, T0)
    assert statuses(hb.judge(beat, DAILY, T0 + DAY + 5 * HOUR)) == [Status.DOWN] * 2


@pytest.mark.parametrize("word, kind", [
    ("fail", hb.FAIL), ("1", "exit 1"), ("255", "exit 255"), ("0", hb.SUCCESS),
    ("", hb.SUCCESS), ("start", hb.START), ("256", None), ("-1", None), ("x", None),
])
def test_a_ping_path_is_read_as_its_kind(word, kind):
    assert hb.ping_kind(word) == kind


def test_a_failure_or_a_nonzero_exit_is_down_at_once_with_the_body_as_evidence():
    beat = hb.first_beat(DAILY, UTC, T0)
    results = hb.ping(beat, DAILY, UTC, "exit 3", T0 + HOUR, "\nERROR: disk full\nmore")
    assert statuses(results) == [Status.DOWN, Status.DOWN]
    assert results[0].reason == "the job ended with exit 3: ERROR: disk full"
    assert statuses(hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0 + 2 * HOUR)) == [Status.UP]


def test_a_start_not_followed_by_success_within_max_runtime_is_down():
    beat = hb.first_beat(DAILY, UTC, T0)
    assert hb.ping(beat, DAILY, UTC, hb.START, T0 + HOUR) == []
    assert hb.next_check(beat, DAILY, T0 + HOUR, 30.0) == T0 + HOUR + 30.0
    assert hb.next_check(beat, DAILY, T0 + HOUR + 1790.0, 30.0) == T0 + HOUR + 1800.0
    assert statuses(hb.judge(beat, DAILY, T0 + HOUR + 1800.0)) == [Status.DOWN] * 2
    assert "no success within 1800s" in beat.reason


def test_a_start_then_success_measures_the_run_to_the_millisecond():
    beat = hb.first_beat(DAILY, UTC, T0)
    hb.ping(beat, DAILY, UTC, hb.START, T0 + 0.250)
    hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0 + 61.375)
    assert beat.duration == pytest.approx(61.125, abs=1e-6)


def test_a_schedule_is_due_at_its_next_cron_time_in_the_cost_timezone_across_dst():
    # British Summer Time ends on 25 October 2026: 02:30 is 01:30 UTC before, 02:30 after.
    beat = hb.first_beat(NIGHTLY, LONDON, at("2026-10-24T12:00:00+00:00"))
    assert beat.due == at("2026-10-25T02:30:00+00:00")  # after the change: GMT
    hb.ping(beat, NIGHTLY, LONDON, hb.SUCCESS, at("2026-10-24T01:45:00.125+00:00"))
    assert beat.due == at("2026-10-25T02:30:00+00:00")
    spring = hb.first_beat(NIGHTLY, LONDON, at("2026-03-28T12:00:00+00:00"))
    assert spring.due == at("2026-03-29T01:30:00+00:00")  # 02:30 BST


def test_every_counts_real_seconds_so_a_daily_job_at_a_local_time_moves_an_hour_at_dst():
    beat = hb.first_beat(DAILY, LONDON, T0)
    hb.ping(beat, DAILY, LONDON, hb.SUCCESS, at("2026-10-24T02:30:00+01:00"))
    assert beat.due == at("2026-10-25T01:30:00+00:00")  # 24 h on: 01:30 GMT, not 02:30


def test_next_check_is_the_next_deadline_or_a_refresh_whichever_is_sooner():
    beat = hb.first_beat(DAILY, UTC, T0)
    assert hb.next_check(beat, DAILY, T0, 30.0) == T0 + 30.0
    assert hb.next_check(beat, DAILY, T0 + DAY - 0.001, 30.0) == T0 + DAY
    hb.judge(beat, DAILY, T0 + DAY)
    assert hb.next_check(beat, DAILY, T0 + DAY + 2 * HOUR - 10, 30.0) == T0 + DAY + 2 * HOUR


# --- restarts -------------------------------------------------------------------------------


def test_a_deadline_that_passed_while_the_agent_was_away_is_unknown_not_down():
    beat = hb.first_beat(DAILY, UTC, T0)
    hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0)
    away_from, back = T0 + DAY - HOUR, T0 + DAY + 3 * HOUR  # due+grace fell in between
    results = hb.resume(beat, DAILY, UTC, away_from, back)
    assert statuses(results) == [Status.UNKNOWN] * 2
    assert beat.verdict == hb.UNKNOWN
    assert beat.due == T0 + 2 * DAY  # judged again from the next one on its schedule
    assert hb.judge(beat, DAILY, back + HOUR) == []  # unknown until the job says something


def test_a_restart_with_no_deadline_missed_goes_on_where_it_was():
    beat = hb.first_beat(DAILY, UTC, T0)
    hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0)
    assert hb.resume(beat, DAILY, UTC, T0 + HOUR, T0 + 2 * HOUR) == []
    assert beat.verdict == hb.UP and beat.due == T0 + DAY


def test_a_late_beat_restarted_within_its_grace_is_in_doubt_again_from_the_restart():
    beat = hb.first_beat(DAILY, UTC, T0)
    hb.ping(beat, DAILY, UTC, hb.SUCCESS, T0)
    hb.judge(beat, DAILY, T0 + DAY)
    assert statuses(hb.resume(beat, DAILY, UTC, T0 + DAY + 60, T0 + DAY + 120)) == [
        Status.DOWN]


# --- the token ------------------------------------------------------------------------------


@pytest.mark.parametrize("token, ok", [
    ("0123456789abcdef0123456789abcdef", True), ("0123456789abcdef0123456789abcde", False),
    ("Zm9vYmFyYmF6cXV4cXV1eA", True), ("Zm9vYmFyYmF6cXV4cXV1e", False),
    ("has/slash-0123456789abcdef0123", False),
])
def test_a_token_needs_128_bits(token, ok):
    assert (token_error(token) is None) is ok


# --- the engine: verdicts and money ---------------------------------------------------------


def heartbeat_system(spec: HeartbeatProbe = DAILY, name: str = "payroll"):
    return system(name, check=Check(spec, 5.0), failure_threshold=2, success_threshold=1,
                  flap_threshold=0)


class Desk:
    """An engine and the heartbeats of one system, fed at times the test names."""

    def __init__(self, spec: HeartbeatProbe = DAILY, start: float = T0) -> None:
        self.config = config(heartbeat_system(spec))
        self.engine = Engine(self.config, start)
        self.pushes = Heartbeats(self.config, start)

    def ping(self, kind: str, at: float, body: str = "") -> None:
        for result in self.pushes.ping("payroll", kind, at, body):
            self.engine.observe("payroll", result, at)

    def judge(self, at: float) -> None:
        for result in self.pushes.judge("payroll", at):
            self.engine.observe("payroll", result, at)

    def view(self, at: float):
        self.engine.account(at)
        return self.engine.view(at)[0]


def test_a_late_heartbeat_is_down_from_when_it_was_due_and_costed_by_hand():
    desk = Desk()
    desk.ping(hb.SUCCESS, T0)
    assert desk.view(T0 + HOUR).state is State.UP
    desk.judge(T0 + DAY)  # due: in doubt
    assert desk.view(T0 + DAY + HOUR).state is State.UP
    desk.judge(T0 + DAY + 2 * HOUR)  # the grace is over: down since it was due
    view = desk.view(T0 + DAY + 3 * HOUR)
    assert view.state is State.DOWN
    assert view.window is not None and view.window.start == T0 + DAY
    assert view.cost_per_hour == pytest.approx(PER_HOUR, abs=0.005)
    assert view.totals.downtime == pytest.approx(3 * HOUR)
    assert view.totals.cost == pytest.approx(3 * PER_HOUR, abs=0.02)
    desk.ping(hb.SUCCESS, T0 + DAY + 4 * HOUR)
    view = desk.view(T0 + DAY + 5 * HOUR)
    assert view.state is State.UP
    assert view.totals.cost == pytest.approx(4 * 2000 * HOURLY, abs=1e-6)
    assert round(view.totals.cost, 2) == 103_950.10  # 4 h at £25,987.525... an hour


def test_a_success_within_the_grace_costs_nothing():
    desk = Desk()
    desk.ping(hb.SUCCESS, T0)
    desk.judge(T0 + DAY)
    desk.ping(hb.SUCCESS, T0 + DAY + HOUR)
    view = desk.view(T0 + DAY + 2 * HOUR)
    assert view.state is State.UP and view.totals.cost == 0 and view.incidents == 0


def test_a_failed_run_is_down_from_the_ping_until_the_next_success():
    desk = Desk()
    desk.ping(hb.FAIL, T0 + HOUR, "payroll export: 3 records rejected")
    view = desk.view(T0 + 2 * HOUR)
    assert view.state is State.DOWN
    assert view.window is not None and view.window.start == T0 + HOUR
    assert view.window.reason == "the job reported failure: payroll export: 3 records rejected"
    desk.ping(hb.SUCCESS, T0 + 2.5 * HOUR)
    view = desk.view(T0 + 3 * HOUR)
    assert view.state is State.UP
    assert view.totals.cost == pytest.approx(1.5 * 2000 * HOURLY)


def test_a_run_that_never_finishes_is_down_from_its_max_runtime():
    desk = Desk()
    desk.ping(hb.START, T0)
    desk.judge(T0 + 1800)
    view = desk.view(T0 + 3600)
    assert view.state is State.DOWN
    assert view.window is not None and view.window.start == T0 + 1800
    assert view.totals.cost == pytest.approx(0.5 * PER_HOUR, abs=0.01)


def test_a_deadline_missed_while_away_is_unknown_and_costs_nothing():
    desk = Desk()
    desk.ping(hb.SUCCESS, T0)
    record = desk.pushes.record("payroll")
    back = Desk(start=T0 + DAY + 3 * HOUR)
    for result in back.pushes.restore([record], T0 + HOUR, T0 + DAY + 3 * HOUR)["payroll"]:
        back.engine.observe("payroll", result, T0 + DAY + 3 * HOUR)
    view = back.view(T0 + DAY + 4 * HOUR)
    assert view.state is State.UNKNOWN
    assert view.totals.cost == 0


def test_a_token_is_found_among_every_shard_s_and_rate_limited_past_one_a_second():
    desk = Desk()
    other = dataclasses.replace(DAILY, token="Zm9vYmFyYmF6cXV4cXV1eA")
    pushes = Heartbeats(desk.config, T0, elsewhere=[heartbeat_system(other, "backup")])
    assert pushes.find(TOKEN) == "payroll"
    assert pushes.find("Zm9vYmFyYmF6cXV4cXV1eA") == "backup"
    assert "backup" not in pushes
    assert pushes.find("0" * 32) is None
    assert all(pushes.allow("payroll", T0 + k) for k in range(100))  # one a second: always
    burst = [pushes.allow("payroll", T0 + 200) for _ in range(10)]
    assert burst.count(True) == 1 + 5 and burst[-1] is False  # one, and a burst of 5 more


def test_a_ping_for_another_shard_s_system_names_the_shard_to_send_it_to():
    from agent.model import AgentConfig
    from agent.shard import not_here, own_share

    systems = [heartbeat_system(dataclasses.replace(DAILY, token=f"{k:032x}"), f"job-{k}")
               for k in range(6)]
    base = config(*systems)
    sharded = dataclasses.replace(base, agent=AgentConfig(site="north", shard=(1, 2)))
    mine = {s.name for s in own_share(sharded).systems}
    theirs = next(s.name for s in systems if s.name not in mine)
    assert not_here(theirs, sharded) == (
        f"{theirs!r} is watched by shard 2/2 of site 'north', not by the agent of site "
        "'north', shard 1/2: send its pings there")
    assert not_here(None, sharded) == ("no heartbeat has this token at the agent of site "
                                       "'north', shard 1/2")


def test_a_heartbeat_s_position_and_evidence_are_kept_in_the_ledger(ledger):
    from agent.records import Batch, PingRecord

    desk = Desk()
    desk.ping(hb.START, T0 + 1.5)
    ledger.submit(Batch(beats=[desk.pushes.record("payroll")])).result(timeout=10)
    body = hb.evidence("disk full\x00")
    desk.ping(hb.FAIL, T0 + 60.25, body)
    ping = PingRecord("payroll", T0 + 60.25, hb.FAIL, body)
    for _ in range(2):  # a journal replayed writes nothing twice
        ledger.submit(Batch(beats=[desk.pushes.record("payroll")], pings=[ping])
                      ).result(timeout=10)
    [kept] = ledger.beats()
    assert kept == desk.pushes.record("payroll")
    assert (kept.last_kind, kept.started, kept.verdict) == ("fail", None, "down")
    assert ledger.pings("payroll", T0, T0 + 60.25) == [
        PingRecord("payroll", T0 + 60.25, "fail", "disk full\ufffd")]
    assert ledger.pings("payroll", T0 + 61, T0 + 99) == []

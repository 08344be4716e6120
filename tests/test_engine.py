"""The engine's bookkeeping, walked through with an injected clock and hand-calculated money."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.helpers import DOWN, HOURLY, SLOW, UP, config, system

from agent.engine import Engine
from agent.model import (
    Maintenance,
    ProbeResult,
    State,
    Status,
    TcpProbe,
    UsersSchedule,
    UsersWindow,
)

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()  # a Monday morning


def feed(engine: Engine, name: str, results: list, start: float, step: float = 5.0) -> float:
    """Feed results `step` seconds apart from `start`; return the time of the last one."""
    at = start
    for result in results:
        engine.observe(name, result, at)
        at += step
    return at - step


def test_outage_starts_at_first_failure_and_is_confirmed_after_threshold():
    engine = Engine(config(system("email")), T0)
    engine.observe("email", UP, T0)
    engine.observe("email", DOWN, T0 + 30)
    engine.observe("email", DOWN, T0 + 35)
    assert engine.lives["email"].state is State.UP
    batch = engine.observe("email", DOWN, T0 + 40)
    assert engine.lives["email"].state is State.DOWN
    opened = [w for w in batch.windows if w.end is None][-1]
    assert opened.start == T0 + 30
    assert opened.before_start == T0
    # 10 s backdated at once: 2000 users x £12.99/h x 10/3600 h
    assert opened.amounts.cost == pytest.approx(2000 * HOURLY * 10 / 3600)


def test_probe_pace_is_quick_only_while_a_change_is_in_doubt():
    engine = Engine(config(system("email"), system("files", down_interval=60.0)), T0)
    for name in ("email", "files"):
        engine.observe(name, UP, T0)
        assert engine.lives[name].next_delay() == 30  # up: interval
        feed(engine, name, [DOWN, DOWN], T0 + 30)
        assert engine.lives[name].next_delay() == 5  # failing, not yet confirmed: retry_interval
        engine.observe(name, DOWN, T0 + 40)
        assert engine.lives[name].state is State.DOWN
    assert engine.lives["email"].next_delay() == 30  # confirmed: down_interval defaults to interval
    assert engine.lives["files"].next_delay() == 60
    engine.observe("email", UP, T0 + 70)
    assert engine.lives["email"].next_delay() == 5  # recovering, not yet confirmed
    engine.observe("email", UP, T0 + 75)
    assert engine.lives["email"].state is State.UP
    assert engine.lives["email"].next_delay() == 30


def test_cost_accrues_in_real_time_and_stops_at_the_first_good_probe():
    engine = Engine(config(system("email")), T0)
    feed(engine, "email", [UP, DOWN, DOWN, DOWN], T0, step=5)  # down from T0+5
    engine.account(T0 + 100)
    view = engine.view(T0 + 100)[0]
    assert view.totals.cost == pytest.approx(2000 * HOURLY * 95 / 3600)
    assert view.totals.downtime == pytest.approx(95)
    assert view.cost_per_hour == pytest.approx(2000 * HOURLY)
    engine.observe("email", UP, T0 + 105)
    engine.observe("email", UP, T0 + 110)
    view = engine.view(T0 + 200)[0]
    assert view.state is State.UP
    assert view.totals.downtime == pytest.approx(100)
    assert view.totals.cost == pytest.approx(2000 * HOURLY * 100 / 3600)
    assert view.cost_per_hour == 0
    assert view.incidents == 1


def test_a_broken_recovery_run_adds_back_the_frozen_time():
    engine = Engine(config(system("email")), T0)
    feed(engine, "email", [DOWN, DOWN, DOWN], T0)  # down from T0
    engine.observe("email", UP, T0 + 20)  # one good probe: accrual frozen at T0+20
    engine.account(T0 + 24)
    assert engine.view(T0 + 24)[0].totals.downtime == pytest.approx(20)
    engine.observe("email", DOWN, T0 + 25)  # the run breaks: 5 s frozen are added back
    engine.account(T0 + 60)
    view = engine.view(T0 + 60)[0]
    assert view.totals.downtime == pytest.approx(60)
    assert view.totals.cost == pytest.approx(2000 * HOURLY * 60 / 3600)
    assert view.incidents == 1


def test_dependant_waits_for_its_dependency_and_is_costed_at_the_root():
    core = system("core", failure_threshold=3)
    email = system("email", depends_on=("core",), failure_threshold=2,
                   direct_cost_per_hour=360.0)
    engine = Engine(config(core, email), T0)
    for name in ("core", "email"):
        engine.observe(name, UP, T0)
    engine.observe("core", DOWN, T0 + 10)
    engine.observe("email", DOWN, T0 + 11)
    engine.observe("email", DOWN, T0 + 16)  # email's threshold: but core is failing
    assert engine.lives["email"].state is State.UP
    assert engine.lives["email"].held
    engine.observe("core", DOWN, T0 + 15)
    engine.observe("core", DOWN, T0 + 20)  # core confirmed: email follows, behind it
    assert engine.lives["core"].state is State.DOWN
    assert (engine.lives["email"].state, engine.lives["email"].cause) == (State.DOWN, "core")
    engine.account(T0 + 3610)
    core_view, email_view = engine.view(T0 + 3610)
    assert core_view.totals.staff == pytest.approx(2000 * HOURLY * 3600 / 3600)
    assert email_view.totals.staff == 0
    # direct costs stay on the dependant's own series, from its first failed probe
    assert email_view.totals.direct == pytest.approx(360 * (3610 - 11) / 3600)
    assert email_view.affected_users == 0
    assert core_view.affected_users == 2000


@pytest.mark.fault("A dependency and its dependant fail at the same instant and the dependant "
                   "is probed (and reaches its threshold) first",
                   "the dependant waits for the dependency's next probe, then is down behind "
                   "it from its first failure: one outage, billed to the root cause from "
                   "the root cause's first failure (the seconds before it are the "
                   "dependant's own, as in a report)")
def test_a_dependant_probed_first_in_a_simultaneous_failure_waits_for_its_dependency():
    core = system("core", failure_threshold=2)
    email = system("email", depends_on=("core",), failure_threshold=2)
    engine = Engine(config(core, email), T0)
    for name in ("core", "email"):
        engine.observe(name, UP, T0)
    batches = [engine.observe("email", DOWN, T0 + 1)]  # both broke; email is probed first
    batches.append(engine.observe("email", DOWN, T0 + 6))  # its threshold; core not probed
    assert engine.lives["email"].held and engine.lives["email"].state is State.UP
    batches.append(engine.observe("core", DOWN, T0 + 8))
    batches.append(engine.observe("core", DOWN, T0 + 13))
    assert (engine.lives["email"].state, engine.lives["email"].cause) == (State.DOWN, "core")
    email_windows = {(w.start, w.cause) for b in batches for w in b.windows
                     if w.system == "email"}
    assert email_windows == {(T0 + 1, "core")}  # no window of its own, raced or not
    assert engine.lives["email"].window is not None
    assert engine.lives["email"].window.start == T0 + 1  # from its first failure
    engine.account(T0 + 3600)
    core_view, email_view = engine.view(T0 + 3600)
    # email's users' time is core's from core's first failure (T0 + 8); before it, email was
    # seen failing and core was not, so those 7 s are email's own, as a report charges them
    assert email_view.totals.staff == pytest.approx(2000 * HOURLY * 7 / 3600)
    assert core_view.totals.staff == pytest.approx(2000 * HOURLY * (3600 - 8) / 3600)


def test_a_dependant_waits_no_longer_than_its_healthy_dependency_s_next_probe():
    core = system("core")  # probed every 30 s, timeout 1 s
    email = system("email", depends_on=("core",), failure_threshold=2)
    engine = Engine(config(core, email), T0)
    for name in ("core", "email"):
        engine.observe(name, UP, T0)
    engine.observe("email", DOWN, T0 + 1)
    engine.observe("email", DOWN, T0 + 6)
    assert engine.lives["email"].held
    engine.observe("core", UP, T0 + 30)  # core is fine: email's own outage, from T0 + 1
    assert (engine.lives["email"].state, engine.lives["email"].cause) == (State.DOWN, None)
    assert engine.lives["email"].window is not None
    assert engine.lives["email"].window.start == T0 + 1
    # a dependency whose probes stopped holds nobody for ever: 30 + 1 + 1 s after the run
    engine2 = Engine(config(core, email), T0)
    for name in ("core", "email"):
        engine2.observe(name, UP, T0)
    for at in (T0 + 1, T0 + 6, T0 + 11, T0 + 16, T0 + 21, T0 + 26, T0 + 31):
        engine2.observe("email", DOWN, at)
    assert engine2.lives["email"].state is State.UP
    engine2.observe("email", DOWN, T0 + 34)
    assert engine2.lives["email"].state is State.DOWN


def test_simultaneous_outages_of_the_same_people_cost_the_product_form_loss():
    a = system("a", users_share=0.8)
    b = system("b", users_share=0.6)
    engine = Engine(config(a, b), T0)
    for k, result in enumerate([UP, DOWN, DOWN, DOWN]):
        for name in ("a", "b"):  # a is seen a moment before b each time
            engine.observe(name, result, T0 + k * 5)
    engine.account(T0 + 3615)
    va, vb = engine.view(T0 + 3615)
    per_second = 2000 * HOURLY / 3600  # the organisation's cost per second of a full outage
    # Both down from T0+5 for 3610 s: the people lose 1 - 0.2 x 0.4 = 0.92 of their time
    # (not 0.8 + 0.6 capped at 1), split by -ln(1 - x): a gets ln 5 / ln 12.5 of it.
    loss = 1 - (1 - 0.8) * (1 - 0.6)
    share_a = math.log(5) / (math.log(5) + math.log(2.5))
    assert va.totals.staff == pytest.approx(per_second * 3610 * loss * share_a)
    assert vb.totals.staff == pytest.approx(per_second * 3610 * loss * (1 - share_a))
    assert va.cost_per_hour + vb.cost_per_hour == pytest.approx(2000 * HOURLY * 0.92)
    assert va.affected_users + vb.affected_users == pytest.approx(2000 * 0.92)


def test_canary_down_makes_failures_unknown_and_costs_nothing():
    canary = system("canary-1", users_share=0.0, impact=0.0, failure_threshold=2)
    engine = Engine(config(system("email"), canaries=(canary,)), T0)
    engine.observe("canary-1", UP, T0)
    engine.observe("email", UP, T0)
    engine.observe("canary-1", DOWN, T0 + 5)
    engine.observe("email", DOWN, T0 + 6)
    engine.observe("canary-1", DOWN, T0 + 10)
    engine.observe("email", DOWN, T0 + 11)
    engine.observe("email", DOWN, T0 + 16)
    assert engine.lives["email"].state is State.UNKNOWN
    engine.account(T0 + 600)
    view = engine.view(T0 + 600)[0]
    assert view.totals.cost == 0 and view.totals.downtime == 0


def test_failures_in_maintenance_are_planned_and_cost_nothing():
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    planned = Maintenance(start=start, end=start + dt.timedelta(hours=1))
    engine = Engine(config(system("email", maintenance=(planned,))), T0)
    feed(engine, "email", [UP, DOWN, DOWN, DOWN], T0 + 1)
    assert engine.lives["email"].state is State.MAINTENANCE
    engine.account(T0 + 3599)
    assert engine.view(T0 + 3599)[0].totals.cost == 0
    engine.account(T0 + 3650)  # maintenance over: the failures during it prove nothing
    assert engine.lives["email"].state is State.UNKNOWN
    feed(engine, "email", [DOWN, DOWN, DOWN], T0 + 3700)  # confirmed afresh, by the threshold
    assert engine.lives["email"].state is State.DOWN
    engine.account(T0 + 3960)
    assert engine.view(T0 + 3960)[0].totals.downtime == pytest.approx(260)


@pytest.mark.fault("`maintenance --end` right after the fix, the last probe in maintenance "
                   "having failed", "state is confirmed afresh: the first good probe is up, "
                   "no window, no incident, no money", area="Agent process")
def test_a_fix_that_ends_maintenance_is_not_an_outage():
    engine = Engine(config(system("email")), T0)
    engine.observe("email", UP, T0)
    engine.plan_maintenance([("email", T0 + 1, T0 + 600)], T0 + 1)
    feed(engine, "email", [DOWN, DOWN, DOWN, DOWN], T0 + 10)
    assert engine.lives["email"].state is State.MAINTENANCE
    batch = engine.plan_maintenance([("email", T0 + 100, T0 + 100)], T0 + 100)  # --end
    assert engine.lives["email"].state is not State.DOWN
    engine.observe("email", UP, T0 + 101)  # it was fixed
    assert engine.lives["email"].state is State.UP
    assert engine.view(T0 + 200)[0].incidents == 0
    assert not [w for w in batch.windows if w.state == "down"]


def test_degraded_costs_its_degraded_impact():
    engine = Engine(config(system("email", users_share=0.5, impact=1.0, degraded_impact=0.2)),
                    T0)
    feed(engine, "email", [UP, SLOW, SLOW, SLOW], T0)
    engine.account(T0 + 5 + 3600)
    view = engine.view(T0 + 5 + 3600)[0]
    assert view.state is State.DEGRADED
    assert view.totals.cost == pytest.approx(2000 * HOURLY * 0.5 * 0.2)
    assert view.totals.degraded == pytest.approx(3600)
    assert view.totals.downtime == 0


def test_cost_follows_the_users_schedule_and_splits_at_midnight():
    schedule = UsersSchedule(default=100, windows=(
        UsersWindow(days=frozenset(range(5)), start=dt.time(8), end=dt.time(18), users=2000),
    ))
    evening = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC).timestamp()  # Monday 17:00
    engine = Engine(config(system("email"), users=schedule), evening - 60)
    feed(engine, "email", [DOWN, DOWN, DOWN], evening)
    next_morning = evening + 8 * 3600  # Tuesday 01:00
    engine.account(next_morning)
    view = engine.view(next_morning)[0]
    # 17:00-18:00 at 2000 users, then 7 h at 100 users
    assert view.totals.cost == pytest.approx(HOURLY * (2000 + 7 * 100))
    assert view.cost_day == pytest.approx(HOURLY * 100)  # Tuesday 00:00-01:00
    assert view.cost_month == pytest.approx(view.totals.cost)


def test_council_month_hand_calculation():
    """21.55 h of system-wide outage at 2,000 users and £25,000/1,924 h is about £560,031."""
    engine = Engine(config(system("network", failure_threshold=1, success_threshold=1)), T0)
    engine.observe("network", DOWN, T0)
    engine.observe("network", UP, T0 + 21.55 * 3600)
    view = engine.view(T0 + 22 * 3600)[0]
    assert round(2000 * HOURLY, 2) == 25987.53
    assert view.totals.cost == pytest.approx(560_031.19, abs=0.01)


@pytest.mark.fault("SIGHUP changes a down system's share, thresholds and another system's "
                   "probe", "the down system keeps its window, incident and counters; the new "
                   "share costs from the reload; only the re-pointed system starts afresh",
                   area="Agent process")
def test_reload_keeps_a_system_whose_probe_is_unchanged_and_restarts_a_repointed_one():
    cfg = config(system("email", users_share=0.5), system("web", users_share=0.5))
    engine = Engine(cfg, T0)
    for k, result in enumerate([UP, DOWN, DOWN, DOWN]):
        for name in ("email", "web"):
            engine.observe(name, result, T0 + 5 * k)
    engine.account(T0 + 60)
    before = engine.lives["web"].totals.cost
    repointed = dataclasses.replace(system("email", users_share=0.5).check,
                                    spec=TcpProbe(target="127.0.0.1:10"))
    new = Engine(config(system("email", users_share=0.5, check=repointed),
                        system("web", users_share=0.4, failure_threshold=4)), T0 + 60)
    adoption = new.adopt(engine, T0 + 60)
    assert (adoption.changed, adoption.replaced, adoption.kept) == (("web",), ("email",), ())
    web = new.lives["web"]
    assert web is engine.lives["web"] and web.window.start == T0 + 5  # the same outage
    assert (web.state, web.incidents, web.tracker.failure_threshold) == (State.DOWN, 1, 4)
    assert not [w for w in adoption.batch.windows if w.system == "web" and w.end is not None]
    email = new.lives["email"]  # probing another target: its old window closed at the reload
    assert email.window is None and email.state is State.UNKNOWN
    closed = [w for w in adoption.batch.windows if w.system == "email" and w.end is not None]
    assert closed and closed[-1].end == T0 + 60
    new.account(T0 + 120)
    # by hand: both down 55 s, 1 - 0.5 x 0.5 = 0.75 of the time, half each; then web alone,
    # at its new share, 0.4, for 60 s
    assert web.totals.cost == pytest.approx(before + 2000 * 0.4 * HOURLY * 60 / 3600)
    assert before == pytest.approx(2000 * 0.375 * HOURLY * 55 / 3600)
    assert {v.name: v for v in new.view(T0 + 120)}["web"].totals.downtime == pytest.approx(115)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["core", "app", "web"]),
                          st.sampled_from([UP, DOWN, SLOW]),
                          st.floats(min_value=0.1, max_value=400),
                          st.booleans()), min_size=1, max_size=120))
def test_counters_never_go_down_and_windows_never_overlap(events):
    systems = (system("core", users_share=0.7),
               system("app", depends_on=("core",), users_share=0.6, degraded_impact=0.5,
                      direct_cost_per_hour=100.0),
               system("web", users_share=0.4, failure_threshold=1, success_threshold=1))
    engine = Engine(config(*systems), T0)
    at, previous, windows = T0, {}, {}
    for name, result, step, scrape in events:
        at += step
        batch = engine.account(at) if scrape else engine.observe(name, result, at)
        for w in batch.windows:
            windows[(w.system, w.start)] = w
        for view in engine.view(at):
            totals = (view.totals.cost, view.totals.downtime, view.totals.degraded,
                      view.incidents)
            old = previous.get(view.name, (0, 0, 0, 0))
            assert all(new >= was - 1e-9 for new, was in zip(totals, old, strict=True))
            previous[view.name] = totals
    users_hour = 2000 * HOURLY / 3600
    org_staff = sum(v.totals.staff for v in engine.view(at))
    assert org_staff <= users_hour * (at - T0) + 1e-6  # nobody loses more than all their time
    for name in ("core", "app", "web"):
        spans = sorted((w.start, w.end if w.end is not None else at)
                       for w in windows.values() if w.system == name)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end - 1e-9
        assert sum(w.amounts.cost for w in windows.values() if w.system == name) == (
            pytest.approx(engine.lives[name].totals.cost, abs=1e-6))


@pytest.mark.fault('Recovery runs that keep breaking (many short backdated parts)',
                   'Cost equals the rate times the downtime exactly: nothing lost to'
                   ' rounding')
def test_short_backdated_parts_are_costed_exactly_for_one_system():
    engine = Engine(config(system("email")), T0)
    at = T0 + 0.37
    feed(engine, "email", [DOWN, DOWN, DOWN], at, step=0.3)
    for _ in range(50):  # recovery runs that keep breaking: many short backdated parts
        at += 0.45
        engine.observe("email", UP, at)
        at += 0.2
        engine.observe("email", DOWN, at)
    engine.account(at)
    view = engine.view(at)[0]
    per_second = 2000 * HOURLY / 3600
    assert view.totals.downtime == pytest.approx(at - (T0 + 0.37))
    assert view.totals.cost == pytest.approx(per_second * view.totals.downtime, rel=1e-9)


def test_a_system_removed_by_a_reload_and_added_back_keeps_its_counters():
    # Found by review: its counter started again at 0 and its day row lost the money.
    cfg = config(system("email"), system("web"))
    engine = Engine(cfg, T0)
    feed(engine, "web", [UP, DOWN, DOWN, DOWN], T0)
    engine.account(T0 + 65)
    before = engine.lives["web"].totals.cost
    assert before == pytest.approx(2000 * HOURLY * 60 / 3600)
    without = Engine(config(system("email")), T0 + 65)
    without.adopt(engine, T0 + 65)
    again = Engine(cfg, T0 + 100)
    again.adopt(without, T0 + 100)
    view = {v.name: v for v in again.view(T0 + 100)}["web"]
    assert (view.totals.cost, view.incidents) == (pytest.approx(before), 1)
    assert view.cost_day == pytest.approx(before)


AGENT_FAULT = ProbeResult(Status.UNKNOWN, 0.0, "the agent's own fault: Too many open files")


@pytest.mark.fault("The agent runs out of file descriptors while probing a healthy system",
                   "no verdict: nothing counts towards its health, no transition, no money",
                   area="Agent process")
def test_probes_the_agent_could_not_make_never_make_a_system_down():
    engine = Engine(config(system("email")), T0)
    engine.observe("email", UP, T0)
    feed(engine, "email", [AGENT_FAULT] * 20, T0 + 5)
    assert engine.lives["email"].state is State.UP
    engine.account(T0 + 200)
    assert engine.view(T0 + 200)[0].totals.cost == 0


@pytest.mark.fault("The agent runs out of file descriptors during a confirmed outage",
                   "after failure_threshold such probes the system is unknown and bills "
                   "nobody; the outage resumes as soon as the agent can probe again",
                   area="Agent process")
def test_a_blind_agent_stops_billing_an_outage_until_it_can_see_again():
    engine = Engine(config(system("email")), T0)
    at = feed(engine, "email", [UP, DOWN, DOWN, DOWN], T0)  # down from T0 + 5, at T0 + 15
    feed(engine, "email", [AGENT_FAULT] * 2, at + 5)
    assert engine.lives["email"].state is State.DOWN  # two faults: not yet blind
    engine.observe("email", AGENT_FAULT, at + 15)  # the third: as many as confirm an outage
    assert engine.lives["email"].state is State.UNKNOWN
    engine.account(at + 600)
    per_second = 2000 * HOURLY / 3600
    assert engine.view(at + 600)[0].totals.cost == pytest.approx(per_second * (at + 15 - 5 - T0))
    engine.observe("email", DOWN, at + 605)  # it can probe again: still down
    assert engine.lives["email"].state is State.DOWN

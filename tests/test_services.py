"""Business services (agent.services): the N-of-M rules as pure functions, and services in
the engine, with time injected: degraded, down, degraded, up as one incident, costed by hand;
a dependant of a service; planned work on a member; unknown members never billed."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.helpers import DOWN, HOURLY, SLOW, UP, config, system
from test_cost_model import stored

from agent.engine import Engine
from agent.model import Check, Maintenance, State, System
from agent.report import build_report
from agent.services import ServiceSpec, judge, rule_count
from agent.state import DEGRADED
from agent.state import DOWN as DOWN_LEVEL
from agent.state import UP as UP_LEVEL

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()  # a Monday morning


def service(name: str, members: tuple[str, ...], down: int | None = None, degraded: int = 1,
            **overrides: object) -> System:
    spec = ServiceSpec(members, len(members) if down is None else down, degraded)
    base = System(name=name, check=Check(spec, timeout=0.0), failure_threshold=1,
                  success_threshold=1, flap_threshold=0)
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def member(name: str, **overrides: object) -> System:
    return system(name, users_share=0.0, **overrides)


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "members", "expected"), [
    ("all", 2, (2, None)), ("any", 3, (1, None)), ("2 of 3", 3, (2, None)),
    (" 1  of 2 ", 2, (1, None)),
    ("3 of 2", 2, (None, "'3 of 2': N cannot be more than M")),
    ("2 of 3", 4, (None, "'2 of 3': the service has 4 members, not 3")),
    ("0 of 2", 2, (None, "'0 of 2': N must be at least 1")),
    ("\uff12 of 2", 2, (None, "expected all, any or \"N of M\" (e.g. \"2 of 2\"), got "
                           "'\uff12 of 2'")),  # a full-width digit: numbers are ASCII
    ("most", 2, (None, "expected all, any or \"N of M\" (e.g. \"2 of 2\"), got 'most'")),
])
def test_rules_read_all_any_and_n_of_m(text: str, members: int, expected: tuple) -> None:
    assert rule_count(text, members) == expected


SPEC = ServiceSpec(("a", "b", "c"), down_when=2, degraded_when=1)


@pytest.mark.parametrize(("states", "health"), [
    ((State.UP, State.UP, State.UP), UP_LEVEL),
    ((State.DOWN, State.UP, State.UP), DEGRADED),
    ((State.DEGRADED, State.UP, State.UP), DEGRADED),
    ((State.DOWN, State.DEGRADED, State.UP), DEGRADED),  # degraded never counts as down
    ((State.DOWN, State.DOWN, State.UP), DOWN_LEVEL),
    ((State.DOWN, State.DOWN, State.UNKNOWN), DOWN_LEVEL),  # the unknown cannot change it
    ((State.UP, State.UP, State.UNKNOWN), None),  # it could be degraded: unknown
    ((State.DOWN, State.UP, State.UNKNOWN), None),  # it could be down: unknown
])
def test_two_of_three(states: tuple[State, ...], health: int | None) -> None:
    members = [(name, state, None) for name, state in zip("abc", states, strict=True)]
    assert judge(SPEC, members).health == health


def test_planned_work_that_makes_a_service_down_makes_it_maintenance_named_for_the_member():
    verdict = judge(SPEC, [("a", State.MAINTENANCE, None), ("b", State.DOWN, None),
                           ("c", State.UP, None)])
    assert (verdict.health, verdict.planned_cause) == (DOWN_LEVEL, "a")
    # planned work alone that only degrades it costs nothing: it stays up
    alone = judge(SPEC, [("a", State.MAINTENANCE, None), ("b", State.UP, None),
                         ("c", State.UP, None)])
    assert (alone.health, alone.planned_cause) == (UP_LEVEL, None)


def test_a_service_is_down_behind_a_root_cause_only_when_every_down_member_is():
    shared = judge(SPEC, [("a", State.DOWN, "core"), ("b", State.DOWN, "core"),
                          ("c", State.UP, None)])
    assert (shared.health, shared.root_cause) == (DOWN_LEVEL, "core")
    mixed = judge(SPEC, [("a", State.DOWN, "core"), ("b", State.DOWN, None),
                         ("c", State.UP, None)])
    assert (mixed.health, mixed.root_cause) == (DOWN_LEVEL, None)
    assert mixed.reason == "a, b down"


# --- in the engine --------------------------------------------------------------------------


def pair(**overrides: object) -> Engine:
    """Exchange: two members, down when both are, degraded when one is; 2,000 users at
    £12.99/h, impact 1, degraded impact 0.25."""
    exchange = service("exchange", ("exch-1", "exch-2"), users_share=1.0, impact=1.0,
                       degraded_impact=0.25, **overrides)
    engine = Engine(config(member("exch-1"), member("exch-2"), exchange), T0)
    for name in ("exch-1", "exch-2"):
        engine.observe(name, UP, T0)
    return engine


def fail(engine: Engine, name: str, at: float) -> None:
    """Three failures 5 s apart from `at`: confirmed down from `at`."""
    for k in range(3):
        engine.observe(name, DOWN, at + 5 * k)


def recover(engine: Engine, name: str, at: float) -> None:
    """Two successes 5 s apart from `at`: confirmed up from `at`."""
    for k in range(2):
        engine.observe(name, UP, at + 5 * k)


def test_degraded_down_degraded_up_is_one_incident_with_one_down_window_costed_by_hand():
    engine = pair()
    assert engine.lives["exchange"].state is State.UP
    fail(engine, "exch-1", T0 + 600)  # one down from T0+600: degraded
    assert engine.lives["exchange"].state is State.DEGRADED
    fail(engine, "exch-2", T0 + 1200)  # both down from T0+1200: down
    assert engine.lives["exchange"].state is State.DOWN
    recover(engine, "exch-2", T0 + 1800)  # one back at T0+1800: degraded again
    assert engine.lives["exchange"].state is State.DEGRADED
    recover(engine, "exch-1", T0 + 3000)  # both back at T0+3000: up
    assert engine.lives["exchange"].state is State.UP
    engine.account(T0 + 4000)
    view = {v.name: v for v in engine.view(T0 + 4000)}["exchange"]
    # degraded 600 s + 1,200 s at 0.25, down 600 s at 1: 2,000 x £12.99/h x (1800 x 0.25 + 600)
    assert view.totals.cost == pytest.approx(2000 * HOURLY * (1800 * 0.25 + 600) / 3600)
    assert view.totals.downtime == pytest.approx(600)
    assert view.totals.degraded == pytest.approx(1800)
    assert view.incidents == 1
    assert view.cost_per_hour == 0
    # the members carry no users: their windows are evidence, and cost nothing
    members = [v for v in engine.view(T0 + 4000) if v.name != "exchange"]
    assert [v.totals.cost for v in members] == [0.0, 0.0]
    assert [v.totals.downtime for v in members] == [2400.0, 600.0]


def test_the_service_windows_start_at_the_members_boundaries():
    engine = pair()
    fail(engine, "exch-1", T0 + 600)
    batch_windows = []
    for k in range(3):
        batch_windows += engine.observe("exch-2", DOWN, T0 + 1200 + 5 * k).windows
    down = [w for w in batch_windows if w.system == "exchange" and w.state == "down"]
    assert down[-1].start == T0 + 1200  # dated back to the member's first failure
    assert "exch-1, exch-2 down" in engine.lives["exchange"].last_result.reason


def test_a_dependant_of_a_service_is_down_behind_it_and_costed_at_the_service():
    exchange = service("exchange", ("exch-1", "exch-2"), users_share=0.5)
    calendar = system("calendar", depends_on=("exchange",), users_share=0.5)
    engine = Engine(config(member("exch-1"), member("exch-2"), exchange, calendar), T0)
    for name in ("exch-1", "exch-2", "calendar"):
        engine.observe(name, UP, T0)
    for k in range(3):  # all three fail together; the calendar is confirmed first and waits
        for offset, name in ((0, "exch-1"), (1, "calendar"), (2, "exch-2")):
            engine.observe(name, DOWN, T0 + 100 + offset + 5 * k)
    assert engine.lives["exchange"].state is State.DOWN
    assert (engine.lives["calendar"].state, engine.lives["calendar"].cause) == (
        State.DOWN, "exchange")
    engine.account(T0 + 3700)
    views = {v.name: v for v in engine.view(T0 + 3700)}
    # 2,000 users: half use each, independent: 1 - (1 - 0.5)^2 = 0.75 of their time, all the
    # service's (the root cause) from T0+102, when its second member failed, to T0+3700
    assert views["exchange"].cost_per_hour == pytest.approx(2000 * HOURLY * 0.75)
    assert views["exchange"].totals.cost == pytest.approx(2000 * HOURLY * 0.75 * 3598 / 3600)
    # the calendar failed at T0+101, a second before the service was down: that second is its
    # own (half the users), the rest the service's
    assert views["calendar"].totals.cost == pytest.approx(2000 * HOURLY * 0.5 / 3600)
    assert views["calendar"].totals.downtime == pytest.approx(3599)


def test_a_service_whose_member_is_in_planned_maintenance_costs_nothing():
    start = dt.datetime.fromtimestamp(T0 + 600, dt.UTC)
    end = dt.datetime.fromtimestamp(T0 + 4200, dt.UTC)
    exchange = service("exchange", ("exch-1", "exch-2"), users_share=1.0)
    engine = Engine(config(member("exch-1", maintenance=(Maintenance(start=start, end=end),)),
                           member("exch-2"), exchange), T0)
    for name in ("exch-1", "exch-2"):
        engine.observe(name, UP, T0)
    fail(engine, "exch-1", T0 + 700)  # taken down for the planned work
    assert engine.lives["exch-1"].state is State.MAINTENANCE
    assert engine.lives["exchange"].state is State.UP  # one of two planned away: still up
    fail(engine, "exch-2", T0 + 1200)
    live = engine.lives["exchange"]
    assert (live.state, live.cause) == (State.MAINTENANCE, "exch-1")
    engine.account(T0 + 2000)
    assert {v.name: v for v in engine.view(T0 + 2000)}["exchange"].totals.cost == 0


def test_a_service_is_unknown_not_down_while_a_member_has_never_been_seen():
    exchange = service("exchange", ("exch-1", "exch-2"), down=1, users_share=1.0)
    engine = Engine(config(member("exch-1"), member("exch-2"), exchange), T0)
    engine.observe("exch-1", UP, T0)
    assert engine.lives["exchange"].state is State.UNKNOWN
    engine.observe("exch-2", UP, T0 + 1)
    assert engine.lives["exchange"].state is State.UP


# --- the promise, over any sequence of probes ------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["core", "exch-1", "exch-2", "exch-3", "portal"]),
                          st.sampled_from([UP, DOWN, SLOW]),
                          st.floats(min_value=0.1, max_value=900),
                          st.booleans()), min_size=1, max_size=80))
def test_live_counters_of_services_equal_the_report_of_the_same_windows(events) -> None:
    """A 2-of-3 service behind a core system, with a dependant: whatever the members do, every
    live counter is what a report of the windows the engine recorded says, and no one loses
    more than all of their time."""
    exchange = service("exchange", ("exch-1", "exch-2", "exch-3"), down=2, degraded=1,
                       depends_on=("core",), users_share=0.8, degraded_impact=0.3,
                       direct_cost_per_hour=50.0)
    systems = (system("core", users_share=0.5),
               *(member(f"exch-{k}", failure_threshold=2, success_threshold=1)
                 for k in (1, 2, 3)),
               exchange, system("portal", depends_on=("exchange",), users_share=0.6))
    engine = Engine(config(*systems, users=1000), T0)
    at, batches = T0, []
    for name, result, step, scrape in events:
        at += step
        batches.append(engine.account(at) if scrape else engine.observe(name, result, at))
    batches.append(engine.account(at))
    report = build_report(stored(batches), engine.config, T0, at + 1, engine.charges.horizon)
    for view in engine.view(at):
        [line] = [s for s in report.systems if s.name == view.name]
        assert line.cost == pytest.approx(view.totals.cost, abs=1e-6), view.name
    assert report.cost <= (1000 * HOURLY + 50) * (at - T0) / 3600 + 1e-6


def test_a_service_added_by_a_reload_is_read_off_its_members_at_once() -> None:
    engine = Engine(config(member("exch-1"), member("exch-2")), T0)
    for name in ("exch-1", "exch-2"):
        engine.observe(name, UP, T0)
    fail(engine, "exch-1", T0 + 10)
    exchange = service("exchange", ("exch-1", "exch-2"), users_share=1.0, degraded_impact=0.5)
    fresh = Engine(config(member("exch-1"), member("exch-2"), exchange), T0 + 100)
    adoption = fresh.adopt(engine, T0 + 100)
    assert fresh.lives["exchange"].state is State.DEGRADED  # not unknown until a change
    [opened] = [w for w in adoption.batch.windows if w.system == "exchange"]
    assert (opened.state, opened.start) == ("degraded", T0 + 100)


def test_members_recovering_while_the_agent_was_away_end_the_service_in_time_order() -> None:
    """Found by review: after a restart, each member's recovery is dated back to where it was
    last seen, and they are taken in in any order; the service follows its members' records
    in time order (down until two of three are back, degraded while the third is still down)
    instead of reading each back-dated change against the others' present state."""
    trio = service("s", ("a", "b", "c"), down=2, degraded=1, users_share=1.0,
                   degraded_impact=0.5)
    cfg = config(member("a"), member("b"), member("c"), trio)
    before = Engine(cfg, T0)
    for name in "abc":
        before.observe(name, UP, T0)
    for k in range(3):
        for name in "abc":
            before.observe(name, DOWN, T0 + 10 + 5 * k)
    assert before.lives["s"].state is State.DOWN
    records = {w.system: w for w in before.account(T0 + 30).windows if w.end is None}
    for w in before.observe("c", DOWN, T0 + 40).windows:  # c was seen failing last
        records[w.system] = w
    assert {name: max(r.last_observed or 0, r.accounted_until) for name, r in records.items()
            if name in "abc"} == {"a": T0 + 30, "b": T0 + 30, "c": T0 + 40}
    after = Engine(cfg, T0 + 60)
    after.restore(list(records.values()), {}, [], T0 + 60)
    assert after.lives["s"].state is State.DOWN
    # what it was last read as, for /metrics and the API, until its members change
    assert after.lives["s"].last_result.reason == "a, b down"  # as its window says
    assert {v.name: v for v in after.view(T0 + 60)}["s"].last_probe_at == T0 + 30
    windows = []
    for name in "cba":  # all three back: taken in c first, then b, then a
        for k in range(2):
            windows += after.observe(name, UP, T0 + 61 + k).windows
    windows += after.account(T0 + 70).windows
    mine = {}
    for w in windows:
        if w.system == "s":
            mine[w.start] = w
    timeline = sorted((w.start, w.end, w.state, w.reason) for w in mine.values())
    a_end, c_end = T0 + 30, T0 + 40
    assert timeline[-2][1:3] == (a_end, "down")
    assert timeline[-1] == (a_end, c_end, "degraded", "c down")
    assert after.lives["s"].state is State.UP

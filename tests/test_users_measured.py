"""Measured users (agent.users.inforce): the readings as a step function with staleness and
the fallback, and the promise that the live books and a report cost them alike to the penny,
each checked against a hand integration of the readings. Time is injected throughout."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from support.helpers import DOWN, HOURLY, UP, config, system
from support.ledgerparts import window as ledger_window
from test_cost_model import stored

from agent.basis import basis_of
from agent.cost import UsersCalendar
from agent.engine import Engine
from agent.ledger import StoredWindow
from agent.model import Config, System, UsersSchedule, UsersSource
from agent.records import UsersReading
from agent.report import build_report
from agent.report.words import method
from agent.users.command import CommandSource
from agent.users.inforce import MeasuredCalendar, Readings

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()  # a Monday morning
HOUR = 3600.0


def readings(*items: tuple[float, float | None], period: float = 60.0) -> Readings:
    found = Readings()
    for at, value in items:
        found.add(T0 + at, value, period)
    return found


# --- the step function ------------------------------------------------------------------------


def test_a_reading_holds_until_the_next_one():
    steps = readings((0, 500), (60, 700))
    assert [steps.value_at(T0 + s) for s in (-1, 0, 59.9, 60, 179.9)] == [
        None, 500, 500, 700, 700]


def test_a_reading_older_than_three_periods_gives_way_to_the_fallback():
    steps = readings((0, 500), period=60)
    assert steps.value_at(T0 + 179.9) == 500
    assert steps.value_at(T0 + 180) is None


def test_a_failed_reading_puts_the_fallback_in_force_from_its_time_until_the_next():
    steps = readings((0, 500), (60, None), (120, 800))
    assert [steps.value_at(T0 + s) for s in (30, 90, 130)] == [500, None, 800]
    assert list(steps.pieces(T0, T0 + 150)) == [
        (T0, T0 + 60, 500), (T0 + 60, T0 + 120, None), (T0 + 120, T0 + 150, 800)]


def test_the_pieces_cover_a_range_with_stale_gaps_in_order():
    steps = readings((0, 500), (600, 900), period=60)
    assert list(steps.pieces(T0 - 10, T0 + 700)) == [
        (T0 - 10, T0, None), (T0, T0 + 180, 500), (T0 + 180, T0 + 600, None),
        (T0 + 600, T0 + 700, 900)]


def test_a_reading_dated_before_the_latest_is_refused():
    steps = readings((60, 500))
    with pytest.raises(ValueError, match="before the latest"):
        steps.add(T0, 400, 60)


def test_the_measured_calendar_integrates_readings_and_the_fallback_piece_by_piece():
    schedule = UsersCalendar(UsersSchedule(default=100), "UTC", HOURLY)
    calendar = MeasuredCalendar(schedule, readings((0, 500), (60, None), (120, 800)), HOURLY)
    money = calendar.money_seconds(T0 - 30, T0 + 150)
    # by hand: 30 s of 100 (before the first), 60 s of 500, 60 s of 100, 30 s of 800
    assert money == pytest.approx((30 * 100 + 60 * 500 + 60 * 100 + 30 * 800) * HOURLY)
    assert calendar.measured_money_seconds(T0 - 30, T0 + 150) == pytest.approx(
        (60 * 500 + 30 * 800) * HOURLY)
    assert calendar.users_at(T0 + 90) == 100 and calendar.cost_rate_at(T0 + 130) == 800 * HOURLY


# --- live books and reports agree ----------------------------------------------------------------


def measured_config(*systems: System) -> Config:
    """Everyone measured every minute, with a fallback of 100 users."""
    base = config(*systems, users=100)
    source = UsersSource(CommandSource(("true",)), every=60.0)
    return dataclasses.replace(base, cost=dataclasses.replace(base.cost, users_source=source))


def test_live_counters_follow_the_readings_and_equal_the_report_of_them():
    """email down for 20 minutes while readings come every minute, one fails and a gap goes
    stale: the live counter, a report built from the stored readings, and a hand integration
    of them agree to the penny."""
    cfg = measured_config(system("email", users_share=0.5))
    live: dict[str, Readings] = {"everyone": Readings()}
    engine = Engine(cfg, T0 - 60, live)
    taken: list[UsersReading] = []
    script = {0: 1000.0, 60: 1200.0, 120: None, 180: 900.0, 240: 900.0, 600: 400.0}
    batches = [engine.observe("email", UP, T0 - 30)]
    for k in range(3):
        batches.append(engine.observe("email", DOWN, T0 + 5 * k))
    for second in range(0, 1500, 30):
        at = T0 + second
        if second in script:
            dated = max(at, engine.charges.horizon)
            live["everyone"].add(dated, script[second], 60.0)
            taken.append(UsersReading("everyone", dated, script[second],
                                      "command" if script[second] else "fallback", 60.0))
        if second == 1200:
            batches += [engine.observe("email", UP, at), engine.observe("email", UP, at + 5)]
        batches.append(engine.account(at + 1))
    counted = engine.view(T0 + 1500)[0].totals.cost
    # by hand, over [T0, T0 + 1200): the first reading dated where the books stood after the
    # three failed probes (T0 + 10: the fallback, 100, before it), then 50 s of 1000, 60 s of
    # 1200, 60 s of the fallback, 240 s of 900 (180 to 420, stale three periods after the
    # last), 180 s of the fallback, 180 s of 400 (600 to 780) and the fallback till 1200
    assert taken[0].at == T0 + 10
    user_seconds = 10 * 100 + 50 * 1000 + 60 * 1200 + 60 * 100 + 240 * 900 + 180 * 100 + (
        180 * 400 + 420 * 100)
    assert round(counted, 2) == round(user_seconds / HOUR * HOURLY * 0.5, 2)
    fromledger = Readings()
    for reading in taken:
        fromledger.add(reading.at, reading.value, reading.period)
    bases = [(T0 - HOUR, basis_of(cfg).measured({"everyone": fromledger}))]
    report = build_report(stored(batches), cfg, T0 - HOUR, T0 + HOUR, T0 + HOUR, bases=bases)
    assert round(report.cost, 2) == round(counted, 2)
    measured = 50 * 1000 + 60 * 1200 + 240 * 900 + 180 * 400
    assert report.model.measured_share == pytest.approx(measured / user_seconds)
    assert ("Measured users: 86.0% of the staff cost was costed with the people actually "
            "logged on") in " ".join(method(report))


def test_a_report_without_readings_says_nothing_of_measured_users():
    cfg = measured_config(system("email"))
    window = StoredWindow(1, ledger_window("email", T0, T0 + HOUR))
    report = build_report([window], cfg, T0 - HOUR, T0 + 2 * HOUR, T0 + 2 * HOUR)
    assert report.model.measured_share is None
    assert round(report.cost, 2) == round(100 * HOURLY, 2)  # the fallback's
    assert "Measured users" not in " ".join(method(report))


def test_without_readings_a_measured_group_costs_its_fallback():
    cfg = measured_config(system("email"))
    engine = Engine(cfg, T0 - 60, {"everyone": Readings()})
    engine.observe("email", UP, T0 - 30)
    for k in range(3):
        engine.observe("email", DOWN, T0 + 5 * k)
    engine.account(T0 + HOUR)
    assert engine.view(T0 + HOUR)[0].totals.cost == pytest.approx(100 * HOURLY)


def test_the_books_never_go_back_for_a_reading_dated_at_their_horizon():
    """A reading joins the books where they stand: what they counted before stays counted."""
    cfg = measured_config(system("email"))
    live = {"everyone": Readings()}
    engine = Engine(cfg, T0 - 60, live)
    engine.observe("email", UP, T0 - 30)
    for k in range(3):
        engine.observe("email", DOWN, T0 + 5 * k)
    engine.account(T0 + 600)
    before = engine.view(T0 + 600)[0].totals.cost
    live["everyone"].add(max(T0 + 300, engine.charges.horizon), 5000, 60)
    engine.account(T0 + 660)
    after = engine.view(T0 + 660)[0].totals.cost
    assert before == pytest.approx(600 * 100 / HOUR * HOURLY)
    assert after - before == pytest.approx(60 * 5000 / HOUR * HOURLY)


def test_readings_no_longer_in_force_anywhere_asked_are_forgotten():
    steps = readings((0, 500), (60, 700), (120, 900))
    steps.forget(T0 + 90)
    assert len(steps) == 2 and steps.value_at(T0 + 90) == 700 and steps.value_at(T0) is None

"""build_report on windows read back from a real ledger file, checked against hand calculations.

H is the council's hourly cost per user: £25,000 / 1,924 h = £12.99376... an hour.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from zoneinfo import ZoneInfo

import pytest
from support.helpers import DOWN, HOURLY, UP, config, english_working_days, system
from support.ledgerparts import HOUR, LONDON, at, store, window

from agent.basis import CostBasis, GroupBasis, SystemBasis
from agent.engine import Engine
from agent.model import Maintenance, UsersSchedule, UsersWindow
from agent.report import build_report
from agent.report.costing import Stretch, cost_stretches

H = HOURLY
NOV = (at("2026-11-01 00:00", LONDON), at("2026-12-01 00:00", LONDON))
AFTER = at("2027-01-01 00:00")  # the report is made after the range, so it is all counted
OFFICE = UsersSchedule(  # Mon-Fri 08:00-18:00 2,000 users, else 100; English bank holidays
    default=100.0,
    windows=(UsersWindow(frozenset(range(5)), dt.time(8), dt.time(18), 2000.0),),
    holidays="GB-ENG",
)


def by_name(report):
    return {s.name: s for s in report.systems}


# --- a month with known windows ------------------------------------------------------------------


def month_config():
    email = system("email", users_share=0.5, sla=0.999, supplier="Acme", owner="ICT")
    finance = system("finance", users_share=0.2, direct_cost_per_hour=450.0, sla=0.995,
                     supplier="Acme", tier="gold")
    intranet = system("intranet", supplier="Borough Web")
    return config(email, finance, intranet, timezone=LONDON)


def test_a_month_of_known_windows_adds_up_by_hand(ledger):
    windows = store(
        ledger,
        window("email", at("2026-11-03 09:00"), at("2026-11-03 10:30"), share=0.5,
               before_start=at("2026-11-03 08:59:30"), before_end=at("2026-11-03 10:29:45")),
        window("email", at("2026-11-17 14:00"), at("2026-11-17 14:30"), share=0.5),
        window("finance", at("2026-11-10 12:00"), at("2026-11-10 13:00"), share=0.2,
               direct=450.0),
    )
    report = build_report(windows, month_config(), *NOV, AFTER)
    email, finance, intranet = report.systems
    # November has 30 days: 720 h = 2,592,000 s, all GMT (the clocks changed in October).
    # email: 1.5 h + 0.5 h = 7,200 s down; 2,000 users x 0.5 x H x 2 h = 2,000 H.
    assert (email.incidents, email.downtime) == (2, 7200.0)
    assert email.staff == pytest.approx(2000 * H) == pytest.approx(25_987.53, abs=0.01)
    assert email.availability == pytest.approx(1 - 7200 / 2_592_000)
    # The SLA of 99.9% allows 0.1% of 720 h = 43 min 12 s: 2 h breaches it.
    assert email.allowed_downtime == pytest.approx(2592.0)
    assert email.sla_met is False
    # Uncertainty: 30 s before the first window's start, 15 s before its end.
    assert email.uncertainty == pytest.approx(45.0)
    assert email.longest is not None and email.longest.seconds == 5400.0
    assert email.most_expensive == email.longest
    # finance: 1 h x 2,000 x 0.2 x H = 400 H of staff time, plus 1 h x £450 direct.
    assert (finance.staff, finance.direct) == (pytest.approx(400 * H), pytest.approx(450.0))
    assert finance.allowed_downtime == pytest.approx(12_960.0)  # 0.5% of 720 h = 3 h 36 min
    assert finance.sla_met is True
    assert (intranet.incidents, intranet.availability, intranet.sla_met) == (0, 1.0, None)
    assert report.cost == pytest.approx(2400 * H + 450.0)
    assert report.downtime == 10_800.0
    assert dict(report.days)["2026-11-10"] == pytest.approx(400 * H + 450.0)
    assert len(report.days) == 30


def test_systems_are_grouped_by_supplier_owner_and_tier(ledger):
    report = build_report([], month_config(), *NOV, AFTER)
    groups = {(g.label, g.value): g.systems for g in report.groups}
    assert groups == {("supplier", "Acme"): ("email", "finance"),
                      ("supplier", "Borough Web"): ("intranet",),
                      ("owner", "ICT"): ("email",), ("tier", "gold"): ("finance",)}


def test_a_window_across_the_range_edge_is_clipped_to_it(ledger):
    windows = store(ledger, window("email", at("2026-10-31 23:00"), at("2026-11-01 01:00"),
                                   share=0.5, before_start=at("2026-10-31 22:59"),
                                   before_end=at("2026-11-01 00:59")))
    email = by_name(build_report(windows, month_config(), *NOV, AFTER))["email"]
    # Only the hour after midnight is in November: 2,000 x 0.5 x H x 1 h = 1,000 H; the
    # start's uncertainty (60 s) lies in October, the end's (60 s) in November.
    assert email.downtime == HOUR
    assert email.staff == pytest.approx(1000 * H)
    assert email.uncertainty == 60.0
    assert email.windows[0].shown_start == NOV[0]


def test_an_open_window_runs_to_its_last_observation(ledger):
    windows = store(ledger, window("email", at("2026-11-30 22:00"), None, share=0.5,
                                   seen=at("2026-11-30 22:59:55")))
    report = build_report(windows, month_config(), *NOV, as_of=at("2026-11-30 23:00"))
    email = by_name(report)["email"]
    # The report runs to 23:00 on the 30th, 719 h; the agent last saw email down at 22:59:55.
    assert email.downtime == HOUR - 5
    assert email.availability == pytest.approx(1 - 3595 / (719 * HOUR))
    assert email.windows[0].end is None


# --- business hours, bank holidays, DST -----------------------------------------------------------


def test_business_hours_cut_a_window_that_runs_into_the_evening(ledger):
    cfg = config(system("email"), users=OFFICE, timezone=LONDON)
    working = english_working_days(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    tuesday = next(day for day in working if day.weekday() == 1)  # the 3rd
    windows = store(ledger, window("email", at(f"{tuesday} 17:00", LONDON),
                                   at(f"{tuesday} 19:00", LONDON)))
    email = build_report(windows, cfg, *NOV, AFTER).systems[0]
    # Tuesday 17:00-18:00 has 2,000 users, 18:00-19:00 the default 100: (2,000 + 100) x H.
    assert email.staff == pytest.approx(2100 * H)
    # Business hours in November 2026: 21 working days x 10 h = 210 h, of which 1 h was lost.
    assert email.business_availability == pytest.approx(1 - 1 / (10 * len(working)))
    assert email.availability == pytest.approx(1 - 2 / 720)


def test_cost_per_day_follows_the_users_schedule_across_midnight(ledger):
    cfg = config(system("email"), users=OFFICE, timezone=LONDON)
    working = english_working_days(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    monday, tuesday = next((a, b) for a, b in itertools.pairwise(working)
                           if a.weekday() == 0 and b.weekday() == 1)  # the 2nd and 3rd
    windows = store(ledger, window("email", at(f"{monday} 17:00", LONDON),
                                   at(f"{tuesday} 09:00", LONDON)))
    days = dict(build_report(windows, cfg, *NOV, AFTER).days)
    # Monday 17:00-18:00 at 2,000 users + 18:00-24:00 at 100 = 2,600 H; Tuesday 00:00-08:00
    # at 100 + 08:00-09:00 at 2,000 = 2,800 H.
    assert (days[str(monday)], days[str(tuesday)]) == (pytest.approx(2600 * H),
                                                       pytest.approx(2800 * H))


def test_a_bank_holiday_costs_the_default_users_and_is_not_business_hours(ledger):
    cfg = config(system("email"), users=OFFICE, timezone=LONDON)
    # Monday 31 August 2026 is the summer bank holiday in England.
    windows = store(ledger, window("email", at("2026-08-31 09:00", LONDON),
                                   at("2026-08-31 11:00", LONDON)))
    start, end = at("2026-08-31 00:00", LONDON), at("2026-09-02 00:00", LONDON)
    email = build_report(windows, cfg, start, end, AFTER).systems[0]
    # 2 h at the default 100 users: 200 H. None of it is business hours (Tuesday's 10 h
    # are the only business hours in the range), so business availability stays 100%.
    assert email.staff == pytest.approx(200 * H)
    assert email.business_availability == 1.0
    assert email.availability == pytest.approx(1 - 2 / 48)


def test_the_day_the_clocks_go_forward_has_23_hours(ledger):
    cfg = config(system("email"), users=OFFICE, timezone=LONDON)
    # Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST. 00:30 GMT to 02:30 BST is 1 real hour.
    windows = store(ledger, window("email", at("2026-03-29 00:30", LONDON),
                                   at("2026-03-29 02:30", LONDON)))
    start, end = at("2026-03-29 00:00", LONDON), at("2026-03-30 00:00", LONDON)
    report = build_report(windows, cfg, start, end, AFTER)
    email = report.systems[0]
    assert email.downtime == HOUR
    assert email.staff == pytest.approx(100 * H)  # a Sunday: the default 100 users
    assert email.availability == pytest.approx(1 - 1 / 23)
    assert report.days == (("2026-03-29", pytest.approx(100 * H)),)


# --- maintenance, causes, the organisation cap --------------------------------------------


def test_planned_maintenance_is_left_out_of_period_downtime_and_cost(ledger):
    weekly = Maintenance(cron="0 22 * * sun", duration=2 * HOUR)
    cfg = config(system("email", maintenance=(weekly,), sla=0.999), timezone=LONDON)
    # Down Sunday 8 November 21:00-23:00; maintenance runs from 22:00.
    windows = store(ledger, window("email", at("2026-11-08 21:00"), at("2026-11-08 23:00")))
    email = build_report(windows, cfg, *NOV, AFTER).systems[0]
    # Sundays in November 2026: 1, 8, 15, 22, 29: 5 x 2 h = 10 h of maintenance.
    assert email.maintenance == 10 * HOUR
    assert email.period == 710 * HOUR
    assert email.downtime == HOUR  # 21:00-22:00 only
    assert email.staff == pytest.approx(2000 * H)
    assert email.allowed_downtime == pytest.approx(0.001 * 710 * HOUR)


def test_a_planned_period_from_the_ledger_is_left_out_too(ledger):
    windows = store(ledger, window("email", at("2026-11-05 10:00"), at("2026-11-05 12:00")))
    planned = {"email": [(at("2026-11-05 11:00"), at("2026-11-05 13:00"))]}
    email = build_report(windows, config(system("email")), *NOV, AFTER,
                         planned=planned).systems[0]
    assert (email.downtime, email.maintenance) == (HOUR, 2 * HOUR)


def test_a_system_down_behind_its_root_cause_costs_only_direct_costs(ledger):
    cfg = config(system("network"), system("finance", depends_on=("network",),
                                           direct_cost_per_hour=450.0))
    windows = store(
        ledger,
        window("network", at("2026-11-04 10:00"), at("2026-11-04 11:00")),
        window("finance", at("2026-11-04 10:00"), at("2026-11-04 11:00"), cause="network",
               direct=450.0),
    )
    network, finance = build_report(windows, cfg, *NOV, AFTER).systems
    assert network.staff == pytest.approx(2000 * H)
    assert (finance.staff, finance.direct, finance.downtime) == (0.0, 450.0, HOUR)


def test_overlapping_windows_never_cost_more_than_everyone_s_time(ledger):
    cfg = config(system("a", users_share=0.8), system("b", users_share=0.6, impact=0.5))
    windows = store(
        ledger,
        window("a", at("2026-11-04 10:00"), at("2026-11-04 12:00"), share=0.8,
               source="imported"),
        window("b", at("2026-11-04 11:00"), at("2026-11-04 13:00"), share=0.6, impact=0.5,
               source="imported"),
    )
    a, b = build_report(windows, cfg, *NOV, AFTER).systems
    # 10-11: a alone takes 0.8 of the 2,000 people's time: 1,600 H. 12-13: b alone, 0.6 x 0.5
    # = 0.3 of it: 600 H. 11-12: together they take 1 - 0.2 x 0.7 = 0.86 of it, not 1.1,
    # shared in proportion to -ln(1 - x): a ln 5, b -ln 0.7.
    both = 1 - (1 - 0.8) * (1 - 0.3)
    share_a = math.log(5) / (math.log(5) - math.log(0.7))
    assert a.staff == pytest.approx(1600 * H + 2000 * H * both * share_a)
    assert b.staff == pytest.approx(2000 * H * both * (1 - share_a) + 600 * H)
    assert a.staff + b.staff == pytest.approx((1600 + 2000 * 0.86 + 600) * H)


def test_cost_stretches_combines_overlaps_and_splits_at_midnight():
    every = "everyone"
    full = SystemBasis(((every, 1.0),), impact=1.0, degraded_impact=0.0,
                       direct_cost_per_hour=0.0)
    half = SystemBasis(((every, 1.0),), impact=0.5, degraded_impact=0.0,
                       direct_cost_per_hour=60.0)
    basis = CostBasis("UTC", (GroupBasis(every, UsersSchedule(100.0), 10.0),),
                      {"a": full, "b": half})
    midnight = at("2026-11-05 00:00")
    t0 = midnight - 1800
    stretches = [Stretch(1, 1, "b", "down", t0, t0 + 7200),
                 Stretch(2, 2, "a", "down", t0 + 3600, t0 + 7200)]
    money = cost_stretches(stretches, [(t0, basis)], ZoneInfo("UTC"), t0, t0 + 7200)
    # Hour 1: b alone takes half of 100 people's time at £10: £500, half before midnight.
    # Hour 2: a takes all of it, so b's outage costs nothing more: a gets the £1,000.
    assert money[1].staff == pytest.approx(500.0)
    assert money[2].staff == pytest.approx(1000.0)
    assert money[1].direct == pytest.approx(120.0)  # 2 h at £60
    assert dict(money[1].days) == pytest.approx({"2026-11-04": 250.0 + 30.0,
                                                 "2026-11-05": 250.0 + 90.0})


def test_the_report_agrees_with_the_live_engine_on_overlapping_outages(ledger):
    cfg = config(system("a"), system("b", users_share=0.6, impact=0.5))
    t0 = at("2026-11-04 10:00")
    engine = Engine(cfg, t0 - 30)
    batches = [engine.observe(name, UP, t0 - 30) for name in ("a", "b")]
    for k in range(3):  # both fail together from t0; confirmed at t0 + 10
        batches += [engine.observe(name, DOWN, t0 + 5 * k) for name in ("a", "b")]
    batches.append(engine.account(t0 + 1800))
    for k in range(2):  # a recovers first, at t0 + 1800; b an hour after t0
        batches.append(engine.observe("a", UP, t0 + 1800 + 5 * k))
    for k in range(2):
        batches.append(engine.observe("b", UP, t0 + HOUR + 5 * k))
    for batch in batches:
        ledger.submit(batch).result(timeout=10)
    windows = ledger.report_windows(*NOV)
    report = build_report(windows, cfg, *NOV, AFTER)
    recorded = sum(w.record.amounts.cost for w in windows)
    # Live, a took the first 10 s in full (it was confirmed first, and the backdated part of
    # b found no headroom left); the report shares them 1 : 0.3. The split moves by pennies,
    # the organisation's total does not: 30 min of both (capped: everyone, 2,000 H / 2) plus
    # 30 min of b alone (600 H / 2) = 1,300 H.
    assert report.cost == pytest.approx(recorded) == pytest.approx(1300 * H)


def test_time_before_a_system_was_first_watched_is_stated_as_unobserved(ledger):
    cfg = config(system("email"), system("payroll"))
    first = {"email": at("2026-11-21 00:00")}  # payroll was never watched at all
    email, payroll = build_report([], cfg, *NOV, AFTER, first_seen=first).systems
    assert (email.unobserved, payroll.unobserved) == (20 * 24 * HOUR, 30 * 24 * HOUR)
    assert email.availability == 1.0  # counted as up, and the report says so

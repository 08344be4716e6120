"""The cost section (agent.config.cost): concurrent users' weekly windows (days, hours),
bank holidays, groups of users and the cost figures they inherit, shift rates, and figures too
large to add up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from agent.model import UserGroup, UsersSchedule, UsersWindow

from .conftest import MINIMAL, SYSTEMS, load, problems

# --- users windows and holidays -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param("mon-fri", {0, 1, 2, 3, 4}, id="range"),
        pytest.param('"sat,sun"', {5, 6}, id="comma-list"),
        pytest.param("mon", {0}, id="one-day"),
        pytest.param("mon-sun", set(range(7)), id="whole-week"),
        pytest.param('"tue-thu,sat"', {1, 2, 3, 5}, id="range-and-day"),
        pytest.param("fri-mon", {4, 5, 6, 0}, id="wrapping-range"),
        pytest.param("[mon, Wednesday]", {0, 2}, id="yaml-list-and-full-name"),
    ],
)
def test_users_window_days(tmp_path: Path, days: str, expected: set[int]) -> None:
    schedule = f'{{default: 1, windows: [{{days: {days}, hours: "08:00-18:00", users: 5}}]}}'
    text = MINIMAL.replace("concurrent_users: 100", f"concurrent_users: {schedule}")
    assert load(tmp_path, text).cost.users.windows[0].days == frozenset(expected)


@pytest.mark.parametrize(
    ("hours", "start", "end"),
    [
        pytest.param("08:00-18:00", dt.time(8), dt.time(18), id="daytime"),
        pytest.param("22:00-06:00", dt.time(22), dt.time(6), id="across-midnight"),
        pytest.param("00:00-24:00", dt.time(0), dt.time(0), id="whole-day"),
        pytest.param("18:30-24:00", dt.time(18, 30), dt.time(0), id="to-midnight"),
    ],
)
def test_users_window_hours(tmp_path: Path, hours: str, start: dt.time, end: dt.time) -> None:
    schedule = f'{{default: 1, windows: [{{days: mon, hours: "{hours}", users: 5}}]}}'
    text = MINIMAL.replace("concurrent_users: 100", f"concurrent_users: {schedule}")
    window = load(tmp_path, text).cost.users.windows[0]
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        pytest.param("US", None, id="country-only"),
        pytest.param("GB-SCT", None, id="subdivision"),
        pytest.param(
            "XX",
            "no bank holidays known for country 'XX' (use e.g. GB-ENG)",
            id="unknown-country",
        ),
    ],
)
def test_holidays_are_checked_against_the_holidays_package(
    tmp_path: Path, spec: str, error: str | None
) -> None:
    text = MINIMAL.replace(
        "concurrent_users: 100", f"concurrent_users: {{default: 1, holidays: {spec}}}"
    )
    if error is None:
        assert load(tmp_path, text).cost.users.holidays == spec
    else:
        assert problems(tmp_path, text) == [
            f"config.yaml:1: cost.concurrent_users.holidays: {error}"
        ]


# --- groups of users ------------------------------------------------------------------------------


GROUPS = """\
cost:
  annual_cost_per_user: 25000
  working_hours_per_year: 1850
  groups:
    office-staff:
      concurrent_users: {default: 60, windows: [{days: mon-fri, hours: "08:00-18:00", users: 1500}]}
    part-time:
      working_hours_per_year: 1000
      concurrent_users: 200
    managers:
      annual_cost_per_user: 40000
      concurrent_users: 30
    care-workers:
      description: "Residential care"
      annual_cost_per_user: 24000
      working_hours_per_year: 1950
      concurrent_users:
        default: 300
        windows: [{days: mon-sun, hours: "22:00-07:00", users: 90, hourly_cost_per_user: 16.4}]
    contact-centre:
      hourly_cost_per_user: 14.2
      concurrent_users: 80
systems:
  - name: core
    probe: {type: tcp, target: "core.example.internal:443"}
    users: {contact-centre: 0.5, office-staff: 1}
  - name: payments
    probe: {type: tcp, target: "pay.example.internal:443"}
    direct_cost_per_hour: 1200
"""


def test_groups_inherit_the_cost_figures_they_do_not_give(tmp_path: Path) -> None:
    office_hours = UsersWindow(frozenset(range(5)), dt.time(8), dt.time(18), 1500)
    night = UsersWindow(frozenset(range(7)), dt.time(22), dt.time(7), 90, hourly_cost_per_user=16.4)
    assert load(tmp_path, GROUPS).cost.groups == (
        # nothing given: cost's annual cost over cost's working hours
        UserGroup("office-staff", UsersSchedule(60, (office_hours,)), 25000 / 1850, 25000, 1850),
        # its own working hours: cost's annual cost over them
        UserGroup("part-time", UsersSchedule(200), 25.0, 25000, 1000),
        # its own annual cost: over cost's working hours
        UserGroup("managers", UsersSchedule(30), 40000 / 1850, 40000, 1850),
        UserGroup("care-workers", UsersSchedule(300, (night,)), 24000 / 1950, 24000, 1950),
        # an hourly cost replaces cost's annual cost
        UserGroup("contact-centre", UsersSchedule(80), 14.2, None, 1924),
    )


def test_a_system_names_its_share_of_each_group_in_order(tmp_path: Path) -> None:
    config = load(tmp_path, GROUPS)
    core, payments = config.systems
    assert core.users == (("contact-centre", 0.5), ("office-staff", 1.0))
    assert config.shares(core) == {"contact-centre": 0.5, "office-staff": 1.0}
    assert (payments.users, config.shares(payments)) == ((), {})  # direct costs only


def test_with_groups_the_cost_section_keeps_its_figures_as_defaults(tmp_path: Path) -> None:
    cost = load(tmp_path, GROUPS).cost
    assert (cost.annual_cost_per_user, cost.working_hours_per_year) == (25000, 1850)
    assert cost.hourly_cost_per_user == 25000 / 1850
    assert cost.user_groups() == cost.groups


def test_without_groups_everyone_is_one_implicit_group(tmp_path: Path) -> None:
    cost = load(tmp_path, MINIMAL).cost
    assert cost.groups == ()
    assert cost.user_groups() == (
        UserGroup("everyone", UsersSchedule(100), 25000 / 1924, 25000, 1924),
    )


def test_a_window_without_groups_may_carry_a_shift_rate(tmp_path: Path) -> None:
    schedule = '{default: 1, windows: [{days: sat-sun, hours: "00:00-24:00", users: 50, ' \
               "hourly_cost_per_user: 19.5}]}"
    text = MINIMAL.replace("concurrent_users: 100", f"concurrent_users: {schedule}")
    [window] = load(tmp_path, text).cost.users.windows
    assert (window.users, window.hourly_cost_per_user) == (50, 19.5)


@pytest.mark.fault("A cost figure so large its money overflows (1.0e+308 an hour, or an annual "
                   "cost over 1e-300 working hours)", "check refuses it with file:line; the "
                   "API could never emit Infinity", area="Configuration")
@pytest.mark.parametrize(("cost", "where"), [
    pytest.param("{hourly_cost_per_user: 1.0e+16, concurrent_users: 100}",
                 "cost.hourly_cost_per_user", id="hourly"),
    pytest.param('{hourly_cost_per_user: 1, concurrent_users: {default: 1, windows: [{days: mon, '
                 'hours: "08:00-18:00", users: 1.0e+10, hourly_cost_per_user: 1.0e+300}]}}',
                 "cost.concurrent_users.windows[0].hourly_cost_per_user", id="shift-rate"),
])
def test_a_figure_too_large_to_integrate_is_refused(tmp_path: Path, cost: str,
                                                     where: str) -> None:
    # Found by review: 1.0e+308 an hour passed check, then made counters +Inf and the API
    # emit Infinity, which is not JSON.
    text = f"cost: {cost}\n{SYSTEMS}"
    assert problems(tmp_path, text) == [f"config.yaml:1: {where}: must be at most 1e+15 in size"]

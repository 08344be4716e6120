"""The services list (agent.config.services): what it reads, and each mistake named at its
file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import HOURLY

from agent.config.summary import peak_costs
from agent.services import ServiceSpec

from .conftest import MINIMAL, load, problems

PAIR = MINIMAL + """\
  - name: exch-1
    probe: {type: tcp, target: "exch-1.example.internal:443"}
  - name: exch-2
    probe: {type: tcp, target: "exch-2.example.internal:443"}
    users_share: 0.1
services:
  - name: exchange
    members: [exch-1, exch-2]
"""


def test_a_service_reads_with_its_rules_and_its_members_carry_no_users(tmp_path: Path) -> None:
    config = load(tmp_path, PAIR + "    users_share: 0.8\n    degraded_impact: 0.2\n"
                  "    depends_on: [core]\n")
    exchange = config.system("exchange")
    assert exchange.check.spec == ServiceSpec(("exch-1", "exch-2"), down_when=2,
                                              degraded_when=1)
    assert (exchange.users_share, exchange.degraded_impact, exchange.depends_on) == (
        0.8, 0.2, ("core",))
    assert config.system("exch-1").users_share == 0.0  # a member: the service has the users
    assert config.system("exch-2").users_share == 0.1  # unless it says so itself
    assert config.system("core").users_share == 1.0  # not a member


def test_members_take_no_users_or_direct_cost_from_defaults(tmp_path: Path) -> None:
    """Found by review: a redundant pair billed defaults' direct cost three times, and a
    service within a service carried every user."""
    text = PAIR.replace("cost:", "defaults: {direct_cost_per_hour: 50, users_share: 0.5}\ncost:")
    config = load(tmp_path, text + """\
  - name: outer
    members: [exchange, core]
""")
    assert [(config.system(n).users_share, config.system(n).direct_cost_per_hour)
            for n in ("exch-1", "exch-2", "exchange", "outer")] == [
        (0.0, 0.0), (0.1, 0.0), (0.0, 0.0), (0.5, 50.0)]


def test_n_of_m_rules(tmp_path: Path) -> None:
    text = PAIR.replace("members: [exch-1, exch-2]", "members: [exch-1, exch-2, core]\n"
                        '    down_when: "2 of 3"\n    degraded_when: "1 of 3"')
    spec = load(tmp_path, text).system("exchange").check.spec
    assert (spec.down_when, spec.degraded_when) == (2, 1)


def test_every_mistake_is_named_at_its_line(tmp_path: Path) -> None:
    text = PAIR.replace("members: [exch-1, exch-2]", "members: [exch-1, exch-2, exch-9, exch-1]\n"
                        '    down_when: "3 of 2"') + """\
  - name: outer
    members: [outer]
    down_when: all
    degraded_when: most
  - name: core
    members: [exch-1]
"""
    assert problems(tmp_path, text) == [
        "config.yaml:12: services[0].members[2]: unknown member 'exch-9'; did you mean "
        "'exch-2'?",
        "config.yaml:12: services[0].members[3]: 'exch-1' is listed twice",
        "config.yaml:13: services[0].down_when: '3 of 2': N cannot be more than M",
        "config.yaml:15: services[1].members[0]: a service cannot be its own member",
        "config.yaml:17: services[1].degraded_when: expected all, any or \"N of M\" "
        "(e.g. \"2 of 2\"), got 'most'",
        "config.yaml:18: services[2].name: duplicate system name 'core' (first on line 3)",
    ]


def test_cycles_through_members_and_depends_on_are_refused(tmp_path: Path) -> None:
    text = PAIR.replace("    users_share: 0.1\n", "    depends_on: [exchange]\n")
    assert problems(tmp_path, text) == [
        "config.yaml:12: services[0].members[1]: dependency cycle: "
        "exch-2 -> exchange -> exch-2",
    ]


def test_a_degraded_rule_needing_more_members_than_the_down_rule_is_refused(
        tmp_path: Path) -> None:
    text = PAIR.replace("members: [exch-1, exch-2]",
                        "members: [exch-1, exch-2]\n    down_when: any\n    degraded_when: all")
    assert problems(tmp_path, text) == [
        "config.yaml:14: services[0].degraded_when: needs more members (2) than down_when "
        "(any): the service would be down first",
    ]


def test_a_service_cannot_take_a_probe_or_timing(tmp_path: Path) -> None:
    lines = problems(tmp_path, PAIR + "    interval: 30s\n")
    assert len(lines) == 1
    assert lines[0].startswith("config.yaml:13: services[0].interval: unknown key for a service "
                               "(it has no probe or timing: its members do)")


def test_a_system_counted_twice_by_one_service_is_refused(tmp_path: Path) -> None:
    text = PAIR + """\
  - name: outer
    members: [exchange, exch-1]
"""
    assert problems(tmp_path, text) == [
        "config.yaml:14: services[1].members: 'exch-1' would count twice towards its rule, "
        "through 'exchange' and 'exch-1': list it once",
    ]


def test_alerts_may_name_a_service(tmp_path: Path) -> None:
    text = PAIR + """\
notifiers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/hook"}
alerts:
  - {name: mail-down, condition: state, notify: [hook], systems: [exchange]}
"""
    assert load(tmp_path, text).alerts[0].systems == ("exchange",)


def test_a_cycle_of_services_is_reported_once_as_a_cycle(tmp_path: Path) -> None:
    text = PAIR + """\
  - name: left
    members: [right, exch-1]
  - name: right
    members: [left, exch-2]
"""
    lines = problems(tmp_path, text)
    assert len(lines) == 1 and "dependency cycle: " in lines[0], lines


def test_check_s_peak_of_a_dependency_counts_the_services_down_behind_it(tmp_path: Path) -> None:
    """Found by review: `check` left out a service whose members all depend on a network."""
    text = PAIR.replace('    probe: {type: tcp, target: "exch-1.example.internal:443"}',
                        '    probe: {type: tcp, target: "exch-1.example.internal:443"}\n'
                        "    depends_on: [core]").replace(
        '    probe: {type: tcp, target: "exch-2.example.internal:443"}',
        '    probe: {type: tcp, target: "exch-2.example.internal:443"}\n'
        "    depends_on: [core]").replace("  - name: core\n",
                                       "  - name: core\n    users_share: 0.5\n")
    config = load(tmp_path, text + "    users_share: 0.8\n")
    peaks = peak_costs(config)
    # core down: both members behind it, so the service (0.8) too, and exch-2's own 0.1,
    # with core's 0.5: 1 - 0.5 x 0.2 x 0.9 = 0.91
    assert peaks["core"] == pytest.approx(100 * HOURLY * 0.91)
    assert peaks["exchange"] == pytest.approx(100 * HOURLY * 0.8)

"""The peak cost per hour `check` prints for each system (agent.config.summary.peak_costs) is
what the agent bills a full outage of it: the system and every system that depends on it down
behind it, each group's loss combined as 1 - prod(1 - share x impact) and all attributed to
this root cause, plus its own direct cost. Hand figures: H = £25,000 / 1,924 h = £12.99376
per user-hour; 2,000 users cost £25,987.53 an hour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.cli import main
from agent.config.summary import peak_costs, systems_table

from .conftest import load, write

EVERYONE = 2000 * 25000 / 1924  # £25,987.53 an hour

CORE_AND_EMAIL = """\
cost: {annual_cost_per_user: 25000, concurrent_users: 2000}
systems:
  - name: network-core
    probe: {type: tcp, target: "core.example.internal:443"}
    users_share: 0.3
  - name: email
    depends_on: [network-core]
    probe: {type: tcp, target: "mail.example.internal:443"}
    users_share: 0.9
    impact: 0.5
"""


def test_a_system_others_depend_on_is_costed_with_their_users_down_behind_it(
    tmp_path: Path,
) -> None:
    # network-core: 2,000 x £12.99376 x (1 - (1 - 0.3)(1 - 0.45)) = £25,987.53 x 0.615;
    # alone it would be £7,796.26 (x 0.3). email, which nothing depends on: x 0.45.
    peaks = peak_costs(load(tmp_path, CORE_AND_EMAIL))
    assert round(peaks["network-core"], 2) == 15982.33
    assert round(peaks["email"], 2) == 11694.39
    assert round(EVERYONE * 0.615, 2) == 15982.33


def test_check_prints_the_figure_the_agent_bills(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-c", str(write(tmp_path, CORE_AND_EMAIL))]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^network-core +tcp \S+ +30% +£15,982\.33$", out, re.MULTILINE), out
    assert re.search(r"^email +tcp \S+ +90% +£11,694\.39$", out, re.MULTILINE), out
    assert "£7,796.26" not in out


def test_dependants_of_dependants_are_down_behind_the_root_cause_too(tmp_path: Path) -> None:
    # a <- b <- c, each taking half of everyone's time: a 1 - 0.5^3 = 0.875, b 0.75, c 0.5
    text = "cost: {annual_cost_per_user: 25000, concurrent_users: 2000}\nsystems:\n" + "".join(
        f"  - name: {name}\n    probe: {{type: tcp, target: '{name}.example:1'}}\n"
        f"    users_share: 0.5\n" + (f"    depends_on: [{on}]\n" if on else "")
        for name, on in (("a", ""), ("b", "a"), ("c", "b")))
    peaks = peak_costs(load(tmp_path, text))
    assert {name: round(cost, 2) for name, cost in peaks.items()} == {
        "a": 22739.09, "b": 19490.64, "c": 12993.76}


def test_only_the_systems_own_direct_cost_is_added_as_the_agent_bills_it(
    tmp_path: Path,
) -> None:
    # a dependant's direct cost stays on its own series (docs/cost-model.md): network-core
    # is £15,982.33 + its own £100, email £11,694.39 + £40
    text = CORE_AND_EMAIL.replace("users_share: 0.3\n", "users_share: 0.3\n"
                                  "    direct_cost_per_hour: 100\n")
    text += "    direct_cost_per_hour: 40\n"
    peaks = peak_costs(load(tmp_path, text))
    assert round(peaks["network-core"], 2) == 16082.33
    assert round(peaks["email"], 2) == 11734.39


GROUPS = """\
cost:
  annual_cost_per_user: 25000
  groups:
    office: {concurrent_users: 1000}
    care: {concurrent_users: 500, hourly_cost_per_user: 20}
systems:
  - name: network-core
    probe: {type: tcp, target: "core.example.internal:443"}
    users: {office: 0.3, care: 0.5}
  - name: email
    depends_on: [network-core]
    probe: {type: tcp, target: "mail.example.internal:443"}
    users: {office: 0.9, care: 0.2}
    impact: 0.5
"""


def test_with_groups_each_groups_loss_is_combined_over_the_root_cause_and_its_dependants(
    tmp_path: Path,
) -> None:
    # office, 1,000 x £12.99376 = £12,993.76 an hour: 1 - 0.7 x 0.55 = 0.615 of it, £7,991.16
    # care, 500 x £20 = £10,000 an hour: 1 - 0.5 x (1 - 0.2 x 0.5) = 0.55 of it, £5,500.00
    # email alone: office 0.45 (£5,847.19) and care 0.1 (£1,000.00)
    peaks = peak_costs(load(tmp_path, GROUPS))
    assert round(peaks["network-core"], 2) == round(1000 * 25000 / 1924 * 0.615 + 5500, 2)
    assert round(peaks["network-core"], 2) == 13491.16
    assert round(peaks["email"], 2) == 6847.19


def test_the_table_says_how_systems_others_depend_on_are_costed(tmp_path: Path) -> None:
    table = systems_table(load(tmp_path, CORE_AND_EMAIL))
    assert table.splitlines()[-1] == (
        "Systems others depend on are costed with those down behind them, as the agent "
        "bills them.")
    alone = CORE_AND_EMAIL.replace("    depends_on: [network-core]\n", "")
    assert "depend" not in systems_table(load(tmp_path, alone))

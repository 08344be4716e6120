"""The versioned cost basis: what it holds, its canonical form, and the agent recording it in
the ledger at start and at each reload that changes it (so history keeps its basis)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from support.helpers import HOURLY, config, system
from support.ledgerparts import write_config

from agent.basis import CostBasis, basis_of, window_basis
from agent.config import load_config
from agent.daemon import Agent
from agent.ledger import Ledger
from agent.model import UsersSchedule, UsersWindow
from agent.report.costing import eras_in_force
from agent.report.source import read_report
from agent.report.words import basis_text
from agent.service import reload

SCHEDULE = UsersSchedule(100.0, (UsersWindow(frozenset(range(5)), dt.time(8), dt.time(18),
                                             2000.0, hourly_cost_per_user=20.0),), "GB-ENG")
SYSTEMS = """\
- name: network
  probe: {type: tcp, target: "127.0.0.1:9"}
- name: email
  depends_on: [network]
  probe: {type: tcp, target: "127.0.0.1:9"}
  users_share: 0.5
  direct_cost_per_hour: 40
"""


def test_a_basis_survives_its_canonical_json_unchanged():
    basis = basis_of(config(system("core"), system("email", depends_on=("core",),
                                                   users_share=0.3, degraded_impact=0.2),
                            users=SCHEDULE, timezone="Europe/London"))
    again = CostBasis.from_json(basis.to_json())
    assert again.to_json() == basis.to_json() and again.digest == basis.digest
    assert again.systems["email"].shares == (("everyone", 0.3),)
    assert again.groups[0].users == SCHEDULE


def test_any_change_of_what_costs_money_changes_the_digest():
    base = basis_of(config(system("email")))
    assert basis_of(config(system("email"))).digest == base.digest
    for changed in (config(system("email", impact=0.9)), config(system("email"), users=1999),
                    config(system("email"), hourly=13.0),
                    config(system("email", direct_cost_per_hour=1.0))):
        assert basis_of(changed).digest != base.digest


def test_a_window_states_its_basis_in_checkable_words():
    basis = basis_of(config(system("email", users_share=0.5, direct_cost_per_hour=40.0)))
    stated = window_basis(basis, "email", 0.8, 0.0)
    assert (stated.users_at_start, stated.users_share, stated.impact) == (2000.0, 0.5, 0.8)
    assert (stated.hourly_cost_per_user, stated.direct_cost_per_hour) == (HOURLY, 40.0)


async def test_the_agent_records_its_basis_at_start_and_when_a_reload_changes_it(
        tmp_path: Path):
    path = write_config(tmp_path, SYSTEMS, ledger=str(tmp_path / "ledger.db"))
    agent = Agent(load_config(path))
    await agent.start()
    try:
        assert agent.probing is not None
        agent.probing.pause()
        book = Ledger(tmp_path / "ledger.db", site="shire-hall")
        [(first, recorded)] = book.bases()
        assert recorded.digest == agent.engine.basis.digest
        assert await reload(agent, str(path))  # the same basis: nothing new
        assert len(book.bases()) == 1
        write_config(tmp_path, SYSTEMS, users="1500", ledger=str(tmp_path / "ledger.db"))
        assert await reload(agent, str(path))
        [(_, old), (since, new)] = book.bases()
        assert since >= first
        assert (old.groups[0].users.default, new.groups[0].users.default) == (2000.0, 1500.0)
    finally:
        await agent.stop()
    restarted = Agent(load_config(path))  # the same config again: no new row
    await restarted.start()
    try:
        assert len(Ledger(tmp_path / "ledger.db", site="shire-hall").bases()) == 2
    finally:
        await restarted.stop()


async def test_one_start_with_one_config_reports_one_basis(tmp_path: Path):
    # Found by review: a report over a range that began before the agent's first start said
    # "2 bases were in force": the one basis recorded counted once for the time before it
    # (the earliest holds there) and again from when it was recorded.
    path = write_config(tmp_path, SYSTEMS, ledger=str(tmp_path / "ledger.db"))
    now = [dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()]
    agent = Agent(load_config(path), clock=lambda: now[0])
    await agent.start()
    try:
        assert agent.probing is not None
        agent.probing.pause()
        now[0] += 30
        await agent.checkpoint()
    finally:
        await agent.stop()
    assert len(Ledger(tmp_path / "ledger.db", site="shire-hall").bases()) == 1
    report = read_report(load_config(path), now[0] - 7 * 86400, now[0] + 1, now[0] + 1)
    assert report.model.bases == 1
    assert "bases were in force" not in basis_text(report.model)


def test_a_basis_is_in_force_once_however_often_it_was_recorded():
    one = basis_of(config(system("email")))
    two = basis_of(config(system("email"), users=1500))
    assert eras_in_force([(100.0, one)], 0.0, 1000.0) == [(0.0, one)]
    assert eras_in_force([(100.0, one), (200.0, one), (300.0, two)], 0.0, 1000.0) == [
        (0.0, one), (300.0, two)]
    assert eras_in_force([(100.0, one), (300.0, two)], 200.0, 1000.0) == [
        (200.0, one), (300.0, two)]

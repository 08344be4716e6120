"""Tests for agent.shard: N agents share one config's systems by rendezvous hashing, stably,
each system owned exactly once, dependency trees kept on one agent, canaries on all."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import config, system

from agent.cli import build_parser, with_overrides
from agent.config import ConfigError, load_config, summary
from agent.daemon import Agent
from agent.service import reload
from agent.shard import group_keys, keeps_window, owner, parse_shard, share

NAMES = [f"system-{i:04d}" for i in range(1000)]


def systems(names: list[str]) -> tuple:
    return tuple(system(name) for name in names)


def test_owner_is_the_same_in_another_python_process():
    code = ("from agent.shard import owner; "
            "print(','.join(str(owner(f'system-{i:04d}', 4)) for i in range(50)))")
    env_runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, env={"PYTHONHASHSEED": seed}).stdout.strip()
                for seed in ("1", "2")]
    here = ",".join(str(owner(f"system-{i:04d}", 4)) for i in range(50))
    assert env_runs == [here, here]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_every_system_is_owned_by_exactly_one_of_n_shards(count):
    everything = systems(NAMES)
    shares = [share(everything, (k, count)) for k in range(1, count + 1)]
    owned = [s.name for part in shares for s in part]
    assert sorted(owned) == NAMES  # none lost, none twice
    assert all(len(part) > 1000 / count * 0.8 for part in shares)  # and roughly even


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 9])
def test_adding_an_agent_moves_only_about_one_in_n_plus_one_systems(count):
    before = {name: owner(name, count) for name in NAMES}
    after = {name: owner(name, count + 1) for name in NAMES}
    moved = [name for name in NAMES if before[name] != after[name]]
    assert all(after[name] == count + 1 for name in moved)  # only to the new agent
    expected = len(NAMES) / (count + 1)
    assert abs(len(moved) - expected) < 0.25 * expected + 10


def test_a_dependency_tree_stays_on_one_shard_and_goes_where_its_root_goes():
    tree = (system("core"), system("email", depends_on=("core",)),
            system("calendar", depends_on=("email",)), system("intranet", depends_on=("core",)))
    everything = tree + systems(NAMES[:200])
    for count in range(1, 6):
        holders = [k for k in range(1, count + 1)
                   if {s.name for s in share(everything, (k, count))} & {"core", "email"}]
        assert len(holders) == 1
        owned = {s.name for s in share(everything, (holders[0], count))}
        assert {"core", "email", "calendar", "intranet"} <= owned
        assert holders[0] == owner("core", count)


def test_a_group_with_two_roots_is_keyed_by_its_first_root_whatever_the_order():
    group = [system("zeta"), system("alpha"), system("app", depends_on=("zeta", "alpha"))]
    assert set(group_keys(group).values()) == {"alpha"}
    assert group_keys(group[::-1]) == group_keys(group)


def test_adding_a_dependant_does_not_move_its_group():
    tree = [system("core"), system("email", depends_on=("core",))]
    grown = [*tree, system("aaa-first-by-name", depends_on=("email",))]
    assert set(group_keys(grown).values()) == {"core"}


@pytest.mark.parametrize("count", [2, 3, 5])
def test_each_open_window_of_a_shared_site_is_taken_up_by_exactly_one_shard(count):
    every = systems([f"sys-{i}" for i in range(60)])
    configured = {s.name for s in every}
    orphans = [f"removed-{i}" for i in range(20)]  # windows of systems nobody watches now
    for name in [*configured, *orphans]:
        takers = [k for k in range(1, count + 1) if keeps_window(
            name, {s.name for s in share(every, (k, count))}, configured, (k, count))]
        assert len(takers) == 1, name
    assert keeps_window("anything", set(), configured, None)  # unsharded: all its site's


@pytest.mark.parametrize("text", ["1/1", "2/4", " 3 / 3 "])
def test_shard_text_parses(text):
    k, n = parse_shard(text)
    assert 1 <= k <= n


@pytest.mark.parametrize(("text", "message"), [
    ("0/4", "0/4: K must be between 1 and N"),
    ("5/4", "5/4: K must be between 1 and N"),
    ("2", "expected K/N, e.g. 2/4 for the second of four agents"),
    ("-1/4", "expected K/N, e.g. 2/4 for the second of four agents"),
], ids=["zero", "beyond-n", "no-slash", "negative"])
def test_bad_shard_text_says_why(text, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_shard(text)


CONFIG = """\
agent:
  ledger: ledger.db
  {shard}
  canaries: [{{type: tcp, target: "127.0.0.1:9"}}]
cost: {{currency: GBP, hourly_cost_per_user: 10, concurrent_users: 100}}
systems:
{systems}
"""


def write_config(path: Path, names: list[str], shard: str = "") -> Path:
    lines = "\n".join(f'  - {{name: {n}, probe: {{type: tcp, target: "127.0.0.1:9"}}}}'
                      for n in names)
    path.write_text(CONFIG.format(shard=f'shard: "{shard}"' if shard else "", systems=lines))
    return path


def test_agent_shard_key_is_read_and_validated(tmp_path):
    assert load_config(write_config(tmp_path / "c.yaml", ["a"], "2/4")).agent.shard == (2, 4)
    assert load_config(write_config(tmp_path / "c.yaml", ["a"])).agent.shard is None
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path / "c.yaml", ["a"], "5/4"))
    assert [p.message for p in caught.value.problems] == ["5/4: K must be between 1 and N"]
    assert [p.path for p in caught.value.problems] == ["agent.shard"]


def test_run_shard_option_overrides_the_config():
    args = build_parser().parse_args(["run", "-c", "c.yaml", "--shard", "3/5"])
    assert args.shard == (3, 5)
    assert with_overrides(config(), None, None, args.shard).agent.shard == (3, 5)
    assert with_overrides(config(), None, None, None).agent.shard is None


def test_run_shard_option_refuses_a_bad_shard_as_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", "-c", "c.yaml", "--shard", "4/3"])
    assert exited.value.code == 2
    assert "4/3: K must be between 1 and N" in capsys.readouterr().err


def test_agent_probes_only_its_share_and_every_canary(tmp_path):
    names = NAMES[:40]
    loaded = load_config(write_config(tmp_path / "c.yaml", names, "2/3"))
    agent = Agent(loaded)
    mine = [name for name in names if owner(name, 3) == 2]
    assert [s.name for s in agent.config.systems] == mine
    assert set(agent.engine.lives) == {*mine, "canary-1"}


async def test_reload_keeps_the_running_shard_and_shares_the_new_systems(tmp_path):
    path = write_config(tmp_path / "c.yaml", NAMES[:20], "1/2")
    loaded = load_config(path)
    override = dataclasses.replace(loaded, agent=dataclasses.replace(loaded.agent, shard=(2, 2)))
    agent = Agent(override)  # as `run --shard 2/2` would start it
    await agent.start()
    try:
        write_config(path, NAMES[:30], "1/2")
        assert await reload(agent, str(path))
        mine = [name for name in NAMES[:30] if owner(name, 2) == 2]
        assert agent.config.agent.shard == (2, 2)
        assert [s.name for s in agent.config.systems] == mine
        assert set(agent.engine.lives) == {*mine, "canary-1"}
    finally:
        await agent.stop()


def test_check_summary_says_how_many_systems_the_shard_probes(tmp_path):
    loaded = load_config(write_config(tmp_path / "c.yaml", NAMES[:40], "2/3"))
    mine = sum(1 for name in NAMES[:40] if owner(name, 3) == 2)
    assert summary(loaded).splitlines()[0] == (
        f"Systems: 40 (and 1 canary); shard 2/3 probes {mine} of them")


def test_agent_info_metric_names_the_shard(tmp_path):
    sharded = Agent(load_config(write_config(tmp_path / "c.yaml", NAMES[:5], "2/3")))
    assert 'shard="2/3"' in next(line for line in sharded.metrics.render().decode().splitlines()
                                 if line.startswith("outage_agent_info{"))
    whole = Agent(load_config(write_config(tmp_path / "c.yaml", NAMES[:5])))
    assert 'shard=""' in whole.metrics.render().decode()

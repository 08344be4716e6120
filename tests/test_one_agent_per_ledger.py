"""One agent per ledger identity: a second `run` on the same SQLite file, or on the same site
and shard of a PostgreSQL database, refuses to start (exit 1) instead of billing every outage
twice; every other command keeps working beside the running agent."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import config, system
from support.realparts import (
    AgentProcess,
    configured_agent,
    http_targets,
    one_target_config,
    wait_for,
)

from agent.daemon import Agent
from agent.ledger import Ledger, LedgerError


@pytest.mark.fault("A second agent started on the same SQLite ledger (or its copy of the "
                   "config run twice)", "it refuses to start, exit 1, naming the running "
                   "agent; the first goes on alone, and reports, exports, imports, backups "
                   "and acknowledgements still work beside it", area="Ledger")
def test_a_second_agent_on_one_sqlite_ledger_refuses_to_start(tmp_path):
    [target] = http_targets("intranet").values()
    first = configured_agent(tmp_path, one_target_config(), target=target.url)
    first.start()
    try:
        second = AgentProcess(first.config, tmp_path / "second")
        (tmp_path / "second").mkdir()
        second.start(wait=False)
        assert second.proc is not None
        assert second.proc.wait(timeout=30) == 1
        said = second.log.read_text()
        assert "another agent already runs on this ledger (pid " in said, said
        assert first.alive()
        wait_for("the first to go on probing", lambda: first.state("intranet") == "up")
        config = str(first.config)
        for argv in (["report", "--from", "2000-01-01", "--to", "2100-01-01"],
                     ["export"], ["backup", str(tmp_path / "copy.db")],
                     ["ack", "intranet"], ["maintenance", "intranet", "--for", "1m"]):
            done = subprocess.run([sys.executable, "-m", "agent", argv[0], "-c", config,
                                   *argv[1:]], capture_output=True, text=True, timeout=60)
            if argv[0] == "ack":  # it read the config and ledger beside the agent: no rules
                assert done.returncode == 1 and "nothing to acknowledge" in done.stderr, done
            else:
                assert done.returncode == 0, (argv, done.stderr)
    finally:
        first.stop()
        target.down()
    again = AgentProcess(first.config, tmp_path / "second")  # the first stopped: free again
    again.start()
    again.stop()



def another_name(ledger: Path, name: Path, how: str) -> Path:
    """`name` made another name of the file `ledger`: a symlink to it, or a hard link."""
    if how == "symlink":
        name.symlink_to(ledger)
    else:
        name.hardlink_to(ledger)
    return name


@pytest.mark.parametrize("how", ["symlink", "hard link"])
def test_a_ledger_claimed_under_one_name_is_refused_under_another(tmp_path, how):
    first = Ledger(tmp_path / "a.db")
    first.claim()  # creates the file: a hard link needs one
    other = Ledger(another_name(tmp_path / "a.db", tmp_path / "b.db", how))
    try:
        with pytest.raises(LedgerError, match=r"another agent already runs on this ledger "
                                              rf"\(pid {os.getpid()}\b"):
            other.claim()
        with pytest.raises(LedgerError, match="another agent already runs"):
            other.claim()  # refused again: the first still holds it
    finally:
        first.dispose()
    other.claim()  # the first let go: free under either name
    other.dispose()


@pytest.mark.fault("A second agent started on the first's SQLite ledger under another name "
                   "(a symlink or a hard link to the file)", "it refuses to start, exit 1, "
                   "naming the running agent; the first goes on writing its outages alone, "
                   "and annotating one beside it still works", area="Ledger")
@pytest.mark.parametrize("how", ["symlink", "hard link"])
def test_a_second_agent_on_another_name_of_the_ledger_refuses_to_start(tmp_path, how):
    [target] = http_targets("intranet").values()
    first = configured_agent(tmp_path, one_target_config(), target=target.url)
    first.start()
    try:
        (tmp_path / "second").mkdir()
        another_name(tmp_path / "ledger.db", tmp_path / "second" / "ledger.db", how)
        second = configured_agent(tmp_path / "second", one_target_config(), target=target.url)
        second.start(wait=False)
        assert first.proc is not None and second.proc is not None
        assert second.proc.wait(timeout=30) == 1
        said = second.log.read_text()
        assert f"another agent already runs on this ledger (pid {first.proc.pid}" in said, said
        target.down()  # the first, holding the file's flock, still writes beside SQLite's locks
        wait_for("the outage in the ledger",  # read by its own name: its WAL has that name
                 lambda: down_windows(tmp_path / "ledger.db") == [1])
        assert first.alive()
        done = subprocess.run([sys.executable, "-m", "agent", "annotate", "-c",
                               str(first.config), "1", "--note", "seen"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    finally:
        first.stop()
        target.down()


def down_windows(ledger: Path) -> list[int]:
    """The ids of the down windows in a SQLite ledger, read as another process would."""
    with sqlite3.connect(ledger) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM windows WHERE state = 'down'")]


async def test_agents_of_one_site_and_shard_on_postgresql_take_turns(postgres_url):
    base = config(system("db"), ledger=postgres_url)

    def sharded(shard: tuple[int, int] | None):
        return dataclasses.replace(base, agent=dataclasses.replace(base.agent, shard=shard,
                                                                    site="north"))

    first = Agent(sharded(None))
    await first.start()
    assert first.probing is not None
    first.probing.pause()
    try:
        twin = Agent(sharded(None))
        with pytest.raises(LedgerError, match="another agent already runs on site north"):
            await twin.start()
        neighbour = Agent(sharded((1, 2)))  # another shard of the site: its own identity
        await neighbour.start()
        await neighbour.stop()
    finally:
        await first.stop()
    after = Agent(sharded(None))  # the server let go when the first stopped
    await after.start()
    await after.stop()

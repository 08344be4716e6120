"""One agent per ledger identity: a second `run` on the same SQLite file, or on the same site
and shard of a PostgreSQL database, refuses to start (exit 1) instead of billing every outage
twice; every other command keeps working beside the running agent."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from helpers import config, system
from realparts import AgentProcess, configured_agent, http_targets, one_target_config

from agent.daemon import Agent
from agent.ledger import LedgerError


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
        assert first.alive() and first.state("intranet") == "up"
        config = str(first.config)
        for argv in (["report", "--from", "2000-01-01", "--to", "2100-01-01"],
                     ["export"], ["backup", str(tmp_path / "copy.db")],
                     ["ack", "intranet"]):
            done = subprocess.run([sys.executable, "-m", "agent", argv[0], "-c", config,
                                   *argv[1:]], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (argv, done.stderr)
    finally:
        first.stop()
        target.down()
    again = AgentProcess(first.config, tmp_path / "second")  # the first stopped: free again
    again.start()
    again.stop()


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

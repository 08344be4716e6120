"""`outage-agent demo`: the simulated estate and the agent watching it, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import tempfile
from importlib import resources
from pathlib import Path

from agent.config import load_config
from agent.demo.estate import start_estate
from agent.service import start_agent

BANNER = """\
Outage Cost Agent demo: a simulated estate on loopback, with the council's figures
(2,000 users at £25,000 a year). Email goes down about 20 s in; the core network, and
everything behind it, at 150 s; the script repeats every 4 minutes.

  status      http://{listen}/
  metrics     http://{listen}/metrics
  systems     http://{listen}/api/v1/systems
  outages     http://{listen}/api/v1/outages
  ledger      {ledger}

Press Ctrl-C to stop.
"""


def demo_config_path() -> Path:
    return Path(str(resources.files("agent.demo").joinpath("demo.yaml")))


async def run_demo(listen: str, ledger: str | None, duration: float | None) -> int:
    estate, stop_estate = await start_estate()
    env = {**os.environ, "DEMO_HTTP": estate.http_address, "DEMO_TCP": estate.tcp_address}
    config = load_config(demo_config_path(), env=env)
    with tempfile.TemporaryDirectory(prefix="outage-demo-") as scratch:
        path = str(Path(ledger).resolve() if ledger else Path(scratch) / "demo-ledger.db")
        agent_config = dataclasses.replace(config.agent, listen=listen, ledger=path)
        started = await start_agent(dataclasses.replace(config, agent=agent_config))
        if started is None:
            await stop_estate()
            return 1
        agent, runner = started
        print(BANNER.format(listen=listen, ledger=path), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        await runner.cleanup()
        await agent.stop()
        await stop_estate()
    return 0

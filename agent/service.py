"""Run the agent as a service: signals, reloads and orderly shutdown around `Agent`.

SIGTERM/SIGINT stop cleanly (in-flight writes finish, open windows stay open); SIGHUP
reloads the configuration file: a valid one is applied, an invalid one is logged and the
running configuration carries on.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from agent.config import ConfigError, load_config
from agent.daemon import Agent
from agent.ledger import LedgerError
from agent.model import Config
from agent.web.server import serve

log = logging.getLogger(__name__)


async def start_agent(config: Config) -> tuple[Agent, web.AppRunner] | None:
    """Open the books and start listening; None (after logging why) if either fails."""
    agent = Agent(config)
    try:
        await agent.start()
    except LedgerError as exc:
        log.error("cannot open the ledger: %s", exc)
        return None
    try:
        runner = await serve(agent, config.agent.listen)
    except OSError as exc:
        log.error("cannot listen on %s: %s", config.agent.listen, exc)
        await agent.stop()
        return None
    log.info("listening on http://%s/ (metrics at /metrics); %d systems, currency %s",
             config.agent.listen, len(config.systems), config.cost.currency)
    return agent, runner


async def run_service(config: Config, reload_from: str | None = None) -> int:
    started = await start_agent(config)
    if started is None:
        return 1
    agent, runner = started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if reload_from is not None:
        loop.add_signal_handler(
            signal.SIGHUP, lambda: loop.create_task(reload(agent, reload_from)))
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    await agent.stop()
    return 0


async def reload(agent: Agent, path: str) -> bool:
    """Apply the configuration in `path` if it is valid; keep the running one if not."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        agent.metrics.reload_ok.set(0)
        log.error("reload refused, keeping the running configuration:\n%s", exc)
        return False
    for key in ("listen", "ledger", "site"):
        if getattr(config.agent, key) != getattr(agent.config.agent, key):
            log.warning("agent.%s changed: it takes effect after a restart", key)
    await agent.reload(config)
    log.info("configuration reloaded from %s: %d systems", path, len(config.systems))
    return True

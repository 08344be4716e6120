"""Run the agent as a service: signals, reloads and orderly shutdown around `Agent`.

SIGTERM/SIGINT stop cleanly (in-flight writes finish, open windows stay open); SIGHUP
reloads the configuration file: a valid one is applied, an invalid one is logged and the
running configuration carries on. Under systemd (Type=notify) each step is announced:
READY=1 once listening, RELOADING=1 and READY=1 around a reload, STOPPING=1 on the way out.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from agent import systemd
from agent.config import ConfigError, load_config
from agent.daemon import Agent
from agent.ledger import LedgerError
from agent.model import Config
from agent.web.server import serve

log = logging.getLogger(__name__)


async def start_agent(
    config: Config, watchdog: float | None = None
) -> tuple[Agent, web.AppRunner] | None:
    """Open the books and start listening; None (after logging why) if either fails.

    `watchdog`: seconds between systemd watchdog pings, None for no watchdog.
    """
    agent = Agent(config, watchdog=watchdog)
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
    started = await start_agent(config, watchdog=systemd.watchdog_interval())
    if started is None:
        return 1
    agent, runner = started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if reload_from is not None:
        loop.add_signal_handler(
            signal.SIGHUP, lambda: loop.create_task(reload_announced(agent, reload_from)))
    systemd.notify(systemd.ready(status(agent)))
    await stop.wait()
    systemd.notify(systemd.STOPPING)
    log.info("stopping")
    await runner.cleanup()
    await agent.stop()
    return 0


def status(agent: Agent) -> str:
    """The one line `systemctl status` shows for the running agent."""
    return (f"probing {len(agent.config.systems)} systems; "
            f"listening on {agent.config.agent.listen}")


async def reload_announced(agent: Agent, path: str) -> bool:
    """reload() between RELOADING=1 and READY=1, refused or not, as systemd expects."""
    systemd.notify(systemd.reloading(systemd.monotonic_usec()))
    try:
        return await reload(agent, path)
    finally:
        systemd.notify(systemd.ready(status(agent)))


async def reload(agent: Agent, path: str) -> bool:
    """Apply the configuration in `path` if it is valid; keep the running one if not."""
    try:
        config = load_config(path, env=systemd.credentials_env())
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

"""Run the agent as a service: signals, reloads and orderly shutdown around `Agent`.

SIGTERM/SIGINT stop cleanly (in-flight writes finish, open windows stay open); SIGHUP
reloads the configuration file: a valid one is applied, an invalid one is logged and the
running configuration carries on. Under systemd (Type=notify) each step is announced:
READY=1 once listening, RELOADING=1 and READY=1 around a reload, STOPPING=1 on the way out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import ssl
from collections.abc import Callable

from aiohttp import web

from agent import systemd
from agent.config import ConfigError, load_config
from agent.daemon import Agent
from agent.ledger import LedgerError
from agent.model import Config
from agent.text import redact
from agent.web.server import refresh_tls, serve

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
    web_config = config.agent.web_config
    scheme = "https" if web_config is not None and web_config.tls is not None else "http"
    log.info("listening on %s://%s/ (metrics at /metrics); %d systems, currency %s",
             scheme, config.agent.listen, len(agent.config.systems), config.cost.currency)
    return agent, runner


class Redaction(logging.Filter):
    """Scrub every log record, tracebacks included: no URL credentials, none of the config's
    secrets. Installed on the root logger's handlers, so every module's records pass it."""

    def __init__(self, secrets: Callable[[], frozenset[str]]) -> None:
        super().__init__()
        self.secrets = secrets  # read per record, so a reload's new secrets apply at once

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets()
        record.msg, record.args = redact(record.getMessage(), secrets), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        return True


def install_redaction(secrets: Callable[[], frozenset[str]]) -> Callable[[], None]:
    """Add a Redaction to every root handler; return what removes it again."""
    redaction, handlers = Redaction(secrets), list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redaction)

    def remove() -> None:
        for handler in handlers:
            handler.removeFilter(redaction)

    return remove


async def run_service(config: Config, reload_from: str | None = None) -> int:
    running: list[Agent] = []  # the agent's config once it runs: a reload changes secrets
    remove = install_redaction(lambda: running[0].config.secrets if running else config.secrets)
    try:
        return await _serve_until_stopped(config, reload_from, running)
    finally:
        remove()


async def _serve_until_stopped(config: Config, reload_from: str | None,
                               running: list[Agent]) -> int:
    started = await start_agent(config, watchdog=systemd.watchdog_interval())
    if started is None:
        return 1
    agent, runner = started
    running.append(agent)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if reload_from is not None:
        loop.add_signal_handler(
            signal.SIGHUP,
            lambda: loop.create_task(reload_announced(agent, reload_from, runner)))
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


async def reload_announced(agent: Agent, path: str, runner: web.AppRunner | None = None) -> bool:
    """reload() between RELOADING=1 and READY=1, refused or not, as systemd expects."""
    systemd.notify(systemd.reloading(systemd.monotonic_usec()))
    try:
        return await reload(agent, path, runner)
    finally:
        systemd.notify(systemd.ready(status(agent)))


async def reload(agent: Agent, path: str, runner: web.AppRunner | None = None) -> bool:
    """Apply the configuration in `path` if it is valid; keep the running one if not.

    With the HTTP server's `runner`, also load renewed TLS files from agent.web_config.
    """
    try:
        config = load_config(path, env=systemd.credentials_env())
    except ConfigError as exc:
        agent.metrics.reload_ok.set(0)
        log.error("reload refused, keeping the running configuration:\n%s", exc)
        return False
    for key in ("listen", "ledger", "site", "shard"):
        if getattr(config.agent, key) != getattr(agent.config.agent, key):
            log.warning("agent.%s changed: it takes effect after a restart", key)
    # The running shard stays (it may come from --shard): N agents change N together.
    config = dataclasses.replace(
        config, agent=dataclasses.replace(config.agent, shard=agent.config.agent.shard))
    await agent.reload(config)
    if runner is not None:
        _reload_tls(runner, config)
    log.info("configuration reloaded from %s: %d systems", path, len(agent.config.systems))
    return True


def _reload_tls(runner: web.AppRunner, config: Config) -> None:
    try:
        if not refresh_tls(runner, config.agent.web_config):
            log.warning("TLS switched on or off in agent.web_config: it takes effect after a "
                        "restart")
    except (ssl.SSLError, OSError) as exc:
        log.error("TLS files in agent.web_config unusable, keeping the running ones: %s", exc)

"""Read the agent section: where it listens and keeps its ledger, its site and shard, log
level, the longest gap it may go unobserved, and its canaries (probes of its own path to the
estate)."""

from __future__ import annotations

import os
from pathlib import Path

from agent.config.addresses import host_port_error, url_error
from agent.config.probes import make_system, read_probe
from agent.config.timing import Setting, check_timing
from agent.config.tree import Context, Node
from agent.config.values import (
    as_list,
    boolean,
    choice,
    known_fields,
    path,
    positive_duration,
    string,
    validated,
)
from agent.config.web import read_web_config
from agent.ledger import LedgerError, ledger_url
from agent.model import AgentConfig, System
from agent.shard import parse_shard, shard_error

LOG_LEVELS = ("debug", "info", "warning", "error")
_AGENT_KEYS = ("listen", "ledger", "site", "shard", "max_unobserved_gap", "log_level",
               "canaries", "external_url", "evaluation_interval", "web_config", "retention",
               "per_system_histograms")
_external_url = validated(string, url_error)
_shard = validated(string, shard_error)


def read_agent(
    ctx: Context, node: Node | None, defaults: dict[str, Setting], state_directory: str | None
) -> AgentConfig:
    fields = (known_fields(ctx, node, (), _AGENT_KEYS) if node else None) or {}
    listen = _listen(ctx, fields["listen"]) if "listen" in fields else None
    ledger = _ledger(ctx, fields["ledger"]) if "ledger" in fields else None
    site = string(ctx, fields["site"]) if "site" in fields else None
    shard = _shard(ctx, fields["shard"]) if "shard" in fields else None
    gap_node = fields.get("max_unobserved_gap")
    gap = positive_duration(ctx, gap_node) if gap_node else None
    level = choice(ctx, fields["log_level"], LOG_LEVELS) if "log_level" in fields else None
    canaries = _canaries(ctx, fields["canaries"], defaults) if "canaries" in fields else ()
    external = _external_url(ctx, fields["external_url"]) if "external_url" in fields else None
    retention = positive_duration(ctx, fields["retention"]) if "retention" in fields else None
    every = fields.get("evaluation_interval")
    evaluation = positive_duration(ctx, every) if every else None
    web = read_web_config(ctx, fields["web_config"]) if "web_config" in fields else None
    histograms = boolean(ctx, fields["per_system_histograms"]) if (
        "per_system_histograms" in fields) else None
    return AgentConfig(
        listen=listen or "127.0.0.1:9321",
        ledger=resolve_ledger(ledger or "outage-ledger.db", ctx.config_dir, state_directory),
        site=site or "",
        shard=parse_shard(shard) if shard else None,
        canaries=canaries,
        max_unobserved_gap=gap or 300.0,
        log_level=level or "info",
        external_url=external or "",
        evaluation_interval=evaluation or 5.0,
        retention=retention,
        web_config=web,
        per_system_histograms=True if histograms is None else histograms,
    )


def listen_error(text: str) -> str | None:
    """Why `text` is no address to listen on (agent.listen, run's and demo's --listen), or
    None. A bare port, or one with no host, is refused rather than read as every interface:
    the agent listens on loopback unless told otherwise."""
    port = text.removeprefix(":")
    if port.isascii() and port.isdigit():
        return (f"give a host: 127.0.0.1:{port} for this machine, 0.0.0.0:{port} for every "
                "interface")
    return host_port_error(text, sample="127.0.0.1:9321")


_listen = validated(string, listen_error)


def ledger_error(text: str) -> str | None:
    """Why a ledger location is unusable: a file path is always fine; a URL must name SQLite
    (with a file) or PostgreSQL."""
    if "://" not in text:
        return None
    try:
        url = ledger_url(text)
    except LedgerError as exc:
        return str(exc)
    if url.get_backend_name() == "sqlite" and not url.database:
        return "a SQLite ledger needs a file: sqlite:///relative/path or sqlite:////absolute"
    if url.get_backend_name() == "postgresql" and not (url.host and url.database):
        return "a PostgreSQL ledger needs a host and a database: postgresql+psycopg://user@host/db"
    return None


_ledger = validated(path, ledger_error)


def resolve_ledger(text: str, config_dir: Path, state_directory: str | None) -> str:
    """Given agent.ledger, return a SQLite file's absolute path, or the database URL as given.
    A relative path is resolved against $STATE_DIRECTORY (its first entry) or the config's
    folder."""
    if "://" in text:
        url = ledger_url(text)
        if url.get_backend_name() != "sqlite":
            return text
        text = url.database or ""
    base = Path(state_directory.split(":")[0]) if state_directory else config_dir
    return os.path.abspath(base / text)


def _canaries(ctx: Context, node: Node, defaults: dict[str, Setting]) -> tuple[System, ...]:
    """Given probe specs, return systems named canary-1, canary-2... that cost nothing."""
    canaries = []
    for index, item in enumerate(as_list(ctx, node) or ()):
        probe = read_probe(ctx, item)
        if probe is None:
            continue
        if probe.spec.type == "heartbeat":  # a canary is probed: it shows the agent's reach
            ctx.bad(item, "a canary is probed by the agent; a heartbeat cannot be one")
            continue
        merged = {**defaults, **probe.settings}
        check_timing(ctx, merged, item)
        name = f"canary-{index + 1}"
        canaries.append(make_system(name, probe, merged, users_share=0.0, impact=0.0))
    return tuple(canaries)

"""Load a whole file: read the tree, read each top-level section, and raise every problem
found together, without repeats and in line order."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from agent.config.agent import read_agent
from agent.config.alerting import read_alerts, read_notifiers
from agent.config.cost import declared_groups, read_cost
from agent.config.problems import ConfigError, Problem
from agent.config.secrets import find_secrets
from agent.config.services import read_services, service_members
from agent.config.systems import check_graph, read_systems
from agent.config.timing import read_defaults
from agent.config.tree import Context, Node, list_items, optional_section, raw_string, read_tree
from agent.config.values import known_fields
from agent.model import AgentConfig, Config
from agent.text import redact


def load_config(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    state_directory: str | None = None,
) -> Config:
    """Given a YAML file, return the validated Config; raise ConfigError listing every problem.

    `env` (default os.environ) supplies ${VAR}; `state_directory` (default $STATE_DIRECTORY,
    as systemd sets it) is where a relative ledger path goes, else the config file's folder.
    """
    env = os.environ if env is None else env
    state_directory = env.get("STATE_DIRECTORY") if state_directory is None else state_directory
    name = os.fsdecode(path)
    ctx = Context(file=name, env=env, config_dir=Path(os.path.abspath(name)).parent)
    root = read_tree(ctx)
    config = _config(ctx, root, state_directory) if root is not None else None
    secrets = find_secrets(root) if root is not None else frozenset()
    if ctx.problems or config is None:
        problems = [_scrubbed(problem, secrets) for problem in _tidy(ctx.problems)]
        raise ConfigError(problems or [Problem(name, None, "", "invalid configuration")])
    return dataclasses.replace(config, secrets=secrets)


def _config(ctx: Context, root: Node, state_directory: str | None) -> Config:
    fields = known_fields(ctx, root, ("cost", "systems"),
                          ("agent", "defaults", "services", "notifiers", "alerts")) or {}
    cost = read_cost(ctx, fields.get("cost"))
    defaults = read_defaults(ctx, fields.get("defaults"))
    agent = read_agent(ctx, optional_section(fields.get("agent")), defaults, state_directory)
    groups = declared_groups(fields.get("cost"))  # as declared, so a broken one is named once
    members = service_members(fields.get("services"))
    systems = read_systems(ctx, fields.get("systems"), defaults, groups, members)
    services = read_services(ctx, fields.get("services"), defaults, groups, members)
    check_graph(ctx, list_items(fields.get("systems")), list_items(fields.get("services")))
    _check_canary_names(ctx, agent, [*list_items(fields.get("systems")),
                                     *list_items(fields.get("services"))])
    notifiers = read_notifiers(ctx, fields.get("notifiers"))
    # names as declared, so one broken system or notifier is not reported again by each alert
    alerts = read_alerts(ctx, fields.get("alerts"), _declared(fields.get("notifiers")),
                         _declared(fields.get("systems")) + _declared(fields.get("services")))
    return Config(agent=agent, cost=cost, systems=systems + services,
                  source=Path(os.path.abspath(ctx.file)), notifiers=notifiers, alerts=alerts)


def _declared(node: Node | None) -> list[str]:
    """The `name`s of a list of mappings, as written."""
    names = []
    for item in list_items(node):
        name = raw_string(item.value.get("name")) if isinstance(item.value, dict) else None
        if name:
            names.append(name)
    return names


def _check_canary_names(ctx: Context, agent: AgentConfig, items: list[Node]) -> None:
    """A system or service may not take a canary's generated name: they share metric
    labels."""
    reserved = {canary.name for canary in agent.canaries}
    for item in items:
        name = raw_string(item.value.get("name")) if isinstance(item.value, dict) else None
        if name in reserved:
            ctx.bad(item.value["name"], f"the name {name!r} is taken by one of agent.canaries")


def _scrubbed(problem: Problem, secrets: frozenset[str]) -> Problem:
    """A message may quote a value; never a password, token or URL credential."""
    return dataclasses.replace(problem, message=redact(problem.message, secrets))


def _tidy(problems: list[Problem]) -> list[Problem]:
    """Return problems without repeats (a bad default shows once, not per system), by line."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda problem: problem.line or 0)

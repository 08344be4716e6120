"""Share one site's systems among N agents: `agent.shard: "2/4"` (or `run --shard 2/4`).

Rendezvous (highest-random-weight) hashing: each group of systems goes to the shard whose
hash of (shard, group) is highest. The hash is SHA-256 (hashlib, not hash(), which changes
with every Python process), so every agent reading the same file agrees on the owners
without talking to each other; and going from N to N+1 agents moves only the groups the new
shard wins, about 1/(N+1) of them. Nothing else moves.

Dependency trees stay together. A system's verdict (down, or down because of a dependency)
needs its dependencies' state in the same engine (a service, its members'), so a group is a
connected part of the graph of `depends_on` and members, hashed under the first (in name
order) of its roots, the members that depend on nothing. Adding or removing a dependant never
moves its group; a new dependency link can join two groups, and then the joined group goes
where its first root says. A hub that everything depends on (a core network) makes the whole
estate one group on one shard: probe such a hub as a canary (`agent.canaries`, probed by every
shard) instead of making it a dependency, if the estate is to be spread. Canaries are never
sharded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Container, Sequence

from agent.model import Config, System
from agent.services import ServiceSpec

Shard = tuple[int, int]  # (k, n): this agent is shard k of n, 1 <= k <= n
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def shard_error(text: str) -> str | None:
    """Given the text of a shard ("2/4"), return why it is invalid, or None."""
    match = _SHARD.fullmatch(text)
    if match is None:
        return "expected K/N, e.g. 2/4 for the second of four agents"
    k, n = int(match[1]), int(match[2])
    if not 1 <= k <= n:
        return f"{k}/{n}: K must be between 1 and N"
    return None


def parse_shard(text: str) -> Shard:
    """Given "K/N", return (K, N); raise ValueError saying why if it is not 1 <= K <= N."""
    error = shard_error(text)
    if error is not None:
        raise ValueError(error)
    match = _SHARD.fullmatch(text)
    assert match is not None
    return int(match[1]), int(match[2])


def weight(shard: int, key: str) -> int:
    """The rendezvous weight of `key` on shard number `shard`: stable across processes."""
    digest = hashlib.sha256(f"{shard}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def owner(key: str, count: int) -> int:
    """Given a key and the number of shards, return the shard (1..count) that owns it."""
    return max(range(1, count + 1), key=lambda shard: weight(shard, key))


def group_keys(systems: Sequence[System]) -> dict[str, str]:
    """Given systems, return each one's group key: the first root of its dependency group."""
    names = {system.name for system in systems}
    parent = {name: name for name in names}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for system in systems:
        for dependency in _links(system):
            if dependency in names:
                parent[find(system.name)] = find(dependency)
    roots: dict[str, list[str]] = {}
    for system in systems:
        is_root = not any(dependency in names for dependency in _links(system))
        members = roots.setdefault(find(system.name), [])
        if is_root:
            members.append(system.name)
    key = {group: min(members) if members else group for group, members in roots.items()}
    return {name: key[find(name)] for name in names}


def _links(system: System) -> tuple[str, ...]:
    """What a system cannot be judged without: its dependencies, and a service's members."""
    spec = system.check.spec
    return (*system.depends_on, *(spec.members if isinstance(spec, ServiceSpec) else ()))


def share(systems: Sequence[System], shard: Shard) -> tuple[System, ...]:
    """Given all systems and (k, n), return the systems shard k owns, in their order."""
    k, n = shard
    keys = group_keys(systems)
    owners = {key: owner(key, n) for key in set(keys.values())}
    return tuple(system for system in systems if owners[keys[system.name]] == k)


def own_share(config: Config) -> Config:
    """Given a config, return it with only this agent's share of systems (all if unsharded)."""
    if config.agent.shard is None:
        return config
    return dataclasses.replace(config, systems=share(config.systems, config.agent.shard))


def keeps_window(system: str, owned: Container[str], configured: Container[str],
                 shard: Shard | None) -> bool:
    """Whether an agent takes up a window its site's ledger holds open for `system`.

    Shards of one site share its windows in one database: each resumes its own systems'
    windows. A system no longer configured has its window closed by the one shard its name
    hashes to, so nobody closes another shard's window and exactly one closes an orphan's.
    """
    if shard is None or system in owned:
        return True
    return system not in configured and owner(system, shard[1]) == shard[0]


def format_shard(shard: Shard | None) -> str:
    """"2/4" for (2, 4); "" when the agent is not sharded (it owns every system)."""
    return "" if shard is None else f"{shard[0]}/{shard[1]}"


def not_here(system: str | None, config: Config) -> str:
    """Why a heartbeat's ping is refused by this agent: `system` (the token's, if another
    shard of the site watches it) and who to send it to instead."""
    site = f"site {config.agent.site!r}" if config.agent.site else "this site"
    shard = config.agent.shard
    me = f"the agent of {site}" + (f", shard {format_shard(shard)}" if shard else "")
    if system is None or shard is None:
        return f"no heartbeat has this token at {me}"
    keys = group_keys(config.systems)
    owns = (owner(keys[system], shard[1]), shard[1])
    return (f"{system!r} is watched by shard {format_shard(owns)} of {site}, not by {me}: "
            "send its pings there")

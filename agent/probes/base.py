"""What a probe type's module declares, and the registry (agent.probes.PROBE_TYPES) holds.

A module `agent/probes/<type>.py` owns the probe type whole: its spec dataclass, how its
`probe:` mapping is read (keys, one parser each, checks across keys) and its probe function.
It ends with `TYPE = ProbeType(...)`; docs/extending.md says how to add one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.model import ProbeResult, ProbeSpec

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.config.values import Parser
    from agent.probes import Resources

# async def probe(spec, timeout, resources) -> ProbeResult: a down target is a result, never an
# exception. The spec is the type's own dataclass.
ProbeFn = Callable[[Any, float, "Resources"], Awaitable[ProbeResult]]
# Given the parsed keys' nodes and values (each key that parsed), report what is wrong between
# them, e.g. "client_key needs client_cert".
CrossCheck = Callable[["Context", dict[str, "Node"], dict[str, Any]], None]


@dataclass(frozen=True)
class ProbeType:
    """One probe type: `type: <name>` in a config reads into `spec(**values)`, run by `probe`.

    `fields` has a parser per key the type takes (agent.config.values and agent.config.probes
    have the common ones); each reports its own problems at the key's line and returns None
    when the value is unusable. timeout and degraded_after are read for every type.
    """

    name: str
    spec: Callable[..., ProbeSpec]  # the frozen dataclass, keyword per config key
    required: tuple[str, ...]
    fields: Mapping[str, Parser]
    probe: ProbeFn
    check: CrossCheck | None = None
    # (failure_threshold, success_threshold) fixed for the type, whatever the config says,
    # and no flap damping: for a type whose results are verdicts already (a heartbeat).
    thresholds: tuple[int, int] | None = None
    # How `check`'s systems table shows the probe (default: its first required key's value).
    summary: Callable[[Any], str] | None = None

"""`check --connect` for measured users: read each group's source once and say what it
gave, or why the fallback would be in force."""

from __future__ import annotations

import asyncio

from agent.model import Config
from agent.users.duty import measured_groups
from agent.users.sources import describe, take


async def read_each(config: Config) -> list[str]:
    """Read every measured group's source once, together; a line for each."""
    groups = list(measured_groups(config))
    taken = await asyncio.gather(*(take(source) for _, source in groups))
    lines = []
    for (name, source), reading in zip(groups, taken, strict=True):
        where = f"users of group {name} ({describe(source)})"
        if reading.value is None:
            lines.append(f"warning: {where}: {reading.reason}; the fallback would be in force")
        elif reading.clamped_from is not None:
            lines.append(f"{where}: {reading.clamped_from:g}, clamped to max {reading.value:g}")
        else:
            lines.append(f"{where}: {reading.value:g}")
    return lines

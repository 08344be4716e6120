"""One thing `check` found about what `run` will need: fine, or a warning. A warning never
changes check's exit code: `run` may be fine by then, and a reload checks while the agent
itself holds the ledger and the port."""

from __future__ import annotations

from dataclasses import dataclass

from agent.preflight.holders import command_line


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'warning'}: {self.text}"


def in_use(pid: int) -> str:
    """How a resource held by process `pid` is described: as the running agent's if that
    process is an outage agent, which `run` (and a reload) expect."""
    command = command_line(pid)
    if "outage-agent" in command or " -m agent" in command:
        return f"in use by a running agent (pid {pid})"
    return f"in use by another process (pid {pid}: {command or 'unknown'})"

"""The command users source: a program (no shell, as a command probe runs it: stdin from
/dev/null, systemd's sockets hidden, its whole process tree killed at the timeout) whose
first line of output is the number of users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.probes.command import child_env, read_argv, run_captured, summary
from agent.users.base import Outcome, SourceType, number_of


@dataclass(frozen=True)
class CommandSource:
    command: tuple[str, ...]  # argv, run without a shell
    type: str = "command"


async def read(spec: CommandSource, timeout: float) -> Outcome:
    """Run the program once; it must exit 0 having printed a number."""
    program = spec.command[0]
    try:
        done = await run_captured(spec.command, timeout, child_env())
    except FileNotFoundError:
        return Outcome(None, f"command not found: {program}")
    except PermissionError:
        return Outcome(None, f"not executable: {program}")
    except OSError as exc:
        return Outcome(None, f"cannot run {program}: {exc.strerror}")
    except TimeoutError:
        return Outcome(None, f"timeout after {timeout:g}s")
    if done.returncode != 0:
        said = summary(done.stderr) or summary(done.stdout)
        return Outcome(None, f"exit {done.returncode}" + (f": {said}" if said else ""))
    return number_of(summary(done.stdout), "its output")


def _spec(**values: Any) -> CommandSource:
    return CommandSource(values["command"])


TYPE = SourceType("command", _spec, ("command",), {"command": read_argv}, read)

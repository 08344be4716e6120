"""The command users source: a program (no shell, as a command probe runs it: stdin from
/dev/null, systemd's sockets hidden, its whole process tree killed at the timeout) whose
whole output is the number of users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.probes.command import child_env, read_argv, run_captured, summary
from agent.users.base import Outcome, SourceType, number_of

READING_LIMIT = 100  # bytes of output: more is no number of users


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
    except TimeoutError:  # an OSError too: it must come first
        return Outcome(None, f"timeout after {timeout:g}s")
    except OSError as exc:
        return Outcome(None, f"cannot run {program}: {exc.strerror or exc}")
    if done.returncode != 0:
        said = summary(done.stderr) or summary(done.stdout)
        return Outcome(None, f"exit {done.returncode}" + (f": {said}" if said else ""))
    return reading_of(done.stdout)


def reading_of(stdout: bytes) -> Outcome:
    """Given all a program printed, return it as a number: the whole output, stripped, must
    be one number on one line (never a part of it, which could be a wrong number)."""
    text = stdout.decode("utf-8", errors="replace").strip()
    if len(stdout) > READING_LIMIT:
        return Outcome(None, f"output too long for a number ({len(stdout)} bytes or more)")
    if "\n" in text or "\r" in text:
        return Outcome(None, f"more than one line of output: {summary(stdout)!r}")
    return number_of(text, "its output")


def _spec(**values: Any) -> CommandSource:
    return CommandSource(values["command"])


TYPE = SourceType("command", _spec, ("command",), {"command": read_argv}, read)

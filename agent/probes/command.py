"""Run a Nagios-style plugin and read its exit code: 0 up, 1 degraded, anything else down.

The plugin runs without a shell, in its own session, so a timeout can kill the whole
process group: a plugin that forks must not leave its children behind. The child gets the
agent's environment less systemd's notification variables, so a plugin can never tell
systemd that the agent is ready or alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.model import CommandProbe, ProbeResult, Status

if TYPE_CHECKING:
    from agent.probes import Resources

OUTPUT_LIMIT = 4096  # bytes kept per stream; the rest is read and dropped so the child never blocks
REASON_LIMIT = 200  # characters of plugin output kept in a reason
EXIT_GRACE = 0.2  # seconds to wait for the pipes to close after the plugin exits
HIDDEN_ENV = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})
EXIT_STATUS = {0: Status.UP, 1: Status.DEGRADED}  # 2 critical, 3 unknown, others: down


@dataclass(frozen=True)
class Completed:
    returncode: int  # negative: killed by that signal
    stdout: bytes
    stderr: bytes


def child_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Given the agent's environment, return it without systemd's notify/watchdog variables."""
    return {key: value for key, value in environ.items() if key not in HIDDEN_ENV}


async def _collect(stream: asyncio.StreamReader | None, into: bytearray) -> None:
    """Read `stream` to EOF, keeping the first OUTPUT_LIMIT bytes in `into`."""
    if stream is None:
        return
    while chunk := await stream.read(65536):
        if len(into) < OUTPUT_LIMIT:
            into += chunk[: OUTPUT_LIMIT - len(into)]


def _kill_group(pgid: int) -> None:
    """SIGKILL every process in the plugin's group (its pid: it leads a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run_captured(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> Completed:
    """Run argv with no shell and stdin from /dev/null; return its exit code and output.

    Raise TimeoutError after `timeout` seconds, OSError if it cannot start. On timeout or
    cancellation the whole process group is killed before this returns.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    out, err = bytearray(), bytearray()
    readers = asyncio.gather(_collect(proc.stdout, out), _collect(proc.stderr, err))
    try:
        async with asyncio.timeout(timeout):
            returncode = await proc.wait()
        # A grandchild may still hold the pipes open; what the plugin wrote is already in them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(readers), EXIT_GRACE)
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
            await asyncio.shield(proc.wait())
        readers.cancel()
    return Completed(returncode, bytes(out), bytes(err))


def summary(output: bytes) -> str:
    """Given plugin output, return its first line without perfdata (after '|'), trimmed."""
    text = output.decode("utf-8", errors="replace").strip()
    first = text.splitlines()[0] if text else ""
    return first.split("|", 1)[0].strip()[:REASON_LIMIT]


def result_for(done: Completed) -> ProbeResult:
    """Given a finished plugin, return its status by Nagios exit code and a short reason."""
    code = done.returncode
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return ProbeResult(Status.DOWN, 0.0, f"killed by {name}")
    line = summary(done.stdout) or summary(done.stderr)
    reason = f"exit {code}: {line}" if line else f"exit {code}"
    return ProbeResult(EXIT_STATUS.get(code, Status.DOWN), 0.0, reason)


async def probe(spec: CommandProbe, timeout: float, resources: Resources) -> ProbeResult:
    """Run the plugin once; a missing or non-executable plugin is down, not an error."""
    if not spec.command:
        return ProbeResult(Status.DOWN, 0.0, "empty command")
    try:
        done = await run_captured(spec.command, timeout, child_env())
    except FileNotFoundError:
        return ProbeResult(Status.DOWN, 0.0, f"command not found: {spec.command[0]}")
    except PermissionError:
        return ProbeResult(Status.DOWN, 0.0, f"not executable: {spec.command[0]}")
    except OSError as exc:
        return ProbeResult(Status.DOWN, 0.0, f"cannot run {spec.command[0]}: {exc.strerror}")
    except TimeoutError:
        return ProbeResult(Status.DOWN, 0.0, f"timeout after {timeout:g}s")
    return result_for(done)

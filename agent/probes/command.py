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


class _Pipe(asyncio.Protocol):
    """Our end of one output pipe of the plugin: keeps the first OUTPUT_LIMIT bytes.

    The pipe is ours, not asyncio's, because Process.wait() on asyncio's pipes also waits for
    them to close, which a forked grandchild can put off forever. The rest of the output is
    read and dropped, so the plugin never blocks on a full pipe.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None
        self.write_fd = -1  # the child's end, closed here once the child has it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        room = OUTPUT_LIMIT - len(self.data)
        if room > 0:
            self.data += data[:room]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close_write_end(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        self.close_write_end()
        if self.transport is not None:
            self.transport.close()


async def _open_pipe() -> _Pipe:
    read_fd, write_fd = os.pipe()
    try:
        reader = os.fdopen(read_fd, "rb", buffering=0)
        _, pipe = await asyncio.get_running_loop().connect_read_pipe(_Pipe, reader)
    except BaseException:
        os.close(write_fd)
        raise
    pipe.write_fd = write_fd
    return pipe


def _kill_group(pgid: int) -> None:
    """SIGKILL every process in the plugin's group (its pid: it leads a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _spawn(
    argv: Sequence[str], env: Mapping[str, str] | None, out: _Pipe, err: _Pipe
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out.write_fd,
            stderr=err.write_fd,
            env=env,
            start_new_session=True,  # its own process group, so a timeout can kill all of it
        )
    finally:
        out.close_write_end()
        err.close_write_end()


async def _wait(proc: asyncio.subprocess.Process, timeout: float) -> int:
    """Wait for the plugin to exit; on timeout or cancellation kill its whole group first."""
    try:
        async with asyncio.timeout(timeout):
            return await proc.wait()
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
            await asyncio.shield(proc.wait())


async def run_captured(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> Completed:
    """Run argv with no shell and stdin from /dev/null; return its exit code and output.

    Raise TimeoutError after `timeout` seconds, OSError if it cannot start. On timeout or
    cancellation the whole process group is killed before this returns. `env` defaults to
    child_env(): no child (a plugin, `ping`) ever gets systemd's notify socket.
    """
    env = child_env() if env is None else env
    out, err = await _open_pipe(), await _open_pipe()
    try:
        returncode = await _wait(await _spawn(argv, env, out, err), timeout)
        # What the plugin wrote is in the pipes already; a grandchild may hold them open.
        await asyncio.wait([out.closed, err.closed], timeout=EXIT_GRACE)
        return Completed(returncode, bytes(out.data), bytes(err.data))
    finally:
        out.close()
        err.close()


def summary(output: bytes) -> str:
    """Given plugin output, return its first line without perfdata (after '|'), trimmed."""
    text = output.decode("utf-8", errors="replace").strip()
    first = text.splitlines()[0] if text else ""
    line = first.split("|", 1)[0].strip()[:REASON_LIMIT]
    return "".join(char if char.isprintable() else "?" for char in line)


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

"""Run a Nagios-style plugin and read its exit code: 0 up, 1 degraded, anything else down.

The plugin runs without a shell, in its own session, so a timeout can kill the whole
process group. The child gets the agent's environment less systemd's notification
variables, so a plugin can never tell systemd that the agent is ready or alive.

A plugin must not leave processes behind, even ones that left its session (`setsid`, a
double fork) or dropped its environment (`env -i`, sudo): each run is registered with
agent.probes.leftovers, which kills and reaps whatever the run started once it ends (see
there). At a timeout the plugin's live descendants are also killed by their parent links
before its group is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config.values import as_list, string
from agent.model import ProbeResult, Status
from agent.probes import leftovers
from agent.probes.base import ProbeType
from agent.probes.leftovers import MARKER, become_subreaper

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.probes import Resources

OUTPUT_LIMIT = 4096  # bytes kept per stream; the rest is read and dropped so the child never blocks
REASON_LIMIT = 200  # characters of plugin output kept in a reason
EXIT_GRACE = 0.2  # seconds to wait for the pipes to close after the plugin exits
HIDDEN_ENV = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})
EXIT_STATUS = {0: Status.UP, 1: Status.DEGRADED}  # 2 critical, 3 unknown, others: down


@dataclass(frozen=True)
class CommandProbe:
    command: tuple[str, ...]  # argv, run without a shell
    type: str = "command"


def read_argv(ctx: Context, node: Node) -> tuple[str, ...] | None:
    """Given `command:`, return the argv; a string is refused, with the list to write."""
    if isinstance(node.value, str) and not node.broken:
        try:
            example = repr(shlex.split(node.value)).replace("'", '"')
        except ValueError:
            example = '["/path/to/check", "-w", "10%"]'
        ctx.bad(node, f"the command runs without a shell, so give it as a list: {example}")
        return None
    items = as_list(ctx, node)
    if items is None:
        return None
    argv = [string(ctx, item) for item in items]
    if not argv or argv[0] == "":
        ctx.bad(node, "the command must name a program to run")
    elif any(arg is not None and "\0" in arg for arg in argv):
        ctx.bad(node, "arguments must not contain NUL characters")
    elif None not in argv:
        return tuple(arg for arg in argv if arg is not None)
    return None


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


async def _wait(proc: asyncio.subprocess.Process, timeout: float, run: leftovers.Run) -> int:
    """Wait for the plugin to exit; on timeout or cancellation kill its descendants and its
    whole group first."""
    try:
        async with asyncio.timeout(timeout):
            return await proc.wait()
    finally:
        if proc.returncode is None:
            run.kill_tree(proc.pid)
            _kill_group(proc.pid)
            await asyncio.shield(proc.wait())


async def run_captured(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> Completed:
    """Run argv with no shell and stdin from /dev/null; return its exit code and output.

    Raise TimeoutError after `timeout` seconds, OSError if it cannot start. On timeout or
    cancellation its descendants and whole process group are killed. Whatever it leaves is
    killed and reaped before this returns, or, once it has dropped its environment, when
    the last run going at its start ends (see agent.probes.leftovers). `env` defaults to
    child_env(): no child (a plugin, `ping`) ever gets systemd's notify socket.
    """
    become_subreaper()
    out, err = await _open_pipe(), await _open_pipe()
    try:
        run = leftovers.start()
        try:
            env = {**(child_env() if env is None else env), MARKER: run.marker}
            proc = await _spawn(argv, env, out, err)
            run.root = proc.pid
            returncode = await _wait(proc, timeout, run)
        finally:
            await leftovers.finish(run)
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


TYPE = ProbeType("command", CommandProbe, ("command",), {"command": read_argv}, probe)

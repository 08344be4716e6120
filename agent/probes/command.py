"""Run a Nagios-style plugin and read its exit code: 0 up, 1 degraded, anything else down.

The plugin runs without a shell, in its own session, so a timeout can kill the whole
process group. The child gets the agent's environment less systemd's notification
variables, so a plugin can never tell systemd that the agent is ready or alive.

A plugin must not leave processes behind, even ones that left its session (`setsid`, a
double fork). On Linux the agent makes itself their child subreaper
(`prctl(PR_SET_CHILD_SUBREAPER)`, once), so an orphan of a plugin becomes the agent's child
rather than init's. Each run puts a marker of its own, OUTAGE_AGENT_PLUGIN_RUN=<random>, in
the plugin's environment, which its descendants inherit. When the plugin has exited or been
killed, the agent looks in /proc for its own children that are this run's: the marker in
their environment, or (a zombie, or an environment that cannot be read) membership of the
plugin's session or of a session one of the run's processes is in; a session number stays
taken while any member lives, and only descendants of its leader join it. Those and all their
descendants (by parent pid) are sent SIGKILL and reaped, round after round until none is
left, for at most REAP_LIMIT seconds and REAP_MAX processes a round. Nothing else is
touched: the agent's other children (a database, a test's servers) have no marker and are in
other sessions, and another run's processes carry another marker. At a timeout the plugin's
live descendants are also killed by their parent links before its group is.

Left alone: a descendant that both empties its environment and starts a session of its own
after its parent has gone; and everything, where there is no /proc or no prctl.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import secrets
import shlex
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.config.values import as_list, string
from agent.model import ProbeResult, Status
from agent.probes.base import ProbeType

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.probes import Resources

OUTPUT_LIMIT = 4096  # bytes kept per stream; the rest is read and dropped so the child never blocks
REASON_LIMIT = 200  # characters of plugin output kept in a reason
EXIT_GRACE = 0.2  # seconds to wait for the pipes to close after the plugin exits
HIDDEN_ENV = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})
EXIT_STATUS = {0: Status.UP, 1: Status.DEGRADED}  # 2 critical, 3 unknown, others: down
MARKER = "OUTAGE_AGENT_PLUGIN_RUN"  # in each plugin's environment: which run a process is of
REAP_LIMIT = 2.0  # seconds spent at most killing and reaping what one run left behind
REAP_MAX = 1024  # processes killed at most per round (a fork bomb stops here)
REAP_PAUSE = 0.01  # seconds between rounds, for the killed to die
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


@dataclass(frozen=True)
class CommandProbe:
    command: tuple[str, ...]  # argv, run without a shell
    type: str = "command"


def _argv(ctx: Context, node: Node) -> tuple[str, ...] | None:
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


@functools.cache
def become_subreaper() -> bool:
    """Make this process (once) the reaper of its descendants' orphans, so that a plugin's
    grandchild that escaped its session is re-parented here, where it can be found and
    reaped, not to init; return whether it is (False off Linux)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), ctypes.c_ulong(0),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0)


@dataclass(frozen=True)
class _Process:
    """A process as /proc/PID/stat shows it."""

    pid: int
    ppid: int
    state: str  # "Z" a zombie
    session: int


def _process(pid: int) -> _Process | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:  # gone, or no /proc
        return None
    fields = stat.rpartition(b")")[2].split()  # after the command name, which may hold ")"
    return _Process(pid, int(fields[1]), fields[0].decode(), int(fields[3]))


def _processes() -> dict[int, _Process]:
    """Every process /proc lists (none without /proc), by pid."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    found = (_process(int(name)) for name in names if name.isdigit())
    return {p.pid: p for p in found if p is not None}


def _marker(pid: int) -> str | None:
    """The run marker in a process's environment; None if it has none or it cannot be read
    (a zombie's reads as empty)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            environ = file.read()
    except OSError:
        return None
    prefix = f"{MARKER}=".encode()
    values = (item[len(prefix):] for item in environ.split(b"\0") if item.startswith(prefix))
    return next(values, b"").decode(errors="replace") or None


def _descendants(roots: Iterable[int], table: Mapping[int, _Process]) -> list[int]:
    """The roots and every process below them by parent pid, REAP_MAX at most."""
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: dict[int, None] = {}  # in order; a snapshot taken as pids are reused is no tree
    todo = list(roots)
    while todo and len(found) < REAP_MAX:
        pid = todo.pop()
        if pid not in found:
            found[pid] = None
            todo.extend(children.get(pid, ()))
    return list(found)


def _kill(pid: int) -> bool:
    """SIGKILL one process; return whether the signal went."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class _Run:
    """One run of a plugin, for finding what it left: its marker and the sessions its
    processes are in (the plugin's own to start with)."""

    marker: str
    sessions: set[int] = field(default_factory=set)

    def owns(self, p: _Process) -> bool:
        """Whether a child of the agent is this run's: its marker, or none readable and one
        of the run's sessions."""
        marker = _marker(p.pid)
        return marker == self.marker if marker is not None else p.session in self.sessions

    def kill_tree(self, pid: int) -> None:
        """SIGKILL a live plugin and its descendants by parent pid, found while they are
        still linked to it; note their sessions, by which their zombies are known later."""
        table = _processes()
        for member in _descendants([pid], table):
            if member in table:
                self.sessions.add(table[member].session)
            _kill(member)

    def sweep(self, table: Mapping[int, _Process]) -> int:
        """Kill every live process of the run, reap those that are the agent's zombies;
        return how many may need another round (killed now, or a zombie not yet ours)."""
        me = os.getpid()
        roots = [p.pid for p in table.values() if p.ppid == me and self.owns(p)]
        pending = 0
        for pid in _descendants(roots, table):
            p = table[pid]
            self.sessions.add(p.session)
            if p.state != "Z":
                pending += _kill(pid)
            elif p.ppid != me:
                pending += 1  # its parent, killed, hands it to us
            else:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        return pending


async def _reap_leftovers(run: _Run) -> None:
    """Kill and reap every process the run left, in rounds, for at most REAP_LIMIT s."""
    deadline = time.monotonic() + REAP_LIMIT
    while run.sweep(_processes()) and time.monotonic() < deadline:
        await asyncio.sleep(REAP_PAUSE)


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


async def _wait(proc: asyncio.subprocess.Process, timeout: float, run: _Run) -> int:
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
    cancellation its descendants and whole process group are killed; whatever it leaves,
    even outside its session, is killed and reaped before this returns (see the module's
    docstring). `env` defaults to child_env(): no child (a plugin, `ping`) ever gets
    systemd's notify socket.
    """
    become_subreaper()
    run = _Run(secrets.token_hex(8))
    env = {**(child_env() if env is None else env), MARKER: run.marker}
    out, err = await _open_pipe(), await _open_pipe()
    try:
        proc = await _spawn(argv, env, out, err)
        run.sessions.add(proc.pid)
        try:
            returncode = await _wait(proc, timeout, run)
        finally:
            await asyncio.shield(_reap_leftovers(run))
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


TYPE = ProbeType("command", CommandProbe, ("command",), {"command": _argv}, probe)

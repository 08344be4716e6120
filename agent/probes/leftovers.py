"""What a plugin leaves behind: every process a run starts is killed when the run ends.

The agent starts processes only to run plugins (and `ping`), through
`command.run_captured`, each a *run*. On Linux it makes itself their child subreaper
(`prctl(PR_SET_CHILD_SUBREAPER)`, once), so a descendant whose parent dies, in whatever
session and with whatever environment, is re-parented to the agent rather than to init: an
orphan among the agent's children is a leftover of some run. Whose, is told by, in order:

1. the run killed it itself (its zombie, after a timeout or an earlier round);
2. the run's marker, OUTAGE_AGENT_PLUGIN_RUN=<random>, in its environment: each run puts
   one in its plugin's, and descendants inherit it unless they drop it;
3. else (`env -i`, sudo's env_reset, a zombie, an environment it may not read), its birth:
   it is a leftover of one of the runs going when it started (/proc's start time against
   the runs' starts, on the same boot clock).

When a run ends (its plugin exited, or was killed at its timeout or at a stop), the agent
kills (SIGKILL), with everything below them by parent pid, those of its children that are
that run's by 1 or 2, or by 3 once no other run going at their birth is still going, and
reaps them; round after round until none is left, for at most REAP_LIMIT seconds and
REAP_MAX processes a round. Cancelling the run (a stop) does not cut this short.

So a helper that dropped its environment is left alone while any plugin that may have
started it still runs, and one plugin ending never kills another's daemon under it; it dies
at the end of the last of those runs. A process with the marker of a run still going is
never touched, nor is anything the agent did not start: processes outside its tree, and its
children born while no run was going (a test's database, an orphan from elsewhere), at least
a clock tick (10 ms) before a run starts: /proc dates a birth to the tick.

Out of reach: a process handed to another manager (`systemd-run`, `at`), one the agent may
not signal (setuid), one forking faster than REAP_MAX a round for REAP_LIMIT s, what is left
when the agent itself is killed (SIGKILL), and everything where there is no /proc or prctl.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MARKER = "OUTAGE_AGENT_PLUGIN_RUN"  # in each plugin's environment: which run a process is of
REAP_LIMIT = 2.0  # seconds spent at most killing and reaping what one run left behind
REAP_MAX = 1024  # processes killed at most per round (a fork bomb stops here)
REAP_PAUSE = 0.01  # seconds between rounds, for the killed to die
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")  # /proc counts start times in these


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


def boot_ticks() -> int:
    """Now, on the clock of a process's start time in /proc: clock ticks since boot."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // TICK_NS


@dataclass(frozen=True)
class _Process:
    """A process as /proc/PID/stat shows it."""

    pid: int
    ppid: int
    state: str  # "Z" a zombie
    born: int  # its start, in boot_ticks()


def _process(pid: int) -> _Process | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:  # gone, or no /proc
        return None
    fields = stat.rpartition(b")")[2].split()  # after the command name, which may hold ")"
    return _Process(pid, int(fields[1]), fields[0].decode(), int(fields[19]))


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
class Run:
    """One run of a plugin: its marker, when it started, its plugin's pid once spawned, and
    the processes it has killed (pid: start), whose zombies are then known as its own."""

    marker: str = field(default_factory=lambda: secrets.token_hex(8))
    start: int = field(default_factory=boot_ticks)
    root: int | None = None
    killed: dict[int, int] = field(default_factory=dict)

    def owns(self, p: _Process, others: Mapping[str, Run]) -> bool:
        """Whether a child of the agent is this run's leftover, with `others` the runs still
        going, by marker (see the module's docstring)."""
        if self.killed.get(p.pid) == p.born:
            return True
        marker = _marker(p.pid)
        if marker == self.marker:
            return True
        if marker in others:
            return False
        return self.start <= p.born and all(p.born < run.start for run in others.values())

    def kill_tree(self, pid: int) -> None:
        """SIGKILL a live plugin and its descendants by parent pid, found while they are
        still linked to it."""
        table = _processes()
        for member in _descendants([pid], table):
            if member in table and _kill(member):
                self.killed[member] = table[member].born

    def sweep(self, table: Mapping[int, _Process], others: Mapping[str, Run]) -> int:
        """Kill every live leftover of the run, reap its zombies that are the agent's;
        return how many may need another round (killed now, or a zombie not yet ours)."""
        me = os.getpid()
        roots = [p.pid for p in table.values() if p.ppid == me and self.owns(p, others)]
        pending = 0
        for pid in _descendants(roots, table):
            p = table[pid]
            if p.state != "Z":
                if _kill(pid):
                    self.killed[pid] = p.born
                    pending += 1
            elif p.ppid != me:
                pending += 1  # its parent, killed, hands it to us
            elif pid != self.root:  # asyncio reaps the plugin itself
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        return pending


_GOING: dict[str, Run] = {}  # the runs of this process going now, by marker
_GOING_LOCK = threading.Lock()  # runs may go on several event loops' threads


def start() -> Run:
    """A new run, going from now (before its plugin is spawned) until `finish(run)`."""
    run = Run()
    with _GOING_LOCK:
        _GOING[run.marker] = run
    return run


def _going() -> dict[str, Run]:
    with _GOING_LOCK:
        return dict(_GOING)


async def finish(run: Run) -> None:
    """The run has ended: kill and reap what it left, in rounds, for at most REAP_LIMIT s.
    A cancellation (a stop) waits until that is done, then is raised."""
    with _GOING_LOCK:  # first, before any await: a run left going would shelter leftovers
        _GOING.pop(run.marker, None)
    deadline = time.monotonic() + REAP_LIMIT
    cancelled = False
    while run.sweep(_processes(), _going()) and time.monotonic() < deadline:
        try:
            await asyncio.sleep(REAP_PAUSE)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError

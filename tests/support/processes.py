"""What a test's plugins may have left running, read from /proc: the processes started since
a moment that are this process's children (it is the subreaper of whatever its children
orphan), and a way to kill and reap them, so that even a failing test leaves nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def boot_ticks() -> int:
    """Now on /proc's clock for a process's start: clock ticks since boot."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // TICK_NS


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name; None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def started_since(ticks: int) -> list[int]:
    """This process's children (zombies too) started at or after `ticks`."""
    found = []
    for name in os.listdir("/proc"):
        stat = _stat(name) if name.isdigit() else None
        if stat is not None and int(stat[1]) == os.getpid() and int(stat[19]) >= ticks:
            found.append(int(name))
    return found


def descendants(root: int) -> list[int]:
    """The processes below `root`, by parent pid."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        stat = _stat(name) if name.isdigit() else None
        if stat is not None:
            children.setdefault(int(stat[1]), []).append(int(name))
    found, todo = [], list(children.get(root, ()))
    while todo and len(found) < 10_000:  # bounded: a snapshot taken as pids are reused
        found.append(todo.pop())
        todo.extend(children.get(found[-1], ()))
    return found


def command_line(pid: int) -> bytes:
    """/proc/PID/cmdline: the arguments, each ending in NUL; empty if it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def left_running(since: int, limit: float = 2.0) -> list[int]:
    """Poll (bounded) until nothing started since `since` is left; return what still is."""
    left = started_since(since)
    for _ in range(int(limit / 0.02)):
        if not left:
            break
        time.sleep(0.02)
        left = started_since(since)
    return left


def kill_and_reap(pids: Iterable[int]) -> None:
    """SIGKILL each of `pids` that is still this process's child or runs `sleep` (one gone
    may be another process's now), and reap it if it is this process's child; bounded."""
    for pid in pids:
        with contextlib.suppress(OSError):
            stat = _stat(pid)
            if (stat is not None and int(stat[1]) == os.getpid()) or Path(
                    f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            for _ in range(100):  # a killed process dies within milliseconds
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    break
                time.sleep(0.01)

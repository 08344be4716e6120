"""Which process holds a resource, as Linux's /proc says: the lock on a file, or a listening
TCP port. Only read, never by taking the resource, so asking cannot make a starting agent
fail; None where /proc cannot tell (another system, or another user's process).

`proc` is where /proc is, so a test can show the functions /proc as systemd's ProcSubset=pid
leaves it (only the processes' own folders): the unit's ExecReload runs `check` so.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.ledger.claim import flock_holder

PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in the st column of /proc/net/tcp


def lock_holder(path: Path, proc: Path = PROC) -> int | None:
    """The pid holding an exclusive flock on `path`, or None. Where /proc/locks is hidden,
    the pid of a process that has `path` open: a lock file of the ledger is open only in the
    agent holding its claim."""
    if not path.exists():
        return None
    if (proc / "locks").exists():
        return flock_holder(path, proc)
    return _process_with({os.path.realpath(path)}, proc)


def port_listener(port: int, proc: Path = PROC) -> int | None:
    """The pid of a process with a TCP socket listening on `port` (any address), or None."""
    sockets = set()
    for table in ("tcp", "tcp6"):  # self/net: /proc/net itself is hidden by ProcSubset=pid
        try:
            rows = (proc / "self" / "net" / table).read_text(encoding="ascii").splitlines()
        except OSError:
            continue
        for fields in map(str.split, rows[1:]):  # "0: 0100007F:2469 00000000:0000 0A ..."
            if fields[3] == _LISTEN and int(fields[1].rpartition(":")[2], 16) == port:
                sockets.add(f"socket:[{fields[9]}]")
    return _process_with(sockets, proc) if sockets else None


def _process_with(targets: set[str], proc: Path) -> int | None:
    """The pid of a process with a descriptor open on one of `targets` (a file's real path,
    or "socket:[inode]"), or None."""
    for entry in proc.iterdir():
        if entry.name.isdigit() and _links(entry / "fd") & targets:
            return int(entry.name)
    return None


def _links(folder: Path) -> set[str]:
    """What each descriptor in /proc/PID/fd points at; none if the process is gone or not
    ours to read. One closed as it is read (listing the folder opens one) is left out."""
    try:
        fds = list(folder.iterdir())
    except OSError:
        return set()
    links = set()
    for fd in fds:
        try:
            links.add(os.readlink(fd))
        except OSError:
            continue
    return links


def command_line(pid: int, proc: Path = PROC) -> str:
    """The process's command line, its arguments joined by spaces ("" if unknown)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")

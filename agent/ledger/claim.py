"""One agent per ledger identity: two agents on one SQLite file, or on one site and shard of a
PostgreSQL database, would each bill every outage. A SQLite ledger is claimed with a flock on
the file itself, which every name of it shares (a symlink or a hard link), and one on
`<ledger>.lock` beside the file its name resolves to, saying who holds it; a PostgreSQL one
with an advisory lock keyed by site and shard. The kernel or the server lets go if the agent
dies."""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from agent.ledger.store import LedgerError, make_folder, reason


def _shard_words(shard: str) -> str:
    return f", shard {shard}" if shard else ""


def claim_file(ledger: Path, site: str, shard: str) -> ExitStack:
    """Hold exclusive flocks on `<ledger>.lock` (resolved, so a symlink finds the same one),
    writing in it who holds it, and on the ledger file itself (so a hard link does too), each
    created if need be, and their folder too (as opening the ledger would, which comes after
    the claim: `check` promises that `run` creates it); raise LedgerError naming the holder
    if another process holds either.
    SQLite locks with fcntl, which a flock never meets, so readers and the CLI's writes go on.
    Both files are held open only to read: a filesystem can still be remounted read-only
    under a running agent. Close the claim only once the ledger's connections are: closing
    any descriptor of the file drops this process's fcntl locks on it, SQLite's included."""
    real = Path(os.path.realpath(ledger))
    lock = real.with_name(real.name + ".lock")
    make_folder(real)
    held = ExitStack()
    for path, mode in ((lock, 0o600), (real, 0o644)):
        try:
            held.enter_context(_flocked(path, mode))
        except BlockingIOError:
            held.close()
            noted = _noted(lock) if path == lock else ""
            raise LedgerError(f"{real}: another agent already runs on this ledger "
                              f"({noted or _holder(path) or 'another process'}); two would "
                              "bill every outage twice. Stop it first, or give this agent a "
                              "ledger of its own") from None
        except OSError as exc:
            held.close()
            raise LedgerError(f"{path}: {exc.strerror}") from exc
    with suppress(OSError), open(lock, "w", encoding="utf-8") as note:  # who holds it, if we can
        note.write(f"pid {os.getpid()}, site {site or '(none)'}{_shard_words(shard)}\n")
    return held


def _flocked(path: Path, mode: int) -> IO[bytes]:
    """`path` open to read (created with `mode` if need be) under an exclusive flock; raise
    BlockingIOError if another open file holds one."""
    handle = os.fdopen(os.open(path, os.O_CREAT | os.O_RDONLY, mode), "rb")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise
    return handle


def _noted(lock: Path) -> str:
    """What the agent holding `lock` wrote in it ("pid N, site S"), or "" if nothing."""
    try:
        return lock.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _holder(path: Path) -> str:
    """"pid N" of the process holding a flock on `path`, or "" if it cannot tell: a hard
    link's holder noted itself in a lock file of another name."""
    pid = flock_holder(path)
    return f"pid {pid}" if pid is not None else ""


def flock_holder(path: Path, proc: Path = Path("/proc")) -> int | None:
    """The pid holding an exclusive flock on `path`, as Linux's /proc/locks says; None if
    it cannot tell (no such lock, or /proc/locks hidden)."""
    try:
        info = os.stat(path)
        lines = (proc / "locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for fields in map(str.split, lines):  # "1: FLOCK  ADVISORY  WRITE 4330 fe:00:2261006 0 EOF"
        if fields[1:2] == ["FLOCK"] and fields[3:4] == ["WRITE"] and fields[5:6] == [inode]:
            return int(fields[4])
    return None


def claim_advisory(engine: sa.Engine, name: str, site: str, shard: str) -> sa.Connection:
    """A session-level PostgreSQL advisory lock keyed by site and shard, held on a
    connection of its own: released at stop, or by the server when the session dies."""
    digest = hashlib.sha256(f"outage-agent\0{site}\0{shard}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    try:
        conn = engine.connect()
        taken = conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        conn.commit()
    except sa_exc.SQLAlchemyError as exc:
        raise LedgerError(f"{name}: {reason(exc)}") from exc
    if not taken:
        conn.close()
        raise LedgerError(f"{name}: another agent already runs on site {site or '(none)'}"
                          f"{_shard_words(shard)} of this ledger; two would bill every outage "
                          "twice. Stop it first, or give this agent its own agent.site or "
                          "agent.shard")
    return conn

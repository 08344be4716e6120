"""What the agent says to systemd, and what it reads from it, without libsystemd.

The notification protocol is one datagram per message on the AF_UNIX socket named by
$NOTIFY_SOCKET (a leading '@' means Linux's abstract namespace). A failed send is logged,
never raised: telling systemd how things are must not take the agent down, but a unit
that never becomes ready should leave a reason in the journal.

Credentials (`LoadCredential=`) are files in $CREDENTIALS_DIRECTORY; `credentials_env`
offers each one whose name is a valid variable name to the config's `${VAR}`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

SEND_TIMEOUT = 0.5  # seconds; systemd reads promptly, and the event loop must not stall
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # what the config's ${VAR} accepts


def socket_address(path: str) -> str | None:
    """Given $NOTIFY_SOCKET, return the address to connect to; None if it is not AF_UNIX."""
    if path.startswith("@"):
        return "\0" + path[1:]
    if path.startswith("/"):
        return path
    return None


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send `message` (e.g. "READY=1") to systemd; True once sent.

    Return False without a word when not started by systemd (no $NOTIFY_SOCKET), and False
    after logging a warning when the socket is set but the message cannot be delivered.
    """
    path = environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = socket_address(path)
    if address is None:
        log.warning("cannot notify systemd: unsupported NOTIFY_SOCKET %r", path)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(SEND_TIMEOUT)
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd (%s) via %s: %s",
                    message.replace("\n", " "), path, exc)
        return False
    log.debug("notified systemd: %s", message.replace("\n", " "))
    return True


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def ready(status: str = "") -> str:
    return "READY=1" + (f"\nSTATUS={status}" if status else "")


def reloading(usec: int) -> str:
    """The message that opens a reload; systemd 253+ requires MONOTONIC_USEC with it."""
    return f"RELOADING=1\nMONOTONIC_USEC={usec}"


STOPPING = "STOPPING=1"
WATCHDOG = "WATCHDOG=1"


def stderr_is_journal(environ: Mapping[str, str] = os.environ, fd: int = 2) -> bool:
    """True if `fd` is the journal stream systemd connected ($JOURNAL_STREAM is "dev:inode").

    Comparing the device and inode, as systemd.exec(5) advises, keeps a program that merely
    inherited the variable (run from a shell inside a service) from dropping its timestamps.
    """
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        found = os.fstat(fd)
        return (found.st_dev, found.st_ino) == (int(device), int(inode))
    except (OSError, ValueError):
        return False


def journal_priority(levelno: int) -> int:
    """Given a logging level, return its syslog priority: 2 critical ... 7 debug."""
    for floor, priority in ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
                            (logging.INFO, 6)):
        if levelno >= floor:
            return priority
    return 7


class JournalFormatter(logging.Formatter):
    """Prefix each line of a record with <priority>, which the journal reads off a service's
    stderr, so `journalctl -p warning` shows warnings and errors only. The journal makes each
    line an entry of its own: the lines after the first (a list of problems, a traceback)
    carry the prefix too, or they would be entries of the default priority, info."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{journal_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def watchdog_interval(environ: Mapping[str, str] = os.environ,
                      pid: int | None = None) -> float | None:
    """Given systemd's WATCHDOG_USEC (and WATCHDOG_PID), return how often to ping, in seconds.

    Half the watchdog timeout, as sd_watchdog_enabled(3) advises; None when systemd asks for
    no watchdog, or asks another process (WATCHDOG_PID set to a pid not ours).
    """
    text = environ.get("WATCHDOG_USEC")
    if not text:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        usec = int(text)
    except ValueError:
        usec = 0
    if usec <= 0:
        log.warning("ignoring an invalid WATCHDOG_USEC %r", text)
        return None
    return usec / 2 / 1e6


def credentials_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Given the environment, return it plus one variable per systemd credential.

    A credential whose name is a valid variable name (`LoadCredential=SMTP_PASSWORD:...`)
    becomes `${SMTP_PASSWORD}` for the config, its trailing newline removed. A variable set
    in the environment itself wins. Unreadable or non-UTF-8 credentials are logged and left
    out, so the config then reports the variable as unset.
    """
    directory = environ.get("CREDENTIALS_DIRECTORY")
    found: dict[str, str] = {}
    if directory:
        try:
            entries = sorted(Path(directory).iterdir())
        except OSError as exc:
            log.warning("cannot list credentials in %s: %s", directory, exc)
            entries = []
        for entry in entries:
            if not _VARIABLE.match(entry.name):
                continue
            try:
                found[entry.name] = entry.read_text(encoding="utf-8").removesuffix("\n")
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("cannot read credential %s: %s", entry.name, exc)
    return {**found, **environ}

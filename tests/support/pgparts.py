"""A real, throwaway PostgreSQL cluster for tests: Debian's binaries run by hand on loopback,
never the system service (see ../shared/REAL-PARTS.md, "PostgreSQL 15")."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NoReturn

from support.realparts import free_port, require_tool

START_TIMEOUT = 30  # seconds pg_ctl waits for the server (-w -t); every other wait is bounded
COMMAND_TIMEOUT = 60  # seconds any one subprocess may take before the test fails
SOCKET_PATH_MAX = 107  # bytes in sockaddr_un's path, which DIR/.s.PGSQL.PORT must fit
SAFE_PATH = re.compile(r"[\w./-]+")  # DIR goes into pg_ctl -o, which a shell splits
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_bin_dir() -> Path:
    """Return the newest /usr/lib/postgresql/<version>/bin (Debian's layout), else the folder
    of an `initdb` on PATH; in CI a missing PostgreSQL fails the test, elsewhere it skips."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    versioned = [path for path in found if path.parent.name.isdigit()]
    if versioned:
        return max(versioned, key=lambda path: int(path.parent.name))
    return Path(require_tool("initdb", "postgresql")).parent


def _unavailable(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere: the same rule as realparts.require_tool."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _can_traverse(path: Path, user: pwd.struct_passwd) -> bool:
    """Given a folder and a user, return whether that user can reach into it: search (x)
    permission on the folder and every folder above it."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for folder in (path, *path.parents):
        info = folder.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


class PostgresCluster:
    """A PostgreSQL cluster of its own, listening on 127.0.0.1:`port` only, in a folder that
    `stop()` removes.

    Run as root, the server runs as the `postgres` user (PostgreSQL refuses root); pytest's
    temporary folders are private to root (mode 0700), so when `workdir` is out of postgres's
    reach the cluster lives in a private folder of its own under the system temp folder.
    """

    def __init__(self, workdir: Path) -> None:
        self.bin = postgres_bin_dir()
        self.workdir = workdir
        self.port = 0
        self.dir: Path | None = None  # the cluster's folder: data/, pg.log and the socket
        self.timings: dict[str, float] = {}  # seconds taken by initdb and by pg_ctl start
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("no postgres user to run PostgreSQL as root: "
                             "apt-get install postgresql")

    @property
    def log(self) -> Path:
        assert self.dir is not None, "the cluster is not started"
        return self.dir / "pg.log"

    def start(self) -> PostgresCluster:
        """Create the cluster and start the server; raise AssertionError (with the server's
        log) if it does not come up within START_TIMEOUT seconds."""
        self.dir = self._make_dir()
        data = self.dir / "data"
        began = time.monotonic()
        # Trust is safe only because the server listens on 127.0.0.1 alone and lives for one
        # test session; --auth-host=trust lets the tests connect over TCP as `postgres`
        # without a password, whichever OS user runs them.
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.timings["initdb"] = time.monotonic() - began
        began = time.monotonic()
        for attempt in range(3):  # free_port() can race another process for the port
            self.port = free_port()
            logged = len(self._log_text())
            result = self._start_server(check=False)
            if result.returncode == 0:
                break
            if attempt == 2 or "already in use" not in self._log_text()[logged:]:
                raise AssertionError(f"PostgreSQL did not start (pg_ctl exit "
                                     f"{result.returncode}): {result.stdout}\nlog:\n"
                                     f"{self._log_text()}")
        self.timings["start"] = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: the data is thrown away) and remove its
        folder; a server that ignores pg_ctl for START_TIMEOUT seconds is killed."""
        if self.dir is None:
            return
        data = self.dir / "data"
        if (data / "postmaster.pid").exists():
            try:
                stopped = self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w",
                                    "-t", str(START_TIMEOUT), "stop", check=False)
            except subprocess.TimeoutExpired:
                self._kill_postmaster(data)
            else:
                if stopped.returncode != 0:
                    self._kill_postmaster(data)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def halt(self) -> None:
        """Stop the server at once, as a crash or a lost network would, keeping its data."""
        assert self.dir is not None, "the cluster is not started"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w",
                  "-t", str(START_TIMEOUT), "stop")

    def resume(self) -> None:
        """Start a halted server again on the same port, with its data."""
        self._start_server(check=True)

    def _start_server(self, check: bool) -> subprocess.CompletedProcess[str]:
        """pg_ctl start on 127.0.0.1:`port`, its socket in the cluster's folder."""
        assert self.dir is not None, "the cluster is not started"
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.dir} -c fsync=off")
        return self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.log), "-w",
                         "-t", str(START_TIMEOUT), "-o", options, "start", check=check)

    def url(self, name: str) -> str:
        """Given a database name, return its SQLAlchemy URL (psycopg 3, over loopback TCP)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """Given a new database's name (lower case letters, digits, _), create it and return
        its SQLAlchemy URL; raise ValueError for any other name."""
        if not DATABASE_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: use lower case letters, digits and _")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "--", name)
        return self.url(name)

    def _make_dir(self) -> Path:
        """Return a new, empty folder for the cluster, which the server's user owns."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        base: Path | None = self.workdir
        if self._owner is not None and not _can_traverse(self.workdir, self._owner):
            base = None  # pytest's 0700 folders: don't loosen them, go around them
        longest = f"{self.workdir}/postgres-xxxxxxxx/.s.PGSQL.65535"
        if len(longest) > SOCKET_PATH_MAX or not SAFE_PATH.fullmatch(str(self.workdir)):
            base = None
        folder = Path(tempfile.mkdtemp(prefix="postgres-", dir=base))
        if self._owner is not None:
            os.chown(folder, self._owner.pw_uid, self._owner.pw_gid)
        return folder

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one of PostgreSQL's programs (as `postgres` when we are root), bounded in time;
        raise AssertionError with its output if `check` and it fails."""
        argv = [str(self.bin / tool), *args]
        if self._owner is not None:
            argv = ["runuser", "-u", self._owner.pw_name, "--", *argv]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        result = subprocess.run(argv, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        result.stdout += result.stderr
        if check and result.returncode != 0:
            raise AssertionError(f"{tool} exited {result.returncode}: {result.stdout}")
        return result

    def _log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"

    @staticmethod
    def _kill_postmaster(data: Path) -> None:
        """If the server we started is still running (pg_ctl gave up), kill it."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises OSError once it is gone
                time.sleep(0.1)


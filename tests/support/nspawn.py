"""A real systemd (PID 1) for tests: Debian's systemd booted by `systemd-nspawn` over the host's
own `/usr`, with a volatile root (fresh `/etc`, `/var` and `/run` on tmpfs), driven from the
host with `nsenter` (see ../shared/REAL-PARTS.md, "A real systemd (PID 1) in systemd-nspawn").

The container shares the host's network namespace: a port on 127.0.0.1 is the same port on
both sides, so targets, receivers and databases the test runs on the host are reachable from
the agent inside, and the test reaches the agent's HTTP server directly. Files inside are
read and written through /proc/LEADER/root (`path()`); commands run inside with a clean
environment (`run()`), as an administrator's shell would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from support.processes import descendants

BOOT_TIMEOUT = 60.0  # seconds for systemd inside to finish booting
COMMAND_TIMEOUT = 120.0  # seconds any one command inside may take
LIFETIME = 900  # seconds after which `timeout` powers the container off, whatever happens
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # /usr is all there is


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere: the rule of realparts.require_tool."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


class Container:
    """One booted container: `boot()`, then `run()`/`systemctl()`/`path()`, then `poweroff()`.

    `binds` maps host paths to where they appear inside, read-only.
    """

    def __init__(self, log: Path, binds: dict[Path, str]) -> None:
        self.log = log
        self.binds = binds
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader = 0  # the container's PID 1 as the host sees it
        self.boot_seconds = 0.0

    def argv(self) -> list[str]:
        nspawn = shutil.which("systemd-nspawn")
        assert nspawn is not None
        # --register=no --keep-unit: no host systemd or D-Bus to register with. basic.target:
        # the services Debian's presets would enable (prometheus, postgresql...) stay off,
        # since they would share the host's network.
        return ["timeout", "--kill-after=10", str(LIFETIME), nspawn, "--quiet",
                "--register=no", "--keep-unit", "-D", "/", "--volatile=yes",
                "--console=pipe", "--machine=outage-agent-test",
                *(f"--bind-ro={host}:{inside}" for host, inside in self.binds.items()),
                "--boot", "systemd.unit=basic.target"]

    def boot(self) -> Container:
        """Start the container and wait until its systemd has finished booting."""
        began = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.leader = self._find_leader(began + BOOT_TIMEOUT)
        while time.monotonic() < began + BOOT_TIMEOUT:
            done = self.run("systemctl", "is-system-running", "--wait", check=False,
                            timeout=BOOT_TIMEOUT)
            if done.stdout.strip() in ("running", "degraded"):
                self.boot_seconds = time.monotonic() - began
                return self
            time.sleep(0.1)  # "offline": PID 1 is not listening yet
        raise AssertionError(f"systemd in the container did not boot in {BOOT_TIMEOUT}s: "
                             f"{self.log.read_text(errors='replace')[-3000:]}")

    def _find_leader(self, deadline: float) -> int:
        """The container's init: the `systemd` below our systemd-nspawn."""
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}: "
                                     f"{self.log.read_text(errors='replace')[-3000:]}")
            for pid in descendants(self.proc.pid):
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return pid
            time.sleep(0.02)
        raise AssertionError("no systemd started in the container")

    def run(self, *argv: str, check: bool = True, input: str | None = None,
            cwd: str = "/", env: dict[str, str] | None = None,
            timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run a command inside, as root, with a clean environment (PATH, LANG and `env`);
        raise AssertionError with its output if `check` and it fails."""
        clean = [f"PATH={PATH}", "LANG=C.UTF-8", *(f"{k}={v}" for k, v in (env or {}).items())]
        done = subprocess.run(
            ["nsenter", f"--target={self.leader}", "--mount", "--uts", "--ipc", "--pid",
             "--root", "--wd", "--", "/usr/bin/env", "-i", f"--chdir={cwd}", *clean, *argv],
            input=input, capture_output=True, text=True, timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")
        return done

    def sh(self, script: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a POSIX shell script inside, stopping at the first failing command."""
        return self.run("/bin/sh", "-ec", script, **kwargs)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--no-pager", *args, check=check)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        """`systemctl show` of `unit`: each property's value."""
        done = self.systemctl("show", unit, *(f"--property={p}" for p in properties))
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    def journal(self, *args: str) -> list[dict[str, Any]]:
        """`journalctl ARGS -o json`: each entry, as journald stores it."""
        done = self.run("journalctl", "--no-pager", "-o", "json", *args, check=False)
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def path(self, inside: str) -> Path:
        """The host's path to a file inside the container."""
        return Path(f"/proc/{self.leader}/root") / inside.lstrip("/")

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        """Write a file inside (folders made as needed), `mode` set."""
        path = self.path(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)

    def poweroff(self, timeout: float = 30.0) -> int | None:
        """Power the container off and wait; kill it if it does not stop in `timeout`.
        Return systemd-nspawn's exit status (0: a clean power-off)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.run("systemctl", "poweroff", "--no-block", check=False, timeout=10)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.kill(self.leader, signal.SIGKILL)  # the init of a PID namespace: all go
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            return None


def source_tree(repo: Path, destination: Path) -> Path:
    """A copy of what `pip wheel` needs of the project (never building in the work tree)."""
    destination.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(repo / name, destination / name)
    shutil.copytree(repo / "agent", destination / "agent",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def tree_digest(root: Path, names: Sequence[str]) -> str:
    """A digest of the files under `root`'s `names` (files or folders), paths and content."""
    digest = hashlib.sha256()
    for name in names:
        top = root / name
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_wheelhouse(repo: Path, work: Path, requirement: str) -> Path:
    """Wheels of the project and everything it needs (`requirement` names the extras), for
    an install inside the container without a package index; cached under `work` by the
    digest of the project's files."""
    key = tree_digest(repo, ("pyproject.toml", "README.md", "LICENSE", "agent"))[:16]
    wheels = work / f"wheels-{key}"
    if (wheels / "complete").is_file():
        return wheels
    shutil.rmtree(work, ignore_errors=True)
    source = source_tree(repo, work / "src")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                           str(wheels), requirement.replace("outage-cost-agent", str(source))],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(source)
    (wheels / "complete").touch()
    return wheels


@contextlib.contextmanager
def sysctl(name: str, value: str) -> Iterator[bool]:
    """Set a sysctl for the block and restore it after; yield False (changing nothing) if it
    cannot be set here."""
    path = Path("/proc/sys") / name.replace(".", "/")
    before = path.read_text().strip()
    try:
        path.write_text(value)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        path.write_text(before)

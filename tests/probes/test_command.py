"""Command (Nagios plugin) probes running real /bin/sh scripts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.model import Check, CommandProbe, ProbeResult, Status
from agent.probes import Prober
from agent.probes.command import OUTPUT_LIMIT, child_env, summary

Script = Callable[[str], str]


async def run(prober: Prober, *argv: str, timeout: float = 2.0) -> ProbeResult:
    return await prober.run(Check(spec=CommandProbe(command=argv), timeout=timeout))


def process_state(pid: int) -> str | None:
    """The process's state letter from /proc ("S", "Z", ...), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rpartition(")")[2].split()[0]


async def wait_until_dead(pid: int, limit: float = 2.0) -> str | None:
    """Poll (bounded) until the pid is gone or a zombie; return its last state."""
    state = process_state(pid)
    for _ in range(int(limit / 0.02)):
        if state in (None, "Z", "X"):
            break
        await asyncio.sleep(0.02)
        state = process_state(pid)
    return state


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        pytest.param(
            "echo 'OK - all fine|load=0.1'; exit 0", Status.UP, "exit 0: OK - all fine", id="ok"
        ),
        pytest.param(
            "echo 'WARNING - disk 85%'; exit 1",
            Status.DEGRADED,
            "exit 1: WARNING - disk 85%",
            id="warning",
        ),
        pytest.param(
            "printf 'DISK CRITICAL - / 99%% | used=99\\nlong text\\n'; exit 2",
            Status.DOWN,
            "exit 2: DISK CRITICAL - / 99%",
            id="critical",
        ),
        pytest.param(
            "echo 'UNKNOWN - no data'; exit 3",
            Status.DOWN,
            "exit 3: UNKNOWN - no data",
            id="unknown",
        ),
        pytest.param("exit 7", Status.DOWN, "exit 7", id="other-code-no-output"),
        pytest.param(
            "echo 'oops' >&2; exit 2", Status.DOWN, "exit 2: oops", id="stderr-when-no-stdout"
        ),
    ],
)
async def test_command_exit_code_sets_status_and_reason(
    prober: Prober, script: Script, body: str, status: Status, reason: str
) -> None:
    result = await run(prober, script(body))
    assert (result.status, result.reason) == (status, reason)


@pytest.mark.fault("shell metacharacters in a command probe's arguments",
                   "passed as they are: no shell runs", area="Security")
async def test_command_arguments_are_passed_without_a_shell(prober: Prober, script: Script) -> None:
    path = script('echo "ARGS: $1 / $2"; exit 2')
    result = await run(prober, path, "a b", "$HOME;")
    assert result.reason == "exit 2: ARGS: a b / $HOME;"


@pytest.mark.fault("command probe that hangs",
                   "killed at the timeout: down, \"timeout after 0.5s\"")
async def test_command_that_hangs_is_killed_at_the_timeout(prober: Prober, script: Script) -> None:
    started = time.monotonic()
    result = await run(prober, script("sleep 60"), timeout=0.5)
    assert (result.status, result.reason) == (Status.DOWN, "timeout after 0.5s")
    assert time.monotonic() - started < 1.5


@pytest.mark.fault("command probe that forks children and hangs",
                   "its whole process group is killed at the timeout")
async def test_command_timeout_kills_forked_children_too(
    prober: Prober, script: Script, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    path = script(f"sleep 60 &\necho $! > {pidfile}\nwait")
    result = await run(prober, path, timeout=0.5)
    assert result.reason == "timeout after 0.5s"
    pid = int(pidfile.read_text())
    try:
        assert await wait_until_dead(pid) in (None, "Z", "X")
    finally:  # if the probe failed to, do not leave the child for 60 s
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def test_command_env_hides_systemd_notify_variables(
    prober: Prober, script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.setenv(name, "set")
    monkeypatch.setenv("PLUGIN_SETTING", "kept")
    body = (
        'echo "${NOTIFY_SOCKET:-none} ${WATCHDOG_USEC:-none} ${WATCHDOG_PID:-none} $PLUGIN_SETTING"'
    )
    result = await run(prober, script(body))
    assert result.reason == "exit 0: none none none kept"


def test_child_env_drops_only_the_systemd_variables() -> None:
    env = {"PATH": "/bin", "NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "2"}
    assert child_env(env) == {"PATH": "/bin"}


async def test_command_stdin_is_empty(prober: Prober, script: Script) -> None:
    result = await run(prober, script('read line; echo "read status $?"'), timeout=1)
    assert result.reason == "exit 0: read status 1"


@pytest.mark.fault("command probe whose program is missing",
                   "down: \"command not found: PATH\"")
async def test_command_not_found_is_down(prober: Prober, tmp_path: Path) -> None:
    missing = str(tmp_path / "check_missing")
    result = await run(prober, missing)
    assert (result.status, result.reason) == (Status.DOWN, f"command not found: {missing}")


@pytest.mark.fault("command probe whose program is not executable",
                   "down: \"not executable: PATH\"")
async def test_command_not_executable_is_down(prober: Prober, tmp_path: Path) -> None:
    path = tmp_path / "check_noexec"
    path.write_text("#!/bin/sh\nexit 0\n")
    result = await run(prober, str(path))
    assert (result.status, result.reason) == (Status.DOWN, f"not executable: {path}")


@pytest.mark.fault("command probe killed by a signal",
                   "down: \"killed by SIGKILL\"")
async def test_command_killed_by_a_signal_is_down(prober: Prober, script: Script) -> None:
    result = await run(prober, script("kill -KILL $$"))
    assert (result.status, result.reason) == (Status.DOWN, "killed by SIGKILL")


@pytest.mark.fault("command probe printing 2 MB",
                   "read without blocking; the reason keeps the first line, at most 200 characters")
async def test_command_with_huge_output_neither_hangs_nor_keeps_it_all(
    prober: Prober, script: Script
) -> None:
    body = "printf 'x\\001'; yes x | tr -d '\\n' | head -c 2000000; echo; exit 1"
    result = await run(prober, script(body), timeout=5)
    assert result.status is Status.DEGRADED
    assert result.reason.startswith("exit 1: x?xxx")  # a control character is shown as "?"
    assert len(result.reason) <= 200
    assert OUTPUT_LIMIT <= 8192


@pytest.mark.fault("command probe leaving a background child holding its output",
                   "judged when the command exits, not when the pipe closes")
async def test_command_exits_even_if_a_background_child_keeps_the_pipe(
    prober: Prober, script: Script, tmp_path: Path
) -> None:
    pidfile = tmp_path / "bg.pid"
    result = await run(
        prober, script(f"echo 'OK - started'\nsleep 3 &\necho $! > {pidfile}"), timeout=2
    )
    assert (result.status, result.reason) == (Status.UP, "exit 0: OK - started")
    assert result.latency < 1
    pid = int(pidfile.read_text())  # not ours to kill after a normal exit; tidy up the test
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("output", "line"),
    [
        pytest.param(b"", "", id="empty"),
        pytest.param(b"  OK - fine  \nmore\n", "OK - fine", id="trimmed-first-line"),
        pytest.param(b"CRIT | a=1;2;3\n", "CRIT", id="perfdata"),
        pytest.param(b"\xff\xfe bad bytes\n", "\ufffd\ufffd bad bytes", id="not-utf8"),
    ],
)
def test_summary(output: bytes, line: str) -> None:
    assert summary(output) == line

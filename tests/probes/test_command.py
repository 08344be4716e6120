"""Command (Nagios plugin) probes running real /bin/sh scripts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.processes import boot_ticks, kill_and_reap, started_since

from agent.model import Check, CommandProbe, ProbeResult, Status
from agent.probes import Prober
from agent.probes.command import OUTPUT_LIMIT, child_env, summary
from agent.probes.leftovers import MARKER, REAP_LIMIT, TICK_NS, become_subreaper

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


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


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
    pid = int(pidfile.read_text())  # killed as a leftover; if not, tidy up the test
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --- what a plugin leaves behind --------------------------------------------------------------

# A grandchild that leaves the plugin's session and writes its pid (atomically) to PIDFILE;
# the plugin waits, bounded, until it has.
ESCAPE = """{setsid} sh -c 'echo $$ > {pidfile}.new && mv {pidfile}.new {pidfile}; exec sleep 300' &
i=0; while [ ! -f {pidfile} ] && [ $i -lt 300 ]; do sleep 0.01; i=$((i+1)); done
"""


def escaped_pid(pidfile: Path) -> int:
    assert pidfile.exists(), "the plugin's grandchild never started"
    return int(pidfile.read_text())


@pytest.fixture
def strays() -> Iterator[list[int]]:
    """Pids a test expects gone: if one survives, it is killed at teardown (never left for
    300 s), and reaped if it became this process's child."""
    pids: list[int] = []
    yield pids
    kill_and_reap(pids)


@pytest.mark.parametrize("setsid", ["setsid", "setsid -f", "env -i"],
                         ids=["setsid", "double-fork", "empty-environment"])
@pytest.mark.parametrize("ending", ["exit 0", "sleep 60"], ids=["exits", "hangs"])
@pytest.mark.fault("command plugin that setsids (or double-forks) a grandchild `sleep 300`, "
                   "then exits or hangs past the timeout",
                   "the agent, the orphans' subreaper, kills and reaps every process of the run "
                   "before the probe returns; none survives")
async def test_command_leaves_no_process_behind(
    prober: Prober, script: Script, tmp_path: Path, strays: list[int], setsid: str, ending: str,
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    result = await run(prober, script(ESCAPE.format(setsid=setsid, pidfile=pidfile) + ending),
                       timeout=1.0)
    strays.append(escaped_pid(pidfile))
    assert result.reason == ("exit 0" if ending == "exit 0" else "timeout after 1s")
    assert process_state(strays[0]) is None  # killed and reaped: not even a zombie is left


@pytest.mark.fault("8 plugins at once, each setsid-ing a grandchild `sleep 300`",
                   "each run kills and reaps its own; none survives the probes, within the "
                   "bound (REAP_LIMIT)")
async def test_concurrent_runs_each_reap_their_own(
    prober: Prober, script: Script, tmp_path: Path, strays: list[int],
) -> None:
    pidfiles = [tmp_path / f"grandchild{k}.pid" for k in range(8)]
    started = time.monotonic()
    results = await asyncio.gather(*(
        run(prober, script(ESCAPE.format(setsid="setsid", pidfile=f) + "exit 0"), timeout=3)
        for f in pidfiles))
    strays.extend(escaped_pid(f) for f in pidfiles)
    assert {r.reason for r in results} == {"exit 0"}
    assert time.monotonic() - started < 3 + REAP_LIMIT
    assert [process_state(pid) for pid in strays] == [None] * 8


@pytest.mark.fault("a plugin that forks a child and exits without reaping it",
                   "the zombie, handed to the agent, is reaped")
async def test_a_zombie_the_plugin_left_is_reaped(
    prober: Prober, tmp_path: Path, strays: list[int],
) -> None:
    pidfile = tmp_path / "zombie.pid"
    plugin = ("import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
              f"open({str(pidfile)!r}, 'w').write(str(pid))\ntime.sleep(0.2)\n")
    result = await run(prober, sys.executable, "-c", plugin)
    strays.append(int(pidfile.read_text()))
    assert result.reason == "exit 0"
    assert process_state(strays[0]) is None


@pytest.mark.fault("the agent's other children (a database, a test's servers, an orphan "
                   "from elsewhere) while a plugin's leftovers are killed",
                   "left running: only processes of the plugin's run are touched",
                   area="Security")
async def test_the_agent_s_other_children_are_never_killed(
    prober: Prober, script: Script, tmp_path: Path, strays: list[int],
) -> None:
    become_subreaper()
    own = subprocess.Popen(["sleep", "300"], start_new_session=True)  # like a test's database
    try:
        adopted = tmp_path / "adopted.pid"  # an orphan handed to the agent, not from a plugin
        subprocess.run(["sh", "-c", f"setsid -f sh -c 'echo $$ > {adopted}.new && "
                        f"mv {adopted}.new {adopted}; exec sleep 300'"], timeout=10, check=True)
        for _ in range(300):  # bounded wait for it to write its pid
            if adopted.exists():
                break
            await asyncio.sleep(0.01)
        strays.append(escaped_pid(adopted))  # killed and reaped at teardown
        # /proc dates a birth to the clock tick: one in the tick a run starts is the run's
        await asyncio.sleep(2 * TICK_NS / 1e9)
        pidfile = tmp_path / "grandchild.pid"
        result = await run(prober, script(ESCAPE.format(setsid="setsid", pidfile=pidfile)
                                          + "exit 0"))
        strays.append(escaped_pid(pidfile))
        assert result.reason == "exit 0"
        assert process_state(strays[1]) is None
        assert process_state(own.pid) == "S" and process_state(strays[0]) == "S"
        assert parent(strays[0]) == os.getpid()  # the agent's child now: it is the subreaper
    finally:
        own.kill()
        own.wait(timeout=5)
    assert MARKER not in os.environ  # the marker goes to plugins, never into the agent's own


# The review's plugin: its descendants drop the environment (so the run's marker) and leave
# the plugin's session, one straight away, one from a shell that exits under it.
REVIEWED = "env -i setsid sleep 303 & env -i bash -c 'setsid sleep 304 &'; "
# sudo's env_reset: a few variables of its own, none of the caller's (the marker neither).
SUDO_LIKE = ("env -i PATH=/usr/bin:/bin HOME=/root LOGNAME=root USER=root SHELL=/bin/sh "
             "setsid sleep 303 & ")


async def left_running(since: int, limit: float = 2.0) -> list[int]:
    """As processes.left_running, polling without blocking the event loop."""
    left = started_since(since)
    for _ in range(int(limit / 0.02)):
        if not left:
            break
        await asyncio.sleep(0.02)
        left = started_since(since)
    return left


@pytest.mark.parametrize("plugin", [REVIEWED, SUDO_LIKE], ids=["env-i-setsid", "sudo-env-reset"])
@pytest.mark.parametrize("ending", ["exit 2", "sleep 60"], ids=["exits", "times-out"])
@pytest.mark.fault("command plugin whose descendants drop the environment (`env -i`, sudo's "
                   "env_reset) and leave its session: `env -i setsid sleep 303 & env -i bash -c "
                   "'setsid sleep 304 &'`, then exits or times out",
                   "killed and reaped when the run ends, as orphans the agent adopted while it "
                   "ran; no process of the run survives the probe")
async def test_descendants_without_the_marker_do_not_survive_the_probe(
    prober: Prober, script: Script, strays: list[int], plugin: str, ending: str,
) -> None:
    since = boot_ticks()
    result = await run(prober, script(plugin + ending), timeout=1.0)
    left = await left_running(since)
    strays.extend(left)
    assert result.reason == ("exit 2" if ending == "exit 2" else "timeout after 1s")
    assert left == []


@pytest.mark.fault("two plugins at once: one's helper drops its environment and must live "
                   "until its own plugin ends, while the other plugin ends first",
                   "the helper is left while any run going at its birth still runs, then "
                   "killed at the end of the last of them; none survives the probes")
async def test_a_helper_without_the_marker_lives_until_every_run_it_may_be_of_ends(
    prober: Prober, script: Script, strays: list[int],
) -> None:
    since = boot_ticks()
    longer = script("env -i setsid sleep 303 & helper=$!\nsleep 1\n"
                    "if kill -0 $helper; then echo 'OK - helper alive'; exit 0; fi\n"
                    "echo 'CRITICAL - helper gone'; exit 2")
    shorter = script("sleep 0.3; env -i setsid sleep 304 & exit 0")
    results = await asyncio.gather(run(prober, longer, timeout=5), run(prober, shorter))
    left = await left_running(since)
    strays.extend(left)
    assert [r.reason for r in results] == ["exit 0: OK - helper alive", "exit 0"]
    assert left == []


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

"""The ledger's disk fails under a running agent: it keeps probing and exporting, holds what
it cannot write, and writes it once the disk recovers. A corrupt file is never overwritten."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import HOURLY
from ledgerparts import window
from realparts import (
    AgentProcess,
    HttpTarget,
    configured_agent,
    get,
    http_targets,
    one_target_config,
    wait_for,
)

from agent.ledger import Ledger
from agent.records import Batch

CONFIG = one_target_config(ledger='"{ledger}"')


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs we can fill up or make read-only (needs root, as CI has)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {done.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


@pytest.fixture
def agent_on(tmp_path, small_disk):
    [target] = http_targets("intranet").values()
    ledger = small_disk / "ledger.db"
    agent = configured_agent(tmp_path, CONFIG, ledger=ledger, target=target.url)
    yield agent, target, ledger, small_disk
    remount(small_disk, "rw")
    agent.stop()
    target.down()


def windows(ledger: Path) -> list[tuple[str, float, float | None]]:
    with sqlite3.connect(ledger) as conn:
        return conn.execute("SELECT state, start_ts, end_ts FROM windows ORDER BY start_ts"
                            ).fetchall()


def outage_and_recovery(agent: AgentProcess, target: HttpTarget) -> None:
    target.down()
    wait_for("down", lambda: agent.state("intranet") == "down")
    cost = agent.metrics()['outage_cost_total{system="intranet"}']
    wait_for("cost still rising from memory",
             lambda: agent.metrics()['outage_cost_total{system="intranet"}'] > cost)
    target.up()
    wait_for("up", lambda: agent.state("intranet") == "up")


def fill(disk: Path) -> Path:
    """Fill the disk to its last block; return the filler to delete later."""
    filler = disk / "filler"
    with open(filler, "wb") as out:
        for _ in range(200):
            try:
                out.write(b"\0" * 65536)
                out.flush()
            except OSError:
                break
    return filler


@pytest.mark.fault("The ledger's disk fills up, then goes read-only, during an outage",
                   'Probing and exporting go on from memory; /healthz 503 and'
                   ' outage_ledger_up 0 say why; the held records are written once the disk'
                   ' recovers')
def test_full_then_read_only_disk_keeps_probing_and_writes_the_backlog_later(agent_on):
    agent, target, ledger, disk = agent_on
    agent.start()
    wait_for("up", lambda: agent.state("intranet") == "up")
    filler = fill(disk)
    target.down()
    wait_for("down", lambda: agent.state("intranet") == "down")
    wait_for("the ledger to fail", lambda: agent.metrics()["outage_ledger_up"] == 0)
    # the writer let go of the file when its commit failed: the disk can go read-only now
    wait_for("a read-only remount", lambda: subprocess.run(
        ["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode == 0)
    cost = agent.metrics()['outage_cost_total{system="intranet"}']
    wait_for("cost still rising from memory",
             lambda: agent.metrics()['outage_cost_total{system="intranet"}'] > cost)
    target.up()
    wait_for("up", lambda: agent.state("intranet") == "up")
    metrics = agent.metrics()
    assert metrics["outage_ledger_up"] == 0
    assert metrics["outage_ledger_pending_records"] > 0
    status, body = get(agent.base + "/healthz")
    assert status == 503 and "degraded" in body
    log = agent.log.read_text()
    assert "(the disk is full)" in log and "(the filesystem is read-only)" in log

    remount(disk, "rw")
    assert all(end is None for _, _, end in windows(ledger))  # the outage's end was held
    filler.unlink()
    wait_for("the ledger to recover", lambda: agent.metrics()["outage_ledger_up"] == 1,
             timeout=40)
    [(kind, start, end)] = windows(ledger)
    assert kind == "down" and end is not None and end > start
    assert get(agent.base + "/healthz")[0] == 200


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@pytest.mark.fault('Another process holds an exclusive lock on the ledger for 9 s',
                   'Probing and exporting go on; the outage is written once the lock is'
                   ' released')
def test_a_database_locked_by_another_process_delays_writes_but_loses_nothing(tmp_path):
    [target] = http_targets("intranet").values()
    ledger = tmp_path / "ledger.db"
    agent = configured_agent(tmp_path, CONFIG, ledger=ledger, target=target.url).start()
    try:
        wait_for("up", lambda: agent.state("intranet") == "up")
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(ledger), "9"],
                                  stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        outage_and_recovery(agent, target)
        assert time.monotonic() - started < 9  # probing and exporting went on meanwhile
        locker.wait(timeout=30)
        wait_for("the outage on disk", lambda: [w for w in windows(ledger) if w[2]],
                 timeout=30)
    finally:
        agent.stop()
        target.down()


@pytest.mark.fault('The ledger file (and its -wal, -shm) is not a database at start',
                   'The agent refuses to start (exit 1, names the file); all three files'
                   ' are left byte for byte')
def test_a_corrupt_ledger_is_refused_and_left_untouched(tmp_path):
    ledger = tmp_path / "ledger.db"
    junk = {ledger: b"not a database " * 400, Path(f"{ledger}-wal"): b"wal junk",
            Path(f"{ledger}-shm"): b"shm junk"}
    for file, content in junk.items():
        file.write_bytes(content)
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG.format(ledger=ledger, target="http://127.0.0.1:9/"))
    result = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot open the ledger" in result.stderr and str(ledger) in result.stderr
    assert "Traceback" not in result.stderr
    for file, content in junk.items():
        assert file.read_bytes() == content


@pytest.mark.fault("SIGKILL while another process holds the ledger locked during an outage, "
                   "then the lock is released and the agent restarted",
                   "what could not be committed was kept in the journal beside the ledger "
                   "and is written at the restart: no counter ends below the last value "
                   "served")
def test_a_crash_while_the_ledger_is_locked_loses_nothing_served(tmp_path):
    [target] = http_targets("intranet").values()
    ledger = tmp_path / "ledger.db"
    agent = configured_agent(tmp_path, CONFIG, ledger=ledger, target=target.url).start()
    cost = 'outage_cost_total{system="intranet"}'
    try:
        wait_for("up", lambda: agent.state("intranet") == "up")
        target.down()
        wait_for("down", lambda: agent.state("intranet") == "down")
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(ledger), "30"],
                                  stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        wait_for("the ledger to fail", lambda: agent.metrics()["outage_ledger_up"] == 0,
                 timeout=30)
        served = [agent.metrics()[cost] for _ in range(3)]
        time.sleep(2)
        served.append(agent.metrics()[cost])
        assert served == sorted(served) and served[-1] > served[0]
        assert Path(f"{ledger}.journal").exists()
        assert agent.kill(signal.SIGKILL) == -signal.SIGKILL
        locker.kill()
        locker.wait(timeout=30)
        agent.start()
        assert agent.metrics()[cost] >= served[-1]
        assert not Path(f"{ledger}.journal").exists()  # written into the ledger at the start
        assert "written from the journal" in agent.log.read_text()
    finally:
        agent.stop()
        target.down()


def run_on(tmp_path: Path, ledger: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG.format(ledger=ledger, target="http://127.0.0.1:9/"))
    return subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)],
                          capture_output=True, text=True, timeout=60)


def a_used_ledger(tmp_path: Path) -> Path:
    """A ledger the agent created and wrote (a window of a few seconds)."""
    ledger = tmp_path / "ledger.db"
    book = Ledger(ledger)
    book.open()
    book.submit(Batch(windows=[window("intranet", 100.0, 200.0, cost=HOURLY)])).result(10)
    book.close()
    book.dispose()
    return ledger


@pytest.mark.fault("The ledger file is cut short, or its header bytes are flipped",
                   "the agent refuses to start (exit 1) with one line naming the file and "
                   "what to do; no traceback", area="Ledger")
@pytest.mark.parametrize("damage", ["truncated", "flipped header"])
def test_a_damaged_ledger_is_refused_in_one_line(tmp_path, damage):
    ledger = a_used_ledger(tmp_path)
    data = bytearray(ledger.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 3]
    else:
        for offset in (20, 100):
            data[offset] ^= 0xFF
    ledger.write_bytes(bytes(data))
    result = run_on(tmp_path, ledger)
    assert result.returncode == 1
    [line] = [x for x in result.stderr.splitlines() if "cannot open the ledger" in x]
    assert str(ledger) in line and "restore it from a backup" in line
    assert "Traceback" not in result.stderr


@pytest.mark.fault("A number in the ledger edited by hand into text (cost = 'abc')",
                   "refused at start in one line naming the file, the window and the field, "
                   "rather than failing on every probe of that system", area="Ledger")
def test_a_hand_edited_number_is_named_at_start(tmp_path):
    ledger = a_used_ledger(tmp_path)
    with sqlite3.connect(ledger) as conn:
        conn.execute("UPDATE windows SET cost = 'abc'")
    result = run_on(tmp_path, ledger)
    assert result.returncode == 1
    assert f"{ledger}: window 1 of intranet has cost = 'abc', not a number" in result.stderr
    assert "Traceback" not in result.stderr

"""The ledger's disk fails under a running agent: it keeps probing and exporting, holds what
it cannot write, and writes it once the disk recovers. A corrupt file is never overwritten."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from support.helpers import HOURLY, config, system
from support.ledgerparts import window
from support.realparts import (
    AgentProcess,
    HttpTarget,
    configured_agent,
    get,
    http_targets,
    one_target_config,
    parse_metrics,
    wait_for,
)

from agent.daemon import Agent
from agent.ledger import Ledger, LedgerError
from agent.model import Check
from agent.probes.http import HttpProbe
from agent.records import Amounts, Batch, DayRecord, GroupDayRecord
from agent.web.server import make_app

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


@pytest.mark.fault("The ledger's disk (its journal's too) fills up, then goes read-only, "
                   "during an outage",
                   "Probing goes on and the state is exported from memory, the counters as "
                   "last kept safe; /healthz 503, outage_ledger_up 0 and "
                   "outage_ledger_journal_up 0 say why; the held records are written once "
                   "the disk recovers, and the counters catch up")
def test_full_then_read_only_disk_keeps_probing_and_writes_the_backlog_later(agent_on):
    agent, target, ledger, disk = agent_on
    cost = 'outage_cost_total{system="intranet"}'
    agent.start()
    wait_for("up", lambda: agent.state("intranet") == "up")
    filler = fill(disk)
    target.down()
    wait_for("down", lambda: agent.state("intranet") == "down")
    wait_for("the ledger to fail", lambda: agent.metrics()["outage_ledger_up"] == 0)
    # the writer let go of the file when its commit failed: the disk can go read-only now
    wait_for("a read-only remount", lambda: subprocess.run(
        ["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode == 0)
    held = agent.metrics()[cost]
    target.up()
    wait_for("up", lambda: agent.state("intranet") == "up")
    metrics = agent.metrics()
    assert metrics[cost] == held  # in memory only: a crash would lose more
    assert metrics["outage_ledger_up"] == 0 and metrics["outage_ledger_journal_up"] == 0
    assert metrics["outage_ledger_pending_records"] > 0
    status, body = get(agent.base + "/healthz")
    assert status == 503 and "degraded" in body and "ledger.db.journal" in body
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
    assert agent.metrics()[cost] > held  # caught up with what was held


COUNTERS = ('outage_cost_total{system="db"}', 'outage_downtime_seconds_total{system="db"}',
            'outage_incidents_total{system="db"}', 'outage_group_cost_total{group="everyone"}')


def restored(ledger: Path, workdir: Path) -> tuple[float, ...]:
    """What a restart after a crash now would restore of COUNTERS: the files a crash would
    leave (the ledger, its WAL and journal, copied as they are: opening the ledger itself
    would checkpoint its WAL and free space on the full disk), the journal written in as a
    start writes it, the totals read as a start reads them."""
    workdir.mkdir()
    for suffix in ("", "-wal", ".journal"):
        with suppress(FileNotFoundError):  # a WAL only while the writer has the file open
            (workdir / f"ledger.db{suffix}").write_bytes(Path(f"{ledger}{suffix}").read_bytes())
    book = Ledger(workdir / "ledger.db")
    book.prepare()
    book.replay_journal()
    totals, groups = book.totals()["db"], book.group_totals()
    book.dispose()
    return (totals.amounts.cost, totals.amounts.downtime, totals.incidents, groups["everyone"])


async def scrape(client: TestClient) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status == 200
    return parse_metrics(await response.text())


@pytest.mark.fault("The ledger and its journal on one disk, full, during two outages",
                   "/metrics serves the counters as last committed or journaled, never above "
                   "what a restart would restore; outage_ledger_up and "
                   "outage_ledger_journal_up 0, /healthz names the journal; once space is "
                   "freed the counters catch up and the ledger has each window once",
                   area="Ledger")
async def test_counters_held_in_memory_only_never_exceed_what_a_restart_restores(
        tmp_path, small_disk):
    [target] = http_targets("db").values()
    ledger = small_disk / "ledger.db"
    start = float(int(time.time()))
    now = [start]
    agent = Agent(config(system("db", check=Check(HttpProbe(target.url), timeout=1.0),
                                failure_threshold=1, success_threshold=1), ledger=ledger),
                  clock=lambda: now[0])
    await agent.start()
    assert agent.probing is not None
    agent.probing.pause()  # each probe and scrape is driven below, at its own agent time

    async def probe(at: float, status: int) -> None:
        now[0], target.status = at, status
        await agent.probe_system("db")

    served: list[tuple[float, ...]] = []

    async def scrape_and_compare(at: float) -> dict[str, float]:
        now[0] = at
        metrics = await scrape(client)
        served.append(tuple(metrics[name] for name in COUNTERS))
        restart = restored(ledger, tmp_path / f"restart-{len(served)}")
        assert all(s <= r + 1e-6 for s, r in zip(served[-1], restart, strict=True)), (
            at, served[-1], restart)
        return metrics

    try:
        async with TestClient(TestServer(make_app(agent))) as client:
            await probe(start, 200)
            await probe(start + 60, 503)  # the first outage
            assert (await scrape_and_compare(start + 120))["outage_ledger_up"] == 1
            filler = fill(small_disk)
            await probe(start + 240, 200)
            await probe(start + 300, 503)  # the second outage
            await scrape_and_compare(start + 330)  # its commit fails; the writer lets go of
            fill(small_disk)  # the file, whose WAL SQLite checkpoints away: fill that space too
            for at in (start + 360, start + 420, start + 480):
                metrics = await scrape_and_compare(at)
                assert metrics["outage_ledger_up"] == 0
                assert metrics["outage_ledger_journal_up"] == 0
                assert served[-1] == served[1]  # as last kept safe: nothing since was
            in_memory = agent.engine.lives["db"].totals
            assert in_memory.cost > served[-1][0]  # what the defect served, and a crash lost
            health = await client.get("/healthz")
            assert health.status == 503
            assert f"{ledger}.journal" in (await health.json())["journal"]

            filler.unlink()
            for _ in range(100):  # the writer retries within 5 s of backoff
                metrics = await scrape_and_compare(start + 540)
                if metrics["outage_ledger_up"] == 1:
                    break
                await asyncio.sleep(0.1)
            assert metrics["outage_ledger_journal_up"] == 1
            assert served[-1][0] == pytest.approx(agent.engine.lives["db"].totals.cost)
            assert served[-1][0] > served[1][0]
            for column in zip(*served, strict=True):  # no counter ever went down
                assert list(column) == sorted(column)
            assert (await client.get("/healthz")).status == 200
    finally:
        await agent.stop()
        target.down()
    assert not Path(f"{ledger}.journal").exists()
    assert windows(ledger) == [("down", start + 60, start + 240), ("down", start + 300, None)]
    assert restored(ledger, tmp_path / "restart-last")[0] == pytest.approx(served[-1][0])


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
    """A ledger the agent created and wrote (a window of a few seconds, its day's cost and a
    group's)."""
    ledger = tmp_path / "ledger.db"
    book = Ledger(ledger)
    book.open()
    book.submit(Batch(windows=[window("intranet", 100.0, 200.0, cost=HOURLY)],
                      days=[DayRecord("intranet", "1970-01-01", Amounts(cost=HOURLY))],
                      group_days=[GroupDayRecord("staff", "1970-01-01", HOURLY)])).result(10)
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


@pytest.mark.fault("A number in the ledger edited by hand into text (cost = 'abc' in a "
                   "window, a system's day or a group's day)",
                   "refused at start in one line naming the file, the row (window, or table, "
                   "system or group and day) and the field, rather than failing on every probe, "
                   "read or scrape that uses it", area="Ledger")
@pytest.mark.parametrize(("table", "row"), [
    pytest.param("windows", "window 1 of intranet", id="window"),
    pytest.param("days", "the days row of intranet on 1970-01-01", id="day"),
    pytest.param("group_days", "the group_days row of group staff on 1970-01-01",
                 id="group-day"),
])
def test_a_hand_edited_number_is_named_at_start(tmp_path, table, row):
    ledger = a_used_ledger(tmp_path)
    with sqlite3.connect(ledger) as conn:
        assert conn.execute(f"UPDATE {table} SET cost = 'abc'").rowcount == 1
    said = f"{ledger}: {row} has cost = 'abc', not a number"
    book = Ledger(ledger)
    try:
        with pytest.raises(LedgerError, match=re.escape(said)):
            book.open()
    finally:
        book.dispose()
    result = run_on(tmp_path, ledger)
    assert result.returncode == 1
    assert said in result.stderr
    assert "Traceback" not in result.stderr

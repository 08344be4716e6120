"""What the running agent says in its log: a stop with work in flight is quiet (no
APScheduler traceback), maintenance is logged with readable times, and a restart logs only
the maintenance still in force, not every period ever planned."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time

from support.realparts import HttpTarget, configured_agent, one_target_config, wait_for

from agent.ledger import Action, Ledger

ISO_Z = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_a_stop_while_a_checkpoint_waits_for_the_ledger_is_quiet(tmp_path):
    """The checkpoint (every 500 ms here) waits for a ledger another process has locked when
    the agent is told to stop: cut short, it ends without APScheduler logging its
    CancelledError as a failed job, traceback and all (`demo --duration` did, 4 runs in 7)."""
    target = HttpTarget()
    target.up()
    agent = configured_agent(tmp_path, one_target_config(), target=target.url)
    try:
        agent.start()
        db = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None, timeout=10)
        db.execute("BEGIN IMMEDIATE")  # the checkpoint's commit now waits for the lock
        time.sleep(1.5)
        agent.signal(signal.SIGTERM)
        time.sleep(0.5)
        db.execute("ROLLBACK")
        db.close()
        assert agent.proc is not None and agent.proc.wait(timeout=30) == 0
    finally:
        agent.stop()
        target.down()
    log = agent.log.read_text()
    assert "stopping" in log
    assert "Traceback" not in log and "CancelledError" not in log, log


def maintenance(config: object, *args: str) -> None:
    subprocess.run(["outage-agent", "maintenance", "-c", str(config), *args], check=True,
                   capture_output=True, timeout=60)


def test_maintenance_is_logged_with_times_and_a_restart_logs_only_what_is_in_force(tmp_path):
    target = HttpTarget()
    target.up()
    agent = configured_agent(tmp_path, one_target_config(), target=target.url)
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.open()
    ledger.close()
    past = time.time() - 7200
    ledger.add_action(Action("maintenance", "intranet", past, past + 600, "old@desk", "done"))
    ledger.add_action(Action("maintenance", "intranet", past + 900, past + 9e5, "old@desk", ""))
    ledger.add_action(Action("maintenance_end", "intranet", past + 1200, None, "old@desk", ""))
    try:
        agent.start()
        maintenance(agent.config, "intranet", "--for", "2h", "--note", "patching")
        wait_for("the maintenance to be logged", lambda: "patching" in agent.log.read_text())
        agent.stop()
        started = len(agent.log.read_text())
        agent.start()
        wait_for("the maintenance to be resumed",
                 lambda: "maintenance resumed" in agent.log.read_text()[started:])
    finally:
        agent.stop()
        target.down()
    first, restart = agent.log.read_text()[:started], agent.log.read_text()[started:]
    assert re.search(rf"intranet: planned maintenance until {ISO_Z}, by \S+@\S+: patching",
                     first), first
    assert "old@desk" not in first + restart  # periods over long ago are not replayed
    [resumed] = [line for line in restart.splitlines() if "agent.actions" in line]
    assert re.search(rf"intranet: planned maintenance resumed, until {ISO_Z}$", resumed)
    assert not re.search(r"\d{10}\.\d", first + restart)  # no raw POSIX seconds

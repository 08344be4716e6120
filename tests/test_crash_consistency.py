"""SIGKILL at random moments while a target flaps: the ledger stays consistent."""

from __future__ import annotations

import itertools
import random
import signal
import sqlite3
import threading
import time

import pytest
from support.realparts import HttpTarget, configured_agent, http_targets

CONFIG = """\
agent: {{ledger: ledger.db, evaluation_interval: 300ms}}
cost: {{currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}}
defaults: {{interval: 200ms, retry_interval: 100ms, timeout: 90ms, failure_threshold: 1,
           success_threshold: 1}}
systems:
  - name: flappy
    probe: {{type: http, url: "{a}"}}
  - name: steady-then-down
    probe: {{type: http, url: "{b}"}}
"""


def flap(target: HttpTarget, stop: threading.Event, rng: random.Random) -> None:
    while not stop.wait(rng.uniform(0.1, 0.6)):
        target.status = 503 if target.status == 200 else 200


@pytest.mark.fault('SIGKILL at 12 random moments while a target flaps and another goes down',
                   'The ledger passes integrity_check; no window lost, overlapping or'
                   ' inflated; the long outage stays one open window')
def test_random_sigkills_never_corrupt_lose_or_overlap_windows(tmp_path):
    rng = random.Random(20261127)
    flappy, other = http_targets("flappy", "steady-then-down").values()
    stop = threading.Event()
    threading.Thread(target=flap, args=(flappy, stop, rng), daemon=True).start()
    agent = configured_agent(tmp_path, CONFIG, a=flappy.url, b=other.url)
    kills = 0
    try:
        for round_ in range(12):
            agent.start()
            if round_ == 4:
                other.status = 503  # a long outage that must survive every kill after this
            time.sleep(rng.uniform(0.2, 1.5))
            assert agent.kill(signal.SIGKILL) == -signal.SIGKILL
            kills += 1
        agent.start()
        time.sleep(1.0)
    finally:
        stop.set()
        agent.stop()
        flappy.down()
        other.down()
    assert kills == 12
    check_ledger(tmp_path / "ledger.db")


def check_ledger(path) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT system, state, start_ts, end_ts, downtime_seconds, cost "
                            "FROM windows ORDER BY system, start_ts").fetchall()
        downs = conn.execute("SELECT system, at FROM transitions WHERE new_state = 'down'"
                             ).fetchall()
    assert rows, "no windows were recorded at all"
    by_system: dict[str, list[tuple]] = {}
    for system, state, start, end, downtime, cost in rows:
        by_system.setdefault(system, []).append((state, start, end, downtime, cost))
        assert cost >= 0 and downtime >= 0
        if end is not None:
            assert end >= start, (system, start, end)
            # nothing counted twice: accrual never exceeds the window (plus the last scrape)
            assert downtime <= end - start + 1.0, (system, start, end, downtime)
    for system, windows in by_system.items():
        open_ones = [w for w in windows if w[2] is None]
        assert len(open_ones) <= 1, (system, open_ones)
        for (_, _, end, _, _), (_, start, _, _, _) in itertools.pairwise(windows):
            assert end is not None and start >= end - 1e-6, (system, end, start)
    starts = {(system, w[1]) for system, ws in by_system.items() for w in ws}
    lost = [(system, at) for system, at in downs if (system, at) not in starts]
    assert not lost, f"transitions into down without their window: {lost[:5]}"
    assert "steady-then-down" in by_system
    last = by_system["steady-then-down"][-1]
    assert last[0] == "down" and last[2] is None  # still open: it never recovered

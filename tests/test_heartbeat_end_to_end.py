"""Heartbeat (push) monitors end to end: a real agent on loopback, pinged over real HTTP as a
job would, by curl's equivalent and by `outage-agent ping`; what it shows in its API,
metrics and ledger."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from support.realparts import AgentProcess, configured_agent, get, wait_for

TOKEN = "0123456789abcdef0123456789abcdef"
BACKUP_TOKEN = "Zm9vYmFyYmF6cXV4cXV1eA"
PER_HOUR = 2000 * 25000 / 1924  # £25,987.53 an hour at share 1, impact 1

CONFIG = """\
agent: {{ledger: ledger.db, evaluation_interval: 500ms{extra}}}
cost: {{currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}}
defaults: {{interval: 1s, retry_interval: 500ms, timeout: 400ms}}
systems:
  - name: payroll
    probe: {{type: heartbeat, every: {every}, grace: {grace}, max_runtime: 2s,
             token: "{token}"}}
  - name: backup
    probe: {{type: heartbeat, every: 1h, grace: 1h, token: "{backup}"}}
"""


def agent(tmp_path: Path, every: str = "3s", grace: str = "2s", extra: str = "") -> AgentProcess:
    return configured_agent(tmp_path, CONFIG, every=every, grace=grace, token=TOKEN,
                            backup=BACKUP_TOKEN, extra=extra)


def ping(running: AgentProcess, suffix: str = "", body: bytes | None = None,
         token: str = TOKEN) -> tuple[int, str]:
    url = f"{running.base}/ping/{token}" + (f"/{suffix}" if suffix else "")
    if body is None:
        return get(url)
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def outage(running: AgentProcess, system: str = "payroll") -> dict | None:
    found: dict | None = running.systems()[system]["open_outage"]
    return found


def iso_seconds(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def running(tmp_path):
    process = agent(tmp_path).start()
    yield process
    process.stop()


def test_a_heartbeat_that_arrives_is_up_with_its_last_ping_in_the_metrics(running):
    before = time.time()
    assert ping(running) == (200, "OK")
    wait_for("payroll up", lambda: running.state("payroll") == "up")
    last = running.metrics()['outage_heartbeat_last_ping_timestamp_seconds{system="payroll"}']
    assert before - 1 <= last <= time.time() + 1
    assert running.state("backup") == "unknown"  # never pinged, not yet due: no verdict


def test_a_late_heartbeat_is_down_from_when_it_was_due_and_up_at_the_next_success(running):
    assert ping(running) == (200, "OK")
    pinged = time.time()
    wait_for("payroll down", lambda: running.state("payroll") == "down", timeout=15)
    window = outage(running)
    assert window is not None
    assert abs(iso_seconds(window["start"]) - (pinged + 3)) < 1.0  # due, not due + grace
    assert running.systems()["payroll"]["cost_per_hour"] == pytest.approx(PER_HOUR, abs=0.01)
    assert ping(running, "0") == (200, "OK")
    wait_for("payroll up again", lambda: running.state("payroll") == "up")


@pytest.mark.fault("a heartbeat's job reports failure, with its output as a POST body",
                   "down from the ping, the first line of the output as the reason, the body "
                   "kept redacted in the ledger; up at the next success")
def test_a_failed_run_is_down_with_its_output_as_evidence(running, tmp_path):
    body = (f"ERROR: export rejected\ntoken was {BACKUP_TOKEN}\n".encode() + b"\x00"
            + b"x" * 20_000)
    assert ping(running, "fail", body) == (200, "OK")
    wait_for("payroll down", lambda: running.state("payroll") == "down")
    last = running.systems()["payroll"]["last_probe"]
    assert last["reason"] == "the job reported failure: ERROR: export rejected"
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        [(kind, kept)] = db.execute("SELECT kind, body FROM heartbeat_pings "
                                    "WHERE system = 'payroll'").fetchall()
    assert kind == "fail"
    assert kept.startswith("ERROR: export rejected\n") and BACKUP_TOKEN not in kept
    assert "\x00" not in kept and "\ufffd" in kept
    assert 10 * 1024 - 100 < len(kept.encode()) <= 10 * 1024 + 2  # the first 10 kB
    assert ping(running, "1") == (200, "OK")  # a non-zero exit status: still down
    assert ping(running) == (200, "OK")
    wait_for("payroll up", lambda: running.state("payroll") == "up")


@pytest.mark.fault("a heartbeat's job pings /start and never finishes",
                   "down from the start plus max_runtime, saying when it started")
def test_a_run_that_starts_and_never_finishes_is_down_after_max_runtime(running):
    assert ping(running, "start") == (200, "OK")
    wait_for("payroll down", lambda: running.state("payroll") == "down", timeout=10)
    assert "no success within 2s" in running.systems()["payroll"]["last_probe"]["reason"]


@pytest.mark.fault("a heartbeat's deadline passes while the agent is stopped",
                   "unknown after the restart (the ping may have come while nobody listened), "
                   "never down, nothing costed; up at the next success", area="Ledger")
def test_a_heartbeat_late_while_the_agent_restarts_is_unknown_not_down(tmp_path):
    process = agent(tmp_path, every="2s", grace="1s").start()
    try:
        assert ping(process) == (200, "OK")
        wait_for("payroll up", lambda: process.state("payroll") == "up")
        process.stop()
        time.sleep(4)  # due at +2 s, down at +3 s: both while the agent is away
        process.start()
        assert process.state("payroll") == "unknown"
        assert process.systems()["payroll"]["cost_total"] == 0
        assert ping(process) == (200, "OK")
        wait_for("payroll up", lambda: process.state("payroll") == "up")
    finally:
        process.stop()


def test_a_heartbeat_keeps_its_schedule_across_a_quick_restart(tmp_path):
    process = agent(tmp_path, every="1h", grace="1h").start()
    try:
        assert ping(process, "start") == (200, "OK")
        assert ping(process) == (200, "OK")
        wait_for("payroll up", lambda: process.state("payroll") == "up")
        process.stop()
        process.start()
        wait_for("payroll up after the restart", lambda: process.state("payroll") == "up")
        metrics = process.metrics()
        assert 'outage_heartbeat_last_duration_seconds{system="payroll"}' in metrics
    finally:
        process.stop()


@pytest.mark.fault("a ping with a token no system of this agent has",
                   "404 after the same comparisons as a known token, saying which agent it "
                   "reached; nothing recorded", area="HTTP server and API")
def test_an_unknown_token_is_refused_visibly(running):
    status, text = ping(running, token="f" * 32)
    assert status == 404
    assert "no heartbeat has this token at the agent of this site" in text
    # a known token with a path that is no ping (found by review: a trailing slash, or more
    # after the kind) is a 400 saying what a ping is, not a 404 that blames the token
    for suffix in ("", "start/x", "fail/"):
        status, text = get(f"{running.base}/ping/{TOKEN}/{suffix}")
        assert status == 400 and "/ping/<token>, /start, /fail" in text, suffix


@pytest.mark.fault("a flood of pings for one token",
                   "past a burst, 429 with Retry-After; one a second is always taken",
                   area="HTTP server and API")
def test_a_flood_of_pings_is_rate_limited(running):
    answers = [ping(running, "start")[0] for _ in range(20)]
    assert answers[:5] == [200] * 5 and 429 in answers


def test_pings_need_no_basic_auth_when_everything_else_does(tmp_path):
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    process = agent(tmp_path, extra=", web_config: web.yml")
    process._wait_ready = lambda what, url: wait_for(  # type: ignore[method-assign]
        what, lambda: process.alive() and get(url)[0] == 401)
    process.start()
    try:
        assert get(process.base + "/metrics")[0] == 401
        assert ping(process) == (200, "OK")
        assert ping(process, "fail", b"output") == (200, "OK")
    finally:
        process.stop()


def test_the_ping_command_reports_to_the_agent_named_in_the_config(running, tmp_path):
    def command(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent", "ping", "-c", str(running.config),
                               "--url", running.base, *words], capture_output=True, text=True,
                              timeout=30, check=False)

    assert command("payroll", "--status", "3").returncode == 0
    wait_for("payroll down", lambda: running.state("payroll") == "down")
    assert "the job ended with exit 3" in running.systems()["payroll"]["last_probe"]["reason"]
    assert command("payroll").returncode == 0
    wait_for("payroll up", lambda: running.state("payroll") == "up")
    wrong = command("nonesuch")
    assert wrong.returncode == 2 and "no heartbeat system" in wrong.stderr
    assert TOKEN not in wrong.stderr


def test_probe_shows_a_heartbeat_as_not_probed_and_does_not_fail_on_it(tmp_path):
    config = agent(tmp_path).config
    done = subprocess.run([sys.executable, "-m", "agent", "probe", "-c", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "a heartbeat: the job pings the agent" in done.stdout and TOKEN not in done.stdout


@pytest.mark.fault("a job pings the agent of the wrong shard",
                   "404 naming the shard and site that watch the system, so the job fails "
                   "visibly at once; nothing recorded", area="HTTP server and API")
def test_a_ping_to_the_wrong_shard_says_which_shard_to_send_it_to(tmp_path):
    from agent.shard import owner

    # Of 4 shards, payroll's and backup's are different ones: run backup's.
    assert owner("payroll", 4) != owner("backup", 4)
    ours, theirs = owner("backup", 4), owner("payroll", 4)
    process = agent(tmp_path, extra=f", site: north, shard: {ours}/4").start()
    try:
        assert process.systems().keys() == {"backup"}
        status, text = ping(process, token=TOKEN)
        assert status == 404
        assert text == (f"'payroll' is watched by shard {theirs}/4 of site 'north', not by the "
                        f"agent of site 'north', shard {ours}/4: send its pings there\n")
        assert ping(process, token=BACKUP_TOKEN) == (200, "OK")
    finally:
        process.stop()

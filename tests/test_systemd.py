"""What the agent tells systemd, checked on a real AF_UNIX datagram socket set as NOTIFY_SOCKET.

The end-to-end tests run `outage-agent run` as a subprocess, as systemd would, and read its
READY/WATCHDOG/RELOADING/STOPPING messages off the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.helpers import config, system
from support.realparts import configured_agent, free_port, get, http_targets, wait_for

from agent import systemd
from agent.daemon import Agent
from agent.model import Check, TcpProbe


class NotifySocket:
    """The receiving end of sd_notify: a datagram socket bound where NOTIFY_SOCKET points."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.messages: list[tuple[float, str]] = []  # (monotonic arrival, text), all of them

    def receive(self, timeout: float) -> str | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        self.messages.append((time.monotonic(), data.decode()))
        return data.decode()

    def wait_for(self, wanted: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Read messages until one is `wanted`; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and wanted(message):
                return message
        raise AssertionError(f"no {what} within {timeout}s; got {self.texts()}")

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.receive(left)

    def texts(self) -> list[str]:
        return [text for _, text in self.messages]

    def close(self) -> None:
        self.sock.close()


def fields(message: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in message.splitlines())


def is_(key: str) -> Callable[[str], bool]:
    return lambda message: fields(message).get(key) == "1"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: AF_UNIX socket paths are limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="sdn-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def listener(short_dir: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(str(short_dir / "notify"))
    yield sock
    sock.close()


# --- notify() ------------------------------------------------------------------------------------


def test_notify_sends_one_datagram_to_the_socket_path(listener):
    assert systemd.notify("READY=1\nSTATUS=ok", {"NOTIFY_SOCKET": listener.sock.getsockname()})
    assert listener.receive(1.0) == "READY=1\nSTATUS=ok"


def test_notify_reaches_a_socket_in_the_abstract_namespace():
    name = f"outage-agent-test-{os.getpid()}"
    sock = NotifySocket("\0" + name)
    try:
        assert systemd.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.receive(1.0) == "WATCHDOG=1"
    finally:
        sock.close()


def test_notify_outside_systemd_is_false_and_quiet(caplog):
    with caplog.at_level(logging.DEBUG, logger="agent.systemd"):
        assert systemd.notify("READY=1", {}) is False
    assert caplog.records == []


@pytest.mark.parametrize("address", [
    pytest.param("/nonexistent/notify", id="missing-path"),
    pytest.param("vsock:2:1234", id="unsupported-address"),
])
def test_notify_that_cannot_be_delivered_is_false_and_logged(caplog, address):
    with caplog.at_level(logging.WARNING, logger="agent.systemd"):
        assert systemd.notify("READY=1", {"NOTIFY_SOCKET": address}) is False
    assert "cannot notify systemd" in caplog.text


def test_reloading_carries_the_monotonic_clock_in_microseconds():
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    usec = systemd.monotonic_usec()
    assert before <= usec <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert fields(systemd.reloading(usec)) == {"RELOADING": "1", "MONOTONIC_USEC": str(usec)}


# --- watchdog_interval(), credentials, journal -------------------------------------------------


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, None, id="no-watchdog"),
    pytest.param({"WATCHDOG_USEC": "4000000"}, 2.0, id="half-the-timeout"),
    pytest.param({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "4242"}, 2.0, id="for-us"),
    pytest.param({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}, None, id="for-another-pid"),
    pytest.param({"WATCHDOG_USEC": "soon"}, None, id="not-a-number"),
    pytest.param({"WATCHDOG_USEC": "0"}, None, id="zero"),
])
def test_watchdog_interval_is_half_of_watchdog_usec_when_it_is_ours(environ, expected):
    assert systemd.watchdog_interval(environ, pid=4242) == expected


def test_credentials_become_variables_and_the_environment_wins(tmp_path):
    (tmp_path / "SMTP_PASSWORD").write_text("s3cret\n")
    (tmp_path / "API_TOKEN").write_text("from-credential")
    (tmp_path / "not-a-variable").write_text("ignored")
    env = systemd.credentials_env({"CREDENTIALS_DIRECTORY": str(tmp_path),
                                   "API_TOKEN": "from-env"})
    assert env["SMTP_PASSWORD"] == "s3cret"
    assert env["API_TOKEN"] == "from-env"
    assert "not-a-variable" not in env


def test_without_credentials_the_environment_is_unchanged():
    assert systemd.credentials_env({"PATH": "/bin"}) == {"PATH": "/bin"}


def test_stderr_is_journal_only_when_the_device_and_inode_match(tmp_path):
    with open(tmp_path / "stream", "w") as stream:
        found = os.fstat(stream.fileno())
        mine = f"{found.st_dev}:{found.st_ino}"
        assert systemd.stderr_is_journal({"JOURNAL_STREAM": mine}, stream.fileno())
        assert not systemd.stderr_is_journal({"JOURNAL_STREAM": "1:2"}, stream.fileno())
        assert not systemd.stderr_is_journal({}, stream.fileno())


@pytest.mark.parametrize(("level", "prefix"), [
    (logging.DEBUG, "<7>"), (logging.INFO, "<6>"), (logging.WARNING, "<4>"),
    (logging.ERROR, "<3>"), (logging.CRITICAL, "<2>"),
])
def test_journal_lines_carry_their_syslog_priority(level, prefix):
    record = logging.LogRecord("agent", level, __file__, 1, "ledger %s", ("open",), None)
    line = systemd.JournalFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == f"{prefix}{logging.getLevelName(level)} agent: ledger open"


def test_every_line_of_a_record_carries_its_priority_as_the_journal_splits_lines():
    record = logging.LogRecord("agent", logging.ERROR, __file__, 1,
                               "reload refused:\n%s", ("a.yaml:3: x: unknown key",), None)
    text = systemd.JournalFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert text.split("\n") == ["<3>ERROR agent: reload refused:", "<3>a.yaml:3: x: unknown key"]


# --- the watchdog job ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def watched_agent(clock: Clock, pings: list[str], **overrides: object) -> Agent:
    """An agent, not started, with one system probed every 30 s (1 s timeout)."""
    def notify(message: str) -> bool:
        pings.append(message)
        return True

    return Agent(config(system("email", **overrides)), clock=clock, watchdog=5.0, notify=notify)


async def test_watchdog_is_fed_while_probes_complete():
    clock, pings = Clock(), []
    agent = watched_agent(clock, pings)
    for _ in range(20):  # long past the quiet allowance, but a probe completes every time
        clock.now += 60
        assert agent.watchdog is not None
        agent.watchdog.progress()
        assert await agent.feed_watchdog()
    assert pings == ["WATCHDOG=1"] * 20


async def test_watchdog_is_not_fed_when_no_probe_completes(caplog):
    clock, pings = Clock(), []
    agent = watched_agent(clock, pings)
    clock.now += 30 + 1 + 5  # interval + timeout + one ping interval: still a healthy pause
    assert await agent.feed_watchdog()
    clock.now += 1
    with caplog.at_level(logging.WARNING, logger="agent.watchdog"):
        assert not await agent.feed_watchdog()
        clock.now += 60
        assert not await agent.feed_watchdog()
    assert pings == ["WATCHDOG=1"]
    assert "not pinging systemd's watchdog" in caplog.text


async def test_a_wedged_scheduler_stops_feeding_the_watchdog(tmp_path):
    """The real scheduler: pings flow while probes run and stop when probing stops."""
    pings: list[float] = []

    def notify(message: str) -> bool:
        assert message == "WATCHDOG=1"
        pings.append(time.monotonic())
        return True

    closed = Check(spec=TcpProbe(target=f"127.0.0.1:{free_port()}"), timeout=0.2)
    agent = Agent(config(system("db", check=closed, interval=0.5, retry_interval=0.3),
                         ledger=tmp_path / "ledger.db"),
                  watchdog=0.2, notify=notify)  # quiet allowance: 0.5 + 0.2 + 0.2 s
    await agent.start()
    assert agent.watchdog is not None
    try:
        for _ in range(100):
            if agent.watchdog.completed >= 2 and len(pings) >= 3:
                break
            await asyncio.sleep(0.05)
        assert agent.watchdog.completed >= 2 and len(pings) >= 3
        assert agent.probing is not None
        agent.probing.scheduler.pause_job("db")  # the scheduler keeps running; no probe completes
        # An in-flight probe may still finish (0.2 s), be seen at the next ping (0.2 s) and
        # keep pings going for the allowance (0.9 s): all over 1.3 s after the pause.
        await asyncio.sleep(2.5)
        quiet_since = time.monotonic() - 1.0
        assert [t for t in pings if t > quiet_since] == []
    finally:
        await agent.stop()


async def test_no_watchdog_job_unless_systemd_asks_for_one(tmp_path):
    agent = Agent(config(system("db"), ledger=tmp_path / "ledger.db"))
    await agent.start()
    try:
        assert agent.watchdog is None and agent.probing is not None
        assert agent.probing.scheduler.get_job("__watchdog__") is None
    finally:
        await agent.stop()


# --- `outage-agent run` under a NOTIFY_SOCKET ----------------------------------------------------

CONFIG = """\
agent:
  ledger: ledger.db
cost:
  currency: GBP
  annual_cost_per_user: 25000
  concurrent_users: 2000
defaults:
  interval: 1s
  retry_interval: 500ms
  timeout: 400ms
systems:
  - name: intranet
    probe: {{type: http, url: "{url}"}}
    users_share: 0.5
  - name: plugin
    probe:
      type: command
      command:
        - /bin/sh
        - -c
        - 'printf "[%s][%s]" "$NOTIFY_SOCKET" "$WATCHDOG_USEC" > {seen}'
    users_share: 0.1
"""

WATCHDOG_USEC = 1_000_000  # systemd would kill the agent after 1 s without a ping


@pytest.fixture
def notified(short_dir, listener, tmp_path):
    """The agent, configured and not yet started, with NOTIFY_SOCKET and WATCHDOG_USEC set."""
    [target] = http_targets("intranet").values()
    agent = configured_agent(tmp_path, CONFIG, url=target.url, seen=tmp_path / "plugin-env",
                             extra_env={"NOTIFY_SOCKET": str(short_dir / "notify"),
                                        "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    agent.env.pop("WATCHDOG_PID", None)
    yield agent
    agent.stop()
    target.down()


def test_ready_comes_once_healthz_answers_and_the_watchdog_keeps_time(notified, listener,
                                                                         tmp_path):
    notified.start(wait=False)
    ready = listener.wait_for(is_("READY"), "READY=1")
    ready_at = time.monotonic()
    assert get(notified.base + "/healthz")[0] == 200  # at once: READY means listening
    assert "STATUS" in fields(ready)

    listener.drain(3.0)
    pings = [t for t, text in listener.messages if text == "WATCHDOG=1" and t > ready_at]
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert len(pings) >= 4, listener.texts()
    assert max(gaps) < WATCHDOG_USEC / 1e6, gaps  # never late enough for systemd to kill
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(0.5, abs=0.15)  # half WATCHDOG_USEC

    assert (tmp_path / "plugin-env").read_text() == "[][]"  # the plugin saw neither


def test_sighup_is_announced_by_reloading_and_ready_even_when_refused(notified, listener):
    notified.start(wait=False)
    listener.wait_for(is_("READY"), "READY=1")

    before = systemd.monotonic_usec()
    notified.signal(signal.SIGHUP)
    reloading = fields(listener.wait_for(is_("RELOADING"), "RELOADING=1"))
    assert before <= int(reloading["MONOTONIC_USEC"]) <= systemd.monotonic_usec()
    listener.wait_for(is_("READY"), "READY=1 after the reload")

    notified.config.write_text("systems: [not a valid config\n")
    notified.signal(signal.SIGHUP)
    listener.wait_for(is_("RELOADING"), "RELOADING=1 for the refused reload")
    listener.wait_for(is_("READY"), "READY=1 after the refused reload")
    assert get(notified.base + "/healthz")[0] == 200


def test_sigterm_says_stopping_and_exits_cleanly(notified, listener):
    notified.start(wait=False)
    listener.wait_for(is_("READY"), "READY=1")
    notified.signal(signal.SIGTERM)
    listener.wait_for(is_("STOPPING"), "STOPPING=1")
    assert notified.proc is not None and notified.proc.wait(timeout=15) == 0


def test_an_agent_that_cannot_listen_never_says_ready(notified, listener):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", notified.port))
        taken.listen()
        notified.start(wait=False)
        assert notified.proc is not None and notified.proc.wait(timeout=30) == 1
    listener.drain(0.2)
    assert not any(is_("READY")(text) for text in listener.texts())
    wait_for("the log to say why", lambda: "cannot listen" in notified.log.read_text())

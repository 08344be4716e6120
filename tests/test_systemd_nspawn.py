"""The shipped unit under a real systemd: Debian's systemd booted as PID 1 in systemd-nspawn
(tests/support/nspawn.py), the agent installed by deploy/systemd/README.md's own steps, then
started, reloaded, wedged, stopped, given secrets and ICMP, as on a server.

One container serves the module; the tests run in the order written and each leaves the
service running its base config (`base_config`). A drop-in a test adds for shorter timings is
named in its docstring and removed after it; the unit itself is the file in deploy/systemd/.
The container shares the host's network, so the targets (`HttpTarget`), the webhook receiver
and PostgreSQL run here on 127.0.0.1, and the agent's port is one found free here.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.nspawn import Container, build_wheelhouse, sysctl, unavailable
from support.pgparts import PostgresCluster
from support.realparts import (
    HttpTarget,
    Receiver,
    free_port,
    get,
    parse_metrics,
    require_tool,
    wait_for,
)

pytestmark = pytest.mark.systemd

REPO = Path(__file__).resolve().parent.parent
INSTALL_DOC = REPO / "deploy/systemd/README.md"
SOURCE = "/run/outage-agent-src"  # the repository, read-only inside: README's steps run here
WHEELS = "/run/outage-agent-wheels"  # what `pip install` finds inside, with no package index
PIP_OFFLINE = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": WHEELS}
UNIT = "outage-agent.service"
CONFIG = "/etc/outage-agent/config.yaml"
DROPINS = "/etc/systemd/system/outage-agent.service.d"
LEDGER_DIR = "/var/lib/private/outage-agent"  # where StateDirectory= puts a DynamicUser's
DYNAMIC_IDS = range(61184, 65520)  # systemd's range for DynamicUser= uids and gids
MAX_EXPOSURE = 1.5
TIMINGS = "[Service]\nWatchdogSec=5s\nRestartSec=1s\n"  # 50-test-timings.conf

BASE_CONFIG = """\
agent:
  listen: "127.0.0.1:{port}"
  ledger: "{ledger}"
  evaluation_interval: 500ms
cost: {{currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}}
defaults: {{interval: 1s, retry_interval: 300ms, timeout: 250ms, failure_threshold: 2,
           success_threshold: 2}}
{extra}systems:
  - name: intranet
    probe: {{type: http, url: "{target}"}}
  - name: router
    probe: {{type: icmp, host: 127.0.0.1}}
{systems}"""


def base_config(port: int, target: HttpTarget, ledger: str = "outage-ledger.db",
                extra: str = "", systems: str = "") -> str:
    """The config the tests install as README's "edit it" step: an HTTP target the test
    controls and an ICMP probe of 127.0.0.1, probed every second; `extra` goes before
    `systems:` (notifiers, alerts) and `systems` after the two."""
    return BASE_CONFIG.format(port=port, target=target.url, ledger=ledger, extra=extra,
                              systems=systems)


def readme_install_blocks() -> list[str]:
    """The first two ```sh blocks under deploy/systemd/README.md's "## Install": the
    install, then (after the config is edited) the check and the start."""
    text = INSTALL_DOC.read_text()
    section = text[text.index("\n## Install\n"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 2, "deploy/systemd/README.md's Install lost its two sh blocks"
    return blocks[:2]


def numbers(pattern: str, text: str) -> list[int]:
    """The groups of `pattern`'s first match in `text` (lines anchored), as integers."""
    found = re.search(pattern, text, re.M)
    assert found, f"no {pattern!r} in {text!r}"
    return [int(group) for group in found.groups()]


@dataclass
class Service:
    """The agent as systemd runs it inside `box`, with its HTTP server on 127.0.0.1:`port`."""

    box: Container
    port: int
    target: HttpTarget

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def json(self, path: str) -> Any:
        status, body = get(self.base + path)
        assert status == 200, body
        return json.loads(body)

    def system(self, name: str) -> dict[str, Any]:
        [found] = [s for s in self.json("/api/v1/systems") if s["name"] == name]
        return dict(found)

    def windows(self, system: str) -> list[tuple[int, str, str | None]]:
        """(id, start, end) of every window of `system`, from the API."""
        return [(w["id"], w["start"], w["end"])
                for w in self.json(f"/api/v1/outages?system={system}")]

    def metrics(self) -> dict[str, float]:
        status, body = get(self.base + "/metrics")
        assert status == 200, body
        return parse_metrics(body)

    def show(self, *properties: str) -> dict[str, str]:
        return self.box.show(UNIT, *properties)

    def main_pid(self) -> int:
        return int(self.show("MainPID")["MainPID"])

    def write_config(self, text: str) -> None:
        self.box.write(CONFIG, text)

    def restore(self) -> None:
        """Back to the base config, with no test drop-in, running."""
        self.write_config(base_config(self.port, self.target))
        self.box.run("rm", "-rf", DROPINS)
        self.box.systemctl("daemon-reload")
        self.box.systemctl("restart", UNIT)

    @contextlib.contextmanager
    def dropin(self, name: str, text: str) -> Iterator[None]:
        """A drop-in in /etc/systemd/system/outage-agent.service.d/ for the block."""
        self.box.write(f"{DROPINS}/{name}", text)
        self.box.systemctl("daemon-reload")
        try:
            yield
        finally:
            self.box.run("rm", "-f", f"{DROPINS}/{name}")
            self.box.run("rmdir", "--ignore-fail-on-non-empty", DROPINS)
            self.box.systemctl("daemon-reload")

    def open_window(self) -> tuple[int, str, str | None]:
        """Take the intranet target down; return its window once the outage is confirmed."""
        self.target.down()
        wait_for("intranet confirmed down", lambda: self.system("intranet")["state"] == "down")
        [window] = wait_for("its open window", lambda: [
            w for w in self.windows("intranet") if w[2] is None])
        return window

    def journal(self, *args: str) -> list[dict[str, Any]]:
        return self.box.journal("--unit", UNIT, *args)


@dataclass
class Install:
    """What following deploy/systemd/README.md's install did: each block's output."""

    steps: list[str]
    outputs: list[str]


# --- the container, the install -----------------------------------------------------------


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Iterator[Container]:
    """systemd booted in a container with the repository and a folder of wheels bound in.
    Missing systemd-nspawn skips here and fails in CI; a container that cannot boot fails."""
    if os.geteuid() != 0:
        unavailable("systemd-nspawn needs root")
    require_tool("systemd-nspawn", "systemd-container")
    require_tool("nsenter", "util-linux")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    folder = cache.mkdir("nspawn-wheels") if cache else tmp_path_factory.mktemp("wheels")
    wheels = build_wheelhouse(REPO, folder, "outage-cost-agent[postgresql]")
    box = Container(tmp_path_factory.mktemp("nspawn") / "container.log",
                    {REPO: SOURCE, wheels: WHEELS})
    try:
        yield box.boot()
    finally:
        box.poweroff()


@pytest.fixture(scope="module")
def intranet() -> Iterator[HttpTarget]:
    target = HttpTarget()
    target.up()
    yield target
    target.down()


@pytest.fixture(scope="module")
def installed(container: Container, intranet: HttpTarget) -> tuple[Service, Install]:
    """deploy/systemd/README.md's install, followed as written inside the container: its
    first block, then the config edited (written), then its second block."""
    first, second = readme_install_blocks()
    service = Service(container, free_port(), intranet)
    outputs = [container.sh(first, cwd=SOURCE, env=PIP_OFFLINE).stdout]
    service.write_config(base_config(service.port, intranet))
    outputs.append(container.sh(second, cwd=SOURCE).stdout)
    return service, Install([first, second], outputs)


@pytest.fixture
def service(installed: tuple[Service, Install]) -> Iterator[Service]:
    """The running service; back to its base config after the test if the test changed it."""
    agent = installed[0]
    agent.target.up()
    yield agent
    if (agent.box.path(CONFIG).read_text() != base_config(agent.port, agent.target)
            or agent.box.path(DROPINS).exists()
            or agent.show("ActiveState")["ActiveState"] != "active"):
        agent.restore()
    agent.target.up()


# --- install and start ----------------------------------------------------------------------


def test_readme_install_steps_make_an_enabled_running_service(installed):
    service, install = installed
    assert "python3 -m venv /opt/outage-agent" in install.steps[0]
    assert "systemctl enable --now outage-agent" in install.steps[1]
    assert "Systems: 2" in install.outputs[1]  # the check step read the edited config
    box = service.box
    assert box.systemctl("is-enabled", UNIT).stdout.strip() == "enabled"
    assert box.systemctl("is-active", UNIT).stdout.strip() == "active"
    assert "home = /usr/bin\n" in box.path("/opt/outage-agent/pyvenv.cfg").read_text()


def test_start_is_ready_only_when_listening_with_status_metrics_and_a_private_ledger(service):
    box = service.box
    box.systemctl("restart", UNIT)  # returns on READY=1 (Type=notify)
    assert get(service.base + "/healthz")[0] == 200  # at once: no retry
    shown = service.show("ActiveState", "SubState", "StatusText", "Type")
    assert shown == {"ActiveState": "active", "SubState": "running", "Type": "notify",
                     "StatusText": f"probing 2 systems; listening on 127.0.0.1:{service.port}"}
    assert "outage_system_up" in get(service.base + "/metrics")[1]

    status = box.path(f"/proc/{service.main_pid()}/status").read_text()
    [uid] = numbers(r"^Uid:\s+(\d+)", status)
    assert uid in DYNAMIC_IDS
    assert os.readlink(box.path("/var/lib/outage-agent")) == "private/outage-agent"
    folder = box.path(LEDGER_DIR).stat()
    assert (folder.st_uid, folder.st_mode & 0o7777) == (uid, 0o700)  # StateDirectoryMode
    ledger = box.path(f"{LEDGER_DIR}/outage-ledger.db").stat()
    assert (ledger.st_uid, ledger.st_mode & 0o7777) == (uid, 0o600)  # UMask=0077


def test_unit_is_ordered_after_time_sync_with_descriptors_for_a_large_estate(service):
    shown = service.show("After", "LimitNOFILE")
    assert "time-sync.target" in shown["After"].split()
    assert int(shown["LimitNOFILE"]) >= 65536
    # The process gets the limit, or the closest its manager may give: here systemd-nspawn
    # runs without CAP_SYS_RESOURCE under a hard limit of 20,000, which PID 1 inherits.
    limits = service.box.path(f"/proc/{service.main_pid()}/limits").read_text()
    manager = service.box.path("/proc/1/limits").read_text()
    pattern = r"^Max open files\s+(\d+)\s+(\d+)"
    soft, hard = numbers(pattern, limits)
    _, manager_hard = numbers(pattern, manager)
    assert soft == hard == min(65536, manager_hard)


def test_online_security_score_is_the_offline_one_at_most_1_5(service):
    def exposure(*args: str) -> float:
        done = service.box.run("systemd-analyze", "security", "--no-pager", *args, check=False)
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
        assert found, done.stdout + done.stderr
        return float(found[1])

    online = exposure("outage-agent")
    assert online == exposure("--offline=true", f"/etc/systemd/system/{UNIT}")
    assert online <= MAX_EXPOSURE


# --- reload ---------------------------------------------------------------------------------


def test_reload_applies_a_valid_edit_between_reloading_and_ready(service):
    """The edit adds a system, and changes agent.site, which only a restart applies: the
    agent warns so (a warning for the journal test below)."""
    box, pid = service.box, service.main_pid()
    service.write_config(base_config(service.port, service.target, systems=(
        f'  - name: payroll\n    probe: {{type: http, url: "{service.target.url}"}}\n'))
        .replace("  evaluation_interval: 500ms\n", "  evaluation_interval: 500ms\n  site: york\n"))
    box.run("systemd-analyze", "log-level", "debug")  # PID 1 logs each notify message
    try:
        box.systemctl("reload", UNIT)
        # systemd 252 ends the reload job when ExecReload's `kill -HUP` returns; the agent
        # applies the config just after, between its RELOADING=1 and READY=1.
        wait_for("payroll to be probed", lambda: service.system("payroll")["state"] == "up")
    finally:
        box.run("systemd-analyze", "log-level", "info")
    notes = [e["MESSAGE"] for e in service.journal("--since", "-30s")
             if f"notification message from PID {pid}" in str(e["MESSAGE"])]
    reloading = next(i for i, m in enumerate(notes) if "RELOADING=1" in m)
    assert any("READY=1" in m for m in notes[reloading:]), notes
    warned = [e for e in service.journal("--since", "-30s", "-p", "warning")
              if "agent.site changed" in str(e["MESSAGE"])]
    assert [e["PRIORITY"] for e in warned] == ["4"]
    assert service.main_pid() == pid and service.metrics()[
        "outage_config_last_reload_successful"] == 1


@pytest.mark.fault("systemctl reload after an invalid edit of the config (systemd 252)",
                   "the reload fails with the file:line problems in the journal; the agent "
                   "is never signalled and runs on with its config and open windows",
                   area="Configuration")
def test_reload_with_an_invalid_edit_fails_and_touches_nothing(service):
    window = service.open_window()
    before = service.windows("intranet")
    service.write_config(base_config(service.port, service.target).replace(
        "failure_threshold", "failure_thresold"))
    pid, since = service.main_pid(), time.time()
    done = service.box.systemctl("reload", UNIT, check=False)
    assert done.returncode != 0
    errors = [e["MESSAGE"] for e in service.journal("--since", f"@{int(since)}", "-p", "err")]
    assert (f"{CONFIG}:6: defaults.failure_thresold: unknown key; did you mean "
            "'failure_threshold'?") in errors
    assert service.main_pid() == pid and service.show("ActiveState")["ActiveState"] == "active"
    assert service.windows("intranet") == before and window in before
    assert service.metrics()["outage_config_last_reload_successful"] == 1  # no HUP came


# --- watchdog, stop, invalid start -----------------------------------------------------------


@pytest.mark.fault("the agent's main process frozen by SIGSTOP under systemd (WatchdogSec=5s)",
                   "no watchdog ping: systemd kills it within WatchdogSec and restarts it; the "
                   "outage window open before continues (no second window, counters kept)")
def test_watchdog_kills_a_frozen_agent_and_the_restart_continues_the_outage(service):
    """Drop-in 50-test-timings.conf: WatchdogSec=5s, RestartSec=1s."""
    box = service.box
    with service.dropin("50-test-timings.conf", TIMINGS):
        box.systemctl("restart", UNIT)
        window = service.open_window()
        before = service.system("intranet")
        pid = service.main_pid()
        stopped_at = time.time()
        box.run("kill", "-STOP", str(pid))
        wait_for("a new agent process", lambda: service.main_pid() not in (0, pid)
                 and service.show("ActiveState")["ActiveState"] == "active", timeout=30)
        [timeout] = [e for e in service.journal("--since", f"@{int(stopped_at)}")
                     if "Watchdog timeout" in str(e["MESSAGE"])]
        # The last ping came before the stop, so the kill comes within WatchdogSec of it
        # (plus a little for PID 1 to be scheduled and log it on two busy cores).
        assert int(timeout["__REALTIME_TIMESTAMP"]) / 1e6 - stopped_at <= 5.0 + 1.0
        assert int(service.show("NRestarts")["NRestarts"]) == 1
        after = wait_for("the resumed outage", lambda: service.system("intranet").get(
            "open_outage"))
    assert [w for w in service.windows("intranet") if w[2] is None] == [window]
    assert after["start"] == before["open_outage"]["start"]
    now = service.system("intranet")
    assert now["incidents_total"] == before["incidents_total"]
    assert now["downtime_seconds_total"] >= before["downtime_seconds_total"]
    wait_for("downtime to count on", lambda: service.system("intranet")[
        "downtime_seconds_total"] > before["downtime_seconds_total"])


@pytest.mark.fault("systemctl stop during an outage, then systemctl start",
                   "the agent stops within TimeoutStopSec (no SIGKILL); the ledger keeps the "
                   "window open and the new process resumes it")
def test_stop_during_an_outage_leaves_the_window_open_and_start_resumes_it(service):
    box = service.box
    window = service.open_window()
    began = time.monotonic()
    box.systemctl("stop", UNIT)
    took = time.monotonic() - began
    assert service.show("TimeoutStopUSec")["TimeoutStopUSec"] == "30s" and took < 30
    assert service.show("Result", "ExecMainStatus") == {"Result": "success",
                                                        "ExecMainStatus": "0"}
    exported = box.run("/opt/outage-agent/bin/outage-agent", "export", "-c", CONFIG,
                       "--ledger", "/var/lib/outage-agent/outage-ledger.db",
                       "--what", "windows", "--format", "json").stdout
    assert (window[0], None) in [(w["id"], w["end"]) for w in json.loads(exported)]
    box.systemctl("start", UNIT)
    assert window in service.windows("intranet")


@pytest.mark.fault("an invalid config when systemd starts the agent",
                   "exit status 2, not restarted (RestartPreventExitStatus=2); journalctl "
                   "-p err shows every file:line problem", area="Configuration")
def test_invalid_config_at_start_exits_2_is_not_restarted_and_says_where(service):
    """Drop-in 50-test-timings.conf: RestartSec=1s, so a restart would come within 1 s."""
    box = service.box
    service.write_config(base_config(service.port, service.target).replace(
        "concurrent_users: 2000", "concurrent_users: lots"))
    with service.dropin("50-test-timings.conf", TIMINGS):
        since = time.time()
        assert box.systemctl("restart", UNIT, check=False).returncode != 0
        time.sleep(2.5)  # RestartSec=1s twice over
        assert service.show("ActiveState", "ExecMainStatus", "NRestarts", "Result") == {
            "ActiveState": "failed", "ExecMainStatus": "2", "NRestarts": "0",
            "Result": "exit-code"}
    errors = [e["MESSAGE"] for e in service.journal("--since", f"@{int(since)}", "-p", "err")
              if e.get("SYSLOG_IDENTIFIER") == "outage-agent"]
    assert (f"{CONFIG}:5: cost.concurrent_users: expected a number or a schedule "
            "(default, windows...), got a string") in errors


# --- secrets, ICMP, the journal ---------------------------------------------------------------


@pytest.fixture
def password_postgres(tmp_path: Path) -> Iterator[tuple[PostgresCluster, str]]:
    """A PostgreSQL of this test's own where the role `outage` must give its password (the
    session's cluster trusts every connection): the cluster and the password."""
    psycopg = pytest.importorskip("psycopg")
    cluster = PostgresCluster(tmp_path).start()
    password = "pg-" + secrets.token_hex(12)
    try:
        with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres",
                             autocommit=True) as db:
            db.execute(f"CREATE ROLE outage LOGIN PASSWORD '{password}'")
            db.execute("CREATE DATABASE ledger OWNER outage")
            assert cluster.dir is not None
            hba = cluster.dir / "data/pg_hba.conf"
            hba.write_text("host all outage 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
            db.execute("SELECT pg_reload_conf()")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=outage dbname=ledger "
                            "password=wrong").close()
        yield cluster, password
    finally:
        cluster.stop()


CREDENTIALS = """\
[Service]
LoadCredential=WEBHOOK_SECRET:/etc/outage-agent/credentials/webhook-secret
LoadCredential=PGPASSWORD:/etc/outage-agent/credentials/pgpassword
"""


def test_credentials_reach_the_agent_and_never_the_journal(service, password_postgres):
    """Drop-in 60-test-credentials.conf: LoadCredential= of a webhook's HMAC key and the
    PostgreSQL ledger's password, as deploy/systemd/README.md shows."""
    cluster, password = password_postgres
    key = "hmac-" + secrets.token_hex(12)
    box, receiver = service.box, Receiver().up()
    try:
        box.run("install", "-d", "-m", "0700", "/etc/outage-agent/credentials")
        box.write("/etc/outage-agent/credentials/webhook-secret", key, mode=0o600)
        box.write("/etc/outage-agent/credentials/pgpassword", password, mode=0o600)
        box.run("/opt/outage-agent/bin/pip", "install", "--quiet",
                "outage-cost-agent[postgresql]", env=PIP_OFFLINE)
        service.write_config(base_config(
            service.port, service.target,
            ledger=f"postgresql+psycopg://outage:${{PGPASSWORD}}@127.0.0.1:{cluster.port}/ledger",
            extra=(f'notifiers:\n  - {{name: hook, type: webhook, url: "{receiver.url}", '
                   'secret: "${WEBHOOK_SECRET}", retries: 1}\n'
                   "alerts:\n  - {name: down, condition: state, notify: [hook]}\n")))
        with service.dropin("60-test-credentials.conf", CREDENTIALS):
            box.systemctl("restart", UNIT)
            service.open_window()
            wait_for("the down alert", lambda: receiver.requests)
        _, headers, body = receiver.requests[0]
        signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Outage-Signature"] == f"sha256={signature}"
        assert _open_windows_in_postgres(cluster, "intranet") == 1
        journal = box.run("journalctl", "--no-pager", "-o", "json").stdout
        assert "intranet" in journal and key not in journal and password not in journal
    finally:
        receiver.down()
        service.restore()  # before the cluster goes: the agent's ledger is there


def _open_windows_in_postgres(cluster: PostgresCluster, system: str) -> int:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=ledger") as db:
        row = db.execute("SELECT count(*) FROM windows WHERE system = %s AND end_ts IS NULL",
                         (system,)).fetchone()
    assert row is not None
    return int(row[0])


CLOSED, OPEN = "1 0", "0 2147483647"  # Debian 12's default; systemd upstream's


@pytest.mark.parametrize(("group_range", "raw_dropin", "state"), [
    pytest.param(CLOSED, False, "down", id="range-closed-no-drop-in", marks=pytest.mark.fault(
        "ICMP probe under the shipped unit where net.ipv4.ping_group_range is closed (1 0)",
        "down with a reason naming the sysctl, the agent's group and the CAP_NET_RAW "
        "drop-in; never a traceback", area="Targets (probes)")),
    pytest.param(CLOSED, True, "up", id="range-closed-icmp-raw-drop-in"),
    pytest.param(OPEN, False, "up", id="range-open-no-drop-in"),
])
def test_icmp_under_the_unit_by_ping_group_range_and_drop_in(service, group_range, raw_dropin,
                                                             state):
    """net.ipv4.ping_group_range is the host's (the container shares its network): set for
    the test where it can be, and restored. Drop-in: deploy/systemd/outage-agent-icmp-raw.conf
    installed as deploy/systemd/README.md says, in the raw-drop-in case."""
    path = Path("/proc/sys/net/ipv4/ping_group_range")
    with sysctl("net.ipv4.ping_group_range", group_range) as changed:
        if not changed and path.read_text().split() != group_range.split():
            pytest.skip(f"net.ipv4.ping_group_range cannot be set to {group_range} here")
        if raw_dropin:
            service.box.run("install", "-D", "-m", "0644",
                            "deploy/systemd/outage-agent-icmp-raw.conf",
                            f"{DROPINS}/icmp-raw.conf", cwd=SOURCE)
            service.box.systemctl("daemon-reload")
        service.box.systemctl("restart", UNIT)
        probe = wait_for(f"router {state}", lambda: (found := service.system("router"))[
            "state"] == state and found["last_probe"])
    if state == "down":
        gid = int(service.show("GID")["GID"])
        assert probe["reason"] == (
            f"ICMP unavailable: group {gid} is outside net.ipv4.ping_group_range and there is "
            "no CAP_NET_RAW: widen the range or grant CAP_NET_RAW (systemd: "
            "outage-agent-icmp-raw.conf)")


def test_journal_priorities_let_p_warning_show_only_warnings_and_errors(service):
    """Run last: reads what the tests above logged (errors, systemd's warnings, info)."""
    own = [e for e in service.journal() if e.get("SYSLOG_IDENTIFIER") == "outage-agent"]
    assert {e["PRIORITY"] for e in own} >= {"3", "4", "6"}
    warned = service.journal("-p", "warning")
    assert warned and all(int(e["PRIORITY"]) <= 4 for e in warned)
    assert [e for e in warned if str(e["MESSAGE"]).startswith("INFO ")] == []
    assert [e for e in own if str(e["MESSAGE"]).startswith("<")] == []  # prefixes were read
    assert "Traceback" not in json.dumps(own)

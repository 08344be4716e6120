"""Real parts for end-to-end tests: loopback targets that go down and come back, and the
agent run as a subprocess exactly as a user would run it."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def require_tool(name: str, package: str) -> str:
    """The path of a real tool; in CI a missing one fails the test, elsewhere it skips."""
    import pytest

    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: .ci/run installs Debian's {package} package")
        pytest.skip(f"{name} not installed (apt-get install {package})")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpTarget:
    """An HTTP server on 127.0.0.1 that can answer 200, answer 503, or stop listening."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self._server: http.server.ThreadingHTTPServer | None = None

    def up(self) -> None:
        if self._server is not None:
            self.status = 200
            return
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"OK" if target.status == 200 else b"unavailable"
                self.send_response(target.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.status = 200
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: probes get 'connection refused'."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0,
             every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError, ValueError, LookupError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get_json(url: str) -> Any:
    return json.loads(get(url)[1])


def parse_metrics(text: str) -> dict[str, float]:
    """'name{labels}' -> value for every sample line."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def http_targets(*names: str) -> dict[str, HttpTarget]:
    """Given system names, return a listening HttpTarget for each, answering 200."""
    targets = {name: HttpTarget() for name in names}
    for target in targets.values():
        target.up()
    return targets


def fast_config(systems: str, site: str = "", timezone: str = "",
                ledger: str = "ledger.db") -> str:
    """Given a template of the `systems:` list, return the template of a whole config: an
    agent probing every second that confirms a change in two probes, costed at £25,000 a
    year per user with 2,000 users, its ledger at `ledger` (a path, a URL, or a {field})."""
    return "".join([
        f"agent:\n  ledger: '{ledger}'\n",
        f"  site: {site}\n" if site else "",
        "cost:\n  currency: GBP\n",
        f"  timezone: {timezone}\n" if timezone else "",
        "  annual_cost_per_user: 25000\n  concurrent_users: 2000\n",
        "defaults:\n  interval: 1s\n  retry_interval: 500ms\n  timeout: 400ms\n",
        "  failure_threshold: 2\n  success_threshold: 2\n",
        "systems:\n", systems,
    ])


def one_target_config(ledger: str = "ledger.db") -> str:
    """Given the ledger's path (or a placeholder for it), return the template of a config
    watching one HTTP target, `intranet` at {target}: probed every second, retried every
    300 ms, confirmed in two probes, evaluated every 500 ms."""
    return ("agent: {{ledger: " + ledger + ", evaluation_interval: 500ms}}\n"
            "cost: {{currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}}\n"
            "defaults: {{interval: 1s, retry_interval: 300ms, timeout: 250ms, "
            "failure_threshold: 2,\n           success_threshold: 2}}\n"
            "systems:\n"
            "  - name: intranet\n"
            '    probe: {{type: http, url: "{target}"}}\n')


def configured_agent(workdir: Path, template: str, extra_env: dict[str, str] | None = None,
                     **values: object) -> AgentProcess:
    """Given a config template, write it to workdir/agent.yaml with `values` filled in and
    return the agent that runs it, not started."""
    path = workdir / "agent.yaml"
    path.write_text(template.format(**values))
    return AgentProcess(path, workdir, extra_env)


class _Subprocess:
    """A real program run for a test, its output in `log`; `name` says which one failed."""

    name = "process"
    log: Path
    proc: subprocess.Popen[bytes] | None

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def _wait_ready(self, what: str, url: str) -> None:
        wait_for(what, lambda: self.alive() and get(url)[0] == 200)

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited; log:\n{self.log.read_text()}")
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class AgentProcess(_Subprocess):
    """`outage-agent run` as a subprocess on a free loopback port."""

    name = "agent"

    def __init__(self, config: Path, workdir: Path, extra_env: dict[str, str] | None = None):
        self.config = config
        self.port = free_port()
        self.log = workdir / "agent.log"
        self.env = {**os.environ, **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> AgentProcess:
        self._spawn([sys.executable, "-m", "agent", "run", "-c", str(self.config),
                     "--listen", f"127.0.0.1:{self.port}"], env=self.env)
        if wait:
            self._wait_ready("the agent's /healthz", self.base + "/healthz")
        return self

    def start_all_up(self) -> AgentProcess:
        """Start, and wait until every system is up."""
        self.start()
        wait_for("every system up", lambda: all(
            s["state"] == "up" for s in self.systems().values()))
        return self

    def systems(self) -> dict[str, dict[str, Any]]:
        """/api/v1/systems, by name."""
        return {s["name"]: s for s in get_json(self.base + "/api/v1/systems")}

    def state(self, system: str) -> str:
        return str(self.systems()[system]["state"])

    def metrics(self) -> dict[str, float]:
        status, body = get(self.base + "/metrics")
        assert status == 200, body
        return parse_metrics(body)

    def metrics_text(self) -> str:
        return get(self.base + "/metrics")[1]

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)


class Receiver:
    """A loopback HTTP endpoint that records what is POSTed to it, and can fail on demand:
    `mode` is ok, error (500), reject (404), throttle (429 with Retry-After), hang (after
    `hang_seconds`) or, after `down()`, not listening at all."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "ok"
        self.hang_seconds = 5.0
        self.retry_after = "1"
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.attempts = 0
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                status = {"ok": 200, "error": 500, "throttle": 429, "reject": 404}.get(
                    receiver.mode, 200)
                if receiver.mode == "hang":
                    time.sleep(receiver.hang_seconds)
                if status == 200:
                    receiver.requests.append((self.path, dict(self.headers), body))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index][2])


class PrometheusProcess(_Subprocess):
    """Debian's `prometheus` on a free loopback port, scraping `targets` every second.

    `targets` maps "host:port" to the target labels Prometheus adds (a `site`, say);
    `rule_files` are loaded with a 1 s evaluation interval. The first scrape lands about 6 s
    after start: poll (`wait_for_data`), don't sleep.
    """

    name = "prometheus"

    def __init__(self, workdir: Path, targets: dict[str, dict[str, str]],
                 rule_files: Sequence[Path] = (), job: str = "outage-agent",
                 scrape: dict[str, Any] | None = None) -> None:
        """`scrape` adds to the job's scrape config: scheme, tls_config, basic_auth..."""
        self.binary = require_tool("prometheus", "prometheus")
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.log = workdir / "prometheus.log"
        self.started_at = 0.0
        self.proc: subprocess.Popen[bytes] | None = None
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [{"job_name": job, **(scrape or {}), "static_configs": [
                {"targets": [address], "labels": labels} for address, labels in targets.items()
            ]}],
        }
        self.config.write_text(json.dumps(config, indent=2))  # JSON is YAML

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusProcess:
        self.started_at = time.time()
        self._spawn([self.binary, f"--config.file={self.config}",
                     f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"])
        self._wait_ready("Prometheus to be ready", self.base + "/-/ready")
        return self

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/<path>; return `data`, or raise AssertionError with Prometheus's error."""
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = get(f"{self.base}/api/v1/{path}?{query}")
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"{path} {params}: HTTP {status}: {answer.get('error', body)}")
        return answer["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query; the result as a list of {metric, value} (scalars wrapped)."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def query_range(self, expr: str, start: float, end: float,
                    step: float = 1.0) -> list[dict[str, Any]]:
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=step)
        return list(data["result"])

    def wait_for_data(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until `expr` returns at least one series."""
        return wait_for(f"Prometheus to have {expr}", lambda: self.alive() and self.query(expr),
                        timeout=timeout, every=0.25)


class AlertmanagerProcess(_Subprocess):
    """Debian's `prometheus-alertmanager` on a free loopback port, clustering off.

    `config` is the Alertmanager configuration as a dict (written as JSON, which is YAML).
    Point Prometheus at `address`; `alerts()` lists what it holds.
    """

    name = "alertmanager"

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.binary = require_tool("prometheus-alertmanager", "prometheus-alertmanager")
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "alertmanager.yml"
        self.log = workdir / "alertmanager.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config.write_text(json.dumps(config, indent=2))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.address}"

    def start(self) -> AlertmanagerProcess:
        self._spawn([self.binary, f"--config.file={self.config}",
                     f"--storage.path={self.workdir / 'alertmanager-data'}",
                     f"--web.listen-address={self.address}", "--cluster.listen-address="])
        self._wait_ready("Alertmanager to be ready", self.base + "/-/ready")
        return self

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (API v2)."""
        status, body = get(self.base + "/api/v2/alerts")
        assert status == 200, body
        return list(json.loads(body))

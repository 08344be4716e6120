"""The benchmark harness: the agent at scale against a loopback farm, beside blackbox_exporter.

    python -m benchmarks.run --systems 10000 --interval 30s --duration 120s

Phases, run one after another in this one invocation (each measured alone, so no two
compete for the two cores; the farm runs throughout as its own process and is never counted):

1. steady: the farm answers 200; the agent probes every system once per interval. Start-up
   time, probes per second achieved against scheduled, schedule lag (from the agent's own
   `outage_probe_schedule_lag_seconds`, and at the targets), missed runs, CPU seconds per
   1,000 probes, peak RSS, threads, and `/metrics` timed every `--scrape-every` seconds.
2. outage: every target accepts and hangs. Schedule lag again, and detection latency: from
   the switch to each system's transition to down (the log line the engine writes as it sets
   `outage_system_up` to 0), against its bound; then `/metrics` must show every system down.
3. blackbox: the same targets at the same rate through `prometheus-blackbox-exporter`'s
   `/probe`, driven by `benchmarks.driver`; CPU of the exporter and of its driver.
4. aiohttp: the driver GETting the targets directly (fresh connections): a floor.
5. ledger: a burst of 10,000 transitions through the real ledger (`benchmarks.ledger_burst`).

It prints a Markdown table against the targets and writes everything to `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import ledger_burst, procstat

PHASES = ("steady", "outage", "blackbox", "aiohttp", "ledger")
LAG = "outage_probe_schedule_lag_seconds"
DOWN_LINE = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO agent\.engine: "
                       rb"system=(\S+) state=down ")
BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
"""


def seconds(text: str) -> float:
    """'30s', '2m', '500ms' or '12' as seconds."""
    match = re.fullmatch(r"([\d.]+)(ms|s|m|h)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2) or "s"]
    return float(match.group(1)) * scale


@dataclass
class Settings:
    systems: int = 10_000
    interval: float = 30.0
    duration: float = 120.0
    timeout: float = 5.0
    retry_interval: float = 5.0
    failure_threshold: int = 3
    histograms: bool = False
    addresses: int = 32  # fresh connections spread over many 4-tuples (TIME_WAIT)
    scrape_every: float = 15.0
    outage_mode: str = "hang"
    outage_tail: float = 10.0  # the outage phase lasts the detection bound and this
    phases: tuple[str, ...] = PHASES
    ledger_url: str | None = None  # the ledger phase's store: a new SQLite file if None

    @property
    def rate(self) -> float:
        return self.systems / self.interval

    def detection_bound(self) -> float:
        """The latest a system can be confirmed down after its target fails: the next
        planned probe comes within one interval; each failure is only known when its probe
        ends (at its timeout, for a target that hangs); each retry starts `retry_interval`
        after the one before, or when it ended if that was later. With a target that fails
        at once this is the issue's interval + (failure_threshold - 1) x retry_interval."""
        took = self.timeout if self.outage_mode == "hang" else 0.0
        return self.interval + took + (self.failure_threshold - 1) * max(
            self.retry_interval, took)


# --- the processes ----------------------------------------------------------------------------


class Process:
    """A child process whose output goes to a file in the work folder."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.started = time.time()
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         env=env or dict(os.environ))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Farm:
    """benchmarks.farm as a subprocess, with its control port."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        with open(workdir / "farm.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.farm", "--addresses",
                 str(settings.addresses), "--interval", str(settings.interval)],
                stdout=subprocess.PIPE, stderr=log)
        assert self.proc.stdout is not None
        ready = json.loads(self.proc.stdout.readline() or b"{}")
        if "control" not in ready:
            raise RuntimeError(f"the farm did not start: see {workdir / 'farm.log'}")
        self.targets: list[str] = ready["targets"]
        self.control = f"http://127.0.0.1:{ready['control']}"

    def url(self, index: int) -> str:
        return f"http://{self.targets[index % len(self.targets)]}/s{index:05d}"

    def call(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.control + path, timeout=10) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError, ValueError):
            if value := check():
                return value
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")


def get(url: str, timeout: float = 30.0) -> tuple[int, bytes, float]:
    """GET a URL; return status, body and seconds until the whole body was read."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read()
        return response.status, body, time.perf_counter() - start


# --- the agent --------------------------------------------------------------------------------


def agent_config(settings: Settings, farm: Farm, workdir: Path) -> Path:
    """Write a config with one HTTP system per target path; return its path."""
    lines = [
        f"agent: {{ledger: ledger.db, per_system_histograms: "
        f"{str(settings.histograms).lower()}}}",
        "cost: {annual_cost_per_user: 25000, concurrent_users: 2000}",
        f"defaults: {{interval: {settings.interval:g}s, retry_interval: "
        f"{settings.retry_interval:g}s, timeout: {settings.timeout:g}s, failure_threshold: "
        f"{settings.failure_threshold}, success_threshold: 2, users_share: 0.0001}}",
        "systems:",
    ]
    lines += [f'- {{name: s{i:05d}, probe: {{type: http, url: "{farm.url(i)}"}}}}'
              for i in range(settings.systems)]
    path = workdir / "agent.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Agent:
    """`outage-agent run` as a subprocess, scraped over loopback."""

    def __init__(self, config: Path, workdir: Path) -> None:
        with socket_port() as port:
            self.base = f"http://127.0.0.1:{port}"
        self.log = workdir / "agent.log"
        env = {**os.environ, "TZ": "UTC"}  # log times parse as UTC
        self.process = Process([sys.executable, "-m", "agent", "run", "-c", str(config),
                                "--listen", self.base.removeprefix("http://")], self.log, env)

    def scrape(self) -> Scrape:
        status, body, took = get(self.base + "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return Scrape.parse(body, took)


@contextmanager
def socket_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    yield port


@dataclass
class Scrape:
    """The figures the harness reads from one /metrics answer."""

    seconds: float
    size: int
    series: int
    probes: float
    lag: list[tuple[float, float]]  # (le, cumulative count)
    missed: float
    down: int
    at: float = field(default_factory=time.time)

    @classmethod
    def parse(cls, body: bytes, took: float) -> Scrape:
        series, probes, missed, down = 0, 0.0, 0.0, 0
        lag: list[tuple[float, float]] = []
        for line in body.split(b"\n"):
            if not line or line[:1] == b"#":
                continue
            series += 1
            if line.startswith(b"outage_system_up{"):
                down += line.endswith(b" 0.0")
            elif line.startswith(b"outage_probes_total{"):
                probes += float(line.rpartition(b" ")[2])
            elif line.startswith(b"outage_probe_missed_runs_total{"):
                missed += float(line.rpartition(b" ")[2])
            elif line.startswith(LAG.encode() + b"_bucket{"):
                le = line.split(b'le="')[1].split(b'"')[0].decode()
                lag.append((float(le), float(line.rpartition(b" ")[2])))
        return cls(took, len(body), series, probes, lag, missed, down)


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """histogram_quantile over cumulative (le, count) buckets, as PromQL computes it."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_le, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower_le
            return lower_le + (le - lower_le) * (rank - lower_count) / max(count - lower_count,
                                                                          1e-12)
        lower_le, lower_count = le, count
    return None


def lag_between(before: Scrape, after: Scrape) -> dict[str, Any]:
    """Schedule-lag quantiles of the probes started between two scrapes."""
    buckets = [(le, b - a) for (le, a), (_, b) in zip(before.lag, after.lag, strict=True)]
    total = buckets[-1][1] if buckets else 0
    highest = next((le for le, count in buckets if count >= total), None)
    over = {f"over_{le:g}s": total - count for le, count in buckets if le in (0.5, 1.0)}
    return {"count": total, "p50": quantile(0.5, buckets), "p99": quantile(0.99, buckets),
            "max_at_most": highest, **over}


# --- phases -----------------------------------------------------------------------------------


def steady(settings: Settings, farm: Farm, workdir: Path) -> tuple[Agent, dict[str, Any]]:
    config = agent_config(settings, farm, workdir)
    agent = Agent(config, workdir)
    pid, spawned = agent.process.pid, agent.process.started
    wait_until("the agent's /healthz", lambda: agent.process.alive() and
               get(agent.base + "/healthz")[0] == 200, timeout=120)
    ready = time.time() - spawned
    first = wait_until("the first probe", lambda: farm.call("/stats")["first_request"], 60)
    time.sleep(max(0.0, spawned + settings.interval + 3 - time.time()))  # all have run once
    farm.call("/reset-drift")
    before, cpu_before, started = agent.scrape(), procstat.cpu_seconds(pid), time.time()
    requests_before = farm.call("/stats")["requests"]
    scrapes, threads = [before], [procstat.memory(pid).threads]
    while time.time() < started + settings.duration:
        time.sleep(min(settings.scrape_every, max(0.0, started + settings.duration -
                                                  time.time())))
        scrapes.append(agent.scrape())
        threads.append(procstat.memory(pid).threads)
    after, cpu_after, took = scrapes[-1], procstat.cpu_seconds(pid), time.time() - started
    stats = farm.call("/stats")
    probes = after.probes - before.probes
    return agent, {
        "startup_ready_seconds": ready, "startup_first_probe_seconds": first - spawned,
        "window_seconds": took, "probes": probes, "probes_per_second": probes / took,
        "scheduled_per_second": settings.rate,
        "target_requests_per_second": (stats["requests"] - requests_before) / took,
        "schedule_lag": lag_between(before, after),
        "target_drift": stats["drift"], "missed_runs": after.missed - before.missed,
        "cpu_seconds": cpu_after - cpu_before,
        "cpu_seconds_per_1000_probes": 1000 * (cpu_after - cpu_before) / max(probes, 1),
        "memory": vars(procstat.memory(pid)), "threads_max": max(threads),
        "metrics": metrics_figures(scrapes[1:]),
    }


def metrics_figures(scrapes: list[Scrape]) -> dict[str, Any]:
    times = sorted(s.seconds for s in scrapes)
    if not times:
        return {}
    return {"scrapes": len(times), "p50_seconds": times[len(times) // 2],
            "max_seconds": times[-1], "bytes": scrapes[-1].size,
            "series": scrapes[-1].series}


def outage(settings: Settings, farm: Farm, agent: Agent) -> dict[str, Any]:
    pid = agent.process.pid
    before, cpu_before = agent.scrape(), procstat.cpu_seconds(pid)
    offset = agent.log.stat().st_size
    switched = farm.call(f"/mode?set={settings.outage_mode}")["at"]
    bound = settings.detection_bound()
    end = switched + bound + settings.outage_tail
    detected: dict[str, float] = {}
    while time.time() < end and len(detected) < settings.systems:
        time.sleep(min(1.0, settings.outage_tail))
        offset = read_down_lines(agent.log, offset, detected)
    time.sleep(max(0.0, end - time.time()))  # schedule lag while everything stays down
    read_down_lines(agent.log, offset, detected)
    after, cpu_after, took = agent.scrape(), procstat.cpu_seconds(pid), time.time() - switched
    latencies = sorted(at - switched for at in detected.values())
    probes = after.probes - before.probes
    return {
        "mode": settings.outage_mode, "window_seconds": took,
        "probes_per_second": probes / took, "schedule_lag": lag_between(before, after),
        "missed_runs": after.missed - before.missed,
        "cpu_seconds_per_1000_probes": 1000 * (cpu_after - cpu_before) / max(probes, 1),
        "detection": {
            "bound_seconds": bound, "confirmed": len(detected),
            "p50_seconds": latencies[len(latencies) // 2] if latencies else None,
            "max_seconds": latencies[-1] if latencies else None,
            "over_bound_plus_1s": sum(lat > bound + 1 for lat in latencies)
            + settings.systems - len(detected),
            "metrics_show_down": after.down,
        },
        "metrics_seconds": after.seconds, "memory": vars(procstat.memory(pid)),
    }


def read_down_lines(log: Path, offset: int, detected: dict[str, float]) -> int:
    """Note the first transition to down of each system logged after `offset`."""
    with open(log, "rb") as file:
        file.seek(offset)
        data = file.read()
    complete = data.rpartition(b"\n")[0]
    for line in complete.split(b"\n"):
        if match := DOWN_LINE.match(line):
            name = match.group(2).decode()
            if name not in detected:
                stamp = dt.datetime.strptime(match.group(1).decode() + " +0000",
                                             "%Y-%m-%d %H:%M:%S,%f %z")  # the agent ran in UTC
                detected[name] = stamp.timestamp()
    return offset + len(complete) + (1 if complete else 0)


def paced_client(settings: Settings, farm: Farm, workdir: Path, via: str | None,
                 name: str) -> dict[str, Any]:
    """Run the driver (through blackbox at `via`, or direct) and read /proc as it runs."""
    targets = workdir / "targets.txt"
    key = "blackbox" if via else "direct"
    lines = [farm.url(i).removeprefix("http://") if via else farm.url(i)
             for i in range(settings.systems)]
    targets.write_text("\n".join(lines) + "\n")
    warm = min(5.0, settings.interval)  # every target requested once before measuring
    argv = [sys.executable, "-m", "benchmarks.driver", "--targets", str(targets),
            "--interval", str(settings.interval), "--timeout", str(settings.timeout),
            "--duration", str(settings.duration + warm + 1)]
    argv += ["--blackbox", via] if via else ["--direct"]
    driver = Process(argv, workdir / f"driver-{key}.log")
    try:
        time.sleep(warm)
        pids = {"driver": driver.pid, **({"exporter": blackbox_pid(via)} if via else {})}
        cpu_before = {k: procstat.cpu_seconds(p) for k, p in pids.items()}
        requests_before, started = farm.call("/stats")["requests"], time.time()
        time.sleep(settings.duration)
        cpu = {k: procstat.cpu_seconds(p) - cpu_before[k] for k, p in pids.items()}
        requests, took = farm.call("/stats")["requests"] - requests_before, time.time() - started
        memory = {k: vars(procstat.memory(p)) for k, p in pids.items()}
        driver.proc.wait(timeout=settings.timeout + 30)
    finally:
        driver.stop()
    per_1000 = {k: 1000 * v / max(requests, 1) for k, v in cpu.items()}
    return {"name": name, "window_seconds": took, "probes": requests,
            "probes_per_second": requests / took, "cpu_seconds": cpu,
            "cpu_seconds_per_1000_probes": per_1000,
            "total_cpu_seconds_per_1000_probes": sum(per_1000.values()), "memory": memory,
            "driver_counts": json.loads(driver.log.read_text().strip().splitlines()[-1])}


_BLACKBOX: dict[str, int] = {}


def blackbox_pid(address: str) -> int:
    return _BLACKBOX[address]


def blackbox(settings: Settings, farm: Farm, workdir: Path) -> dict[str, Any]:
    binary = shutil.which("prometheus-blackbox-exporter")
    if binary is None:
        return {"skipped": "prometheus-blackbox-exporter is not installed "
                           "(apt-get install prometheus-blackbox-exporter)"}
    config = workdir / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG.format(timeout=settings.timeout))
    with socket_port() as port:
        address = f"127.0.0.1:{port}"
    exporter = Process([binary, f"--config.file={config}", f"--web.listen-address={address}",
                        "--log.level=warn"], workdir / "blackbox.log")
    _BLACKBOX[address] = exporter.pid
    try:
        wait_until("blackbox_exporter", lambda: get(f"http://{address}/-/healthy")[0] == 200,
                   timeout=30)
        result = paced_client(settings, farm, workdir, address, "blackbox_exporter")
        version = subprocess.run([binary, "--version"], capture_output=True, text=True)
        result["version"] = (version.stdout or version.stderr or "?").splitlines()[0]
        return result
    finally:
        exporter.stop()


# --- the report ---------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(settings: Settings, results: dict[str, Any]) -> str:
    """The Markdown table of figures against the issue's targets."""
    rows = [("figure", "target", "measured", "met")]
    s, o = results.get("steady", {}), results.get("outage", {})
    bb, ledger = results.get("blackbox", {}), results.get("ledger", {})

    def row(figure: str, target: str, value: str, ok: bool | None) -> None:
        rows.append((figure, target, value, "-" if ok is None else ("yes" if ok else "**no**")))

    if s:
        lag = s["schedule_lag"]
        row("probes/s achieved (scheduled)", f"{settings.rate:.0f}",
            f"{s['probes_per_second']:.1f} ({s['scheduled_per_second']:.1f})",
            s["probes_per_second"] >= 0.98 * settings.rate)
        row("schedule lag p50 / p99 / max (steady)", "p99 < 0.5 s",
            f"{fmt(lag['p50'], 3)} / {fmt(lag['p99'], 3)} / <= {fmt(lag['max_at_most'])} s",
            lag["p99"] is not None and lag["p99"] < 0.5)
        row("lag at the targets: max drift", "-", f"{s['target_drift']['max']:.3f} s", None)
        row("missed or skipped runs (steady)", "0", fmt(s["missed_runs"], 0),
            s["missed_runs"] == 0)
        row("agent CPU-s per 1,000 probes", "<= half of blackbox + driver",
            fmt(s["cpu_seconds_per_1000_probes"], 3), cpu_ok(s, bb))
        row("peak RSS", "< 300 MB", f"{s['memory']['peak_rss_mb']:.0f} MB",
            s["memory"]["peak_rss_mb"] < 300)
        row("threads (max seen)", "-", str(s["threads_max"]), None)
        row("start-up: spawn to first probe", "< 5 s",
            f"{s['startup_first_probe_seconds']:.2f} s", s["startup_first_probe_seconds"] < 5)
        m = s["metrics"]
        if m:
            row("/metrics p50 (max) response time", "p50 < 300 ms",
                f"{m['p50_seconds'] * 1000:.0f} ({m['max_seconds'] * 1000:.0f}) ms",
                m["p50_seconds"] < 0.3)
            row("/metrics size, series", "documented",
                f"{m['bytes'] / 1e6:.1f} MB, {m['series']} series", None)
    if o:
        lag, det = o["schedule_lag"], o["detection"]
        row(f"schedule lag p50 / p99 (mass {o['mode']})", "p99 < 1 s",
            f"{fmt(lag['p50'], 3)} / {fmt(lag['p99'], 3)} / <= {fmt(lag['max_at_most'])} s",
            lag["p99"] is not None and lag["p99"] < 1.0)
        row("missed or skipped runs (outage)", "0", fmt(o["missed_runs"], 0),
            o["missed_runs"] == 0)
        row("probes/s during the outage", "-", f"{o['probes_per_second']:.0f}", None)
        row("detection p50 / max (bound)", "max <= bound + 1 s",
            f"{fmt(det['p50_seconds'])} / {fmt(det['max_seconds'])} s "
            f"({det['bound_seconds']:g} s)", det["over_bound_plus_1s"] == 0)
        row("systems shown down by /metrics", str(settings.systems),
            str(det["metrics_show_down"]), det["metrics_show_down"] == settings.systems)
        row("peak RSS after the outage", "< 300 MB",
            f"{o['memory']['peak_rss_mb']:.0f} MB", o["memory"]["peak_rss_mb"] < 300)
    if bb and "skipped" not in bb:
        per = bb["cpu_seconds_per_1000_probes"]
        row("blackbox_exporter + driver CPU-s per 1,000", "-",
            f"{per['exporter']:.3f} + {per['driver']:.3f} = "
            f"{bb['total_cpu_seconds_per_1000_probes']:.3f} "
            f"({bb['probes_per_second']:.0f}/s)", None)
    if direct := results.get("aiohttp"):
        row("bare aiohttp client CPU-s per 1,000", "-",
            f"{direct['total_cpu_seconds_per_1000_probes']:.3f} "
            f"({direct['probes_per_second']:.0f}/s)", None)
    if ledger:
        row("ledger: 10,000-transition burst committed", "< 2 s",
            f"{ledger['commit_seconds']:.2f} s (loop stall "
            f"{ledger['worst_loop_stall_seconds'] * 1000:.0f} ms)",
            ledger["commit_seconds"] < 2)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def cpu_ok(steady_result: dict[str, Any], bb: dict[str, Any]) -> bool | None:
    if not bb or "skipped" in bb:
        return None
    return bool(steady_result["cpu_seconds_per_1000_probes"] <=
                bb["total_cpu_seconds_per_1000_probes"] / 2)


def run(settings: Settings, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "settings": vars(settings) | {"phases": list(settings.phases)},
        "machine": procstat.machine() | {"python": sys.version.split()[0]},
        "load_before": procstat.load_average(), "started": time.time(),
    }
    farm = Farm(settings, workdir)
    agent: Agent | None = None
    try:
        if "steady" in settings.phases or "outage" in settings.phases:
            agent, results["steady"] = steady(settings, farm, workdir)
            if "outage" in settings.phases:
                results["outage"] = outage(settings, farm, agent)
            agent.process.stop()
            farm.call("/mode?set=healthy")
        if "blackbox" in settings.phases:
            results["blackbox"] = blackbox(settings, farm, workdir)
        if "aiohttp" in settings.phases:
            results["aiohttp"] = paced_client(settings, farm, workdir, None, "aiohttp")
        if "ledger" in settings.phases:
            results["ledger"] = asyncio.run(ledger_burst.measure(settings.systems,
                                                                 settings.ledger_url))
    finally:
        if agent is not None:
            agent.process.stop()
        farm.stop()
    results["load_after"] = procstat.load_average()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--interval", type=seconds, default=30.0)
    parser.add_argument("--duration", type=seconds, default=120.0,
                        help="the measured window of each phase")
    parser.add_argument("--timeout", type=seconds, default=5.0)
    parser.add_argument("--retry-interval", type=seconds, default=5.0)
    parser.add_argument("--failure-threshold", type=int, default=3)
    parser.add_argument("--per-system-histograms", action="store_true",
                        help="keep a probe-duration histogram per system (off at this scale)")
    parser.add_argument("--addresses", type=int, default=32,
                        help="farm addresses, 127.0.0.2 and up")
    parser.add_argument("--scrape-every", type=seconds, default=15.0)
    parser.add_argument("--outage-mode", choices=("hang", "503"), default="hang")
    parser.add_argument("--outage-tail", type=seconds, default=10.0,
                        help="how long the outage phase goes on after the detection bound")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated, of {', '.join(PHASES)}")
    parser.add_argument("--json", type=Path, default=Path("benchmark-results.json"))
    parser.add_argument("--workdir", type=Path, help="keep logs and the ledger here")
    parser.add_argument("--ledger-url",
                        help="an empty PostgreSQL database for the ledger phase "
                             "(postgresql+psycopg://...); default: a new SQLite file")
    args = parser.parse_args(argv)
    phases = tuple(p for p in args.phases.split(",") if p)
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    settings = Settings(
        systems=args.systems, interval=args.interval, duration=args.duration,
        timeout=args.timeout, retry_interval=args.retry_interval,
        failure_threshold=args.failure_threshold, histograms=args.per_system_histograms,
        addresses=args.addresses, scrape_every=args.scrape_every,
        outage_mode=args.outage_mode, outage_tail=args.outage_tail, phases=phases,
        ledger_url=args.ledger_url,
    )
    with tempfile.TemporaryDirectory(prefix="outage-bench-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        results = run(settings, workdir)
    results["command"] = "python -m benchmarks.run " + " ".join(
        argv if argv is not None else sys.argv[1:])
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(table(settings, results))
    print(f"\nload average before {results['load_before']}, after {results['load_after']}; "
          f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

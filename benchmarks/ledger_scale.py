"""The ledger side at scale: a year of a 10,000-system estate (issue 20).

    python -m benchmarks.ledger_scale --systems 10000 --windows 100000

Builds, reproducibly (seeded), the benchmark's config of `--systems` HTTP systems and a CSV of
`--windows` random windows over 2025 (1 minute to 4 hours each), then times each command as
a user runs it, in its own process (wall time, CPU time and peak RSS from the child's
rusage; on a shared machine the CPU time is the steadier figure):

1. `outage-agent import` of the CSV into a new ledger;
2. `outage-agent report` for the year in every format, and for March as HTML;
3. `outage-agent export` of every window, CSV and JSON.

It prints a Markdown table against the issue's targets and writes the figures to `--json`.
Nothing here is a test: speed is measured only here, never in CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

YEAR = (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
SHORTEST, LONGEST = 60, 4 * 3600  # seconds: each window's length is drawn from these


@dataclass(frozen=True)
class Figure:
    """One command's wall time, peak RSS and output size."""

    name: str
    seconds: float
    cpu_seconds: float  # user + system: what the wall time would be on an idle machine
    peak_rss_mb: float
    output_mb: float
    code: int
    target_seconds: float | None = None
    target_rss_mb: float | None = None

    @property
    def met(self) -> bool | None:
        if self.target_seconds is None:
            return None
        return (self.code == 0 and self.seconds < self.target_seconds
                and (self.target_rss_mb is None or self.peak_rss_mb < self.target_rss_mb))


def write_config(folder: Path, systems: int, ledger: str) -> Path:
    """The benchmark's config (benchmarks.run.agent_config): one HTTP system per target."""
    lines = [
        f"agent: {{ledger: {json.dumps(ledger)}, per_system_histograms: false}}",
        "cost: {annual_cost_per_user: 25000, concurrent_users: 2000, timezone: UTC}",
        "defaults: {interval: 30s, retry_interval: 5s, timeout: 5s, failure_threshold: 3, "
        "success_threshold: 2, users_share: 0.0001}",
        "systems:",
    ]
    lines += [f'- {{name: s{i:05d}, probe: {{type: http, url: "http://127.0.0.2:{8000 + i % 32}'
              f'/s{i}"}}}}' for i in range(systems)]
    path = folder / "agent.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_windows(folder: Path, systems: int, windows: int, seed: int) -> Path:
    """`windows` random windows over 2025, each of a random system, 1 minute to 4 hours."""
    rng = random.Random(seed)
    first, last = (int(t.timestamp()) for t in YEAR)
    rows = ["system,start,end"]
    for _ in range(windows):
        length = rng.randint(SHORTEST, LONGEST)
        start = rng.randint(first, last - length)
        rows.append(f"s{rng.randrange(systems):05d},{_utc(start)},{_utc(start + length)}")
    path = folder / "windows.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _utc(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed(name: str, argv: list[str], output: Path | None, **targets: float) -> Figure:
    """Run one command to the end; its wall time and peak RSS (the child's rusage)."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        errors = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code:
        sys.stderr.write(f"{name}: exit {code}\n{errors.decode(errors='replace')[-2000:]}\n")
    size = output.stat().st_size / 1e6 if output is not None and output.exists() else 0.0
    return Figure(name, took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, size,
                  code, targets.get("seconds"), targets.get("rss_mb"))


def measure(folder: Path, systems: int, windows: int, seed: int, ledger: str | None,
            skip: tuple[str, ...] = ()) -> list[Figure]:
    """Build the config and the file, import it, then report and export; the figures."""
    config = write_config(folder, systems, ledger or str(folder / "ledger.db"))
    csv_file = write_windows(folder, systems, windows, seed)
    agent = [sys.executable, "-m", "agent"]
    given = ["-c", str(config)]
    figures = [timed("import", [*agent, "import", *given, str(csv_file)], None, seconds=10,
                     rss_mb=300)]
    year = ["--from", "2025-01-01", "--to", "2026-01-01"]
    for fmt in ("json", "csv", "md", "html"):
        if f"report-{fmt}" in skip:
            continue
        out = folder / f"year.{fmt}"
        argv = [*agent, "report", *given, *year, "--format", fmt, "-o", str(out), "--force"]
        figures.append(timed(f"report {fmt}, year", argv, out, seconds=10, rss_mb=400))
    out = folder / "march.html"
    figures.append(timed("report html, March", [*agent, "report", *given, "--from", "2025-03-01",
                                               "--to", "2025-04-01", "--format", "html",
                                               "-o", str(out), "--force"], out,
                         seconds=10, rss_mb=400))
    for fmt in ("csv", "json"):
        out = folder / f"export.{fmt}"
        figures.append(timed(f"export {fmt}", [*agent, "export", *given, "--format", fmt, "-o",
                                               str(out), "--force"], out))
    return figures


def startup(folder: Path, systems: int, windows: int, seed: int) -> dict[str, float]:
    """Seconds for each read an agent's start makes (`agent.resume.read_recorded`), on a
    ledger of `windows` closed live windows written straight into a new SQLite file (an
    import of a million would take minutes and test the importer, not the start)."""
    from agent.ledger import Ledger
    from agent.ledger.rows import window_row
    from agent.ledger.schema import windows as table
    from agent.records import Amounts, Basis, WindowRecord

    ledger = Ledger(folder / "million.db")
    ledger.prepare()
    rng = random.Random(seed)
    first, last = (int(t.timestamp()) for t in YEAR)
    basis = Basis(12.99, 0.0001, 1.0, 0.0, 2000.0)
    with ledger.engine.begin() as conn:
        for _ in range(0, windows, 50_000):
            rows = []
            for _ in range(50_000):
                start = rng.randint(first, last - LONGEST) + rng.random()
                end = start + rng.randint(SHORTEST, LONGEST)
                rows.append(window_row("", WindowRecord(
                    f"s{rng.randrange(systems):05d}", "down", None, start, end, start - 30,
                    end - 15, end, end, Amounts(cost=1.0, staff=1.0, downtime=end - start),
                    basis, True)))
            conn.execute(table.insert(), rows)
    timings: dict[str, float] = {}
    for name in ("latest_record", "open_windows", "totals", "group_totals"):
        started = time.perf_counter()
        getattr(ledger, name)()
        timings[name] = time.perf_counter() - started
    for name in ("days_since", "group_days_since"):
        started = time.perf_counter()
        getattr(ledger, name)("2025-12-01")
        timings[name] = time.perf_counter() - started
    ledger.dispose()
    return timings


def api(config_path: Path, pages_wanted: int = 20) -> dict[str, float]:
    """The API's reads in this process, on the imported ledger: `/api/v1/outages` for the
    year with limit=100 (the first page, which costs the year, then the next pages from the
    answer kept), and the status page's 90 days of availability for every system, with the
    clock at the end of the year (windows dated within the last 90 days)."""
    import statistics
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from agent.config import load_config
    from agent.days import last_days
    from agent.ledger import Ledger
    from agent.web import api as routes
    from agent.web import pages

    config = load_config(config_path)
    ledger = Ledger.of(config.agent)
    agent = SimpleNamespace(config=config, ledger=ledger)
    start, end = (t.timestamp() for t in YEAR)
    took = []
    started = time.perf_counter()
    found = routes.read_outages(agent, start, end, None, None, end)  # type: ignore[arg-type]
    listed = routes.Listed.of(found, end)
    first = time.perf_counter() - started
    after = None
    for _ in range(pages_wanted):
        started = time.perf_counter()
        _, cursor = pages.page(listed.rows, listed.places, after, 100)
        took.append(time.perf_counter() - started)
        after = pages.parse_cursor(cursor) if cursor else None
    names = tuple(s.name for s in config.systems)
    zone = ZoneInfo(config.cost.timezone)
    started = time.perf_counter()
    routes.read_availability(ledger, names, config.cost.timezone,
                             last_days(end - 1, 90, zone), end - 1, None)
    availability = time.perf_counter() - started
    return {"outages first page": first, "outages next pages p50": statistics.median(took),
            "availability 90 days": availability}


def table(figures: list[Figure]) -> str:
    lines = ["| operation | target | seconds (CPU) | peak RSS | output | met |",
             "|---|---|---|---|---|---|"]
    for f in figures:
        target = (f"< {f.target_seconds:g} s, < {f.target_rss_mb:g} MB"
                  if f.target_seconds is not None and f.target_rss_mb is not None else "-")
        met = "-" if f.met is None else ("yes" if f.met else "no")
        lines.append(f"| {f.name} | {target} | {f.seconds:.1f} ({f.cpu_seconds:.1f}) | "
                     f"{f.peak_rss_mb:.0f} MB | "
                     f"{f.output_mb:.1f} MB | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--windows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--ledger", help="a PostgreSQL URL (an empty database); default: a "
                        "new SQLite file in the work folder")
    parser.add_argument("--workdir", help="keep the config, the CSV, the ledger and outputs")
    parser.add_argument("--skip", default="", help="comma-separated, e.g. report-md")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--startup-windows", type=int, default=0, help="also time the reads "
                        "an agent's start makes on a ledger of this many windows (1000000)")
    args = parser.parse_args(argv)
    skip = tuple(s for s in args.skip.split(",") if s)
    with tempfile.TemporaryDirectory(prefix="ledger-scale-") as temp:
        folder = Path(args.workdir or temp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.startup_windows:
            reads = startup(folder, args.systems, args.startup_windows, args.seed)
            print(" ".join(f"{name} {took:.2f} s" for name, took in reads.items()))
            print(f"start-up reads in all: {sum(reads.values()):.2f} s")
        figures = [] if "ops" in skip else measure(folder, args.systems, args.windows,
                                                   args.seed, args.ledger, skip)
        reads = {} if "api" in skip or "ops" in skip else api(folder / "agent.yaml")
    print(table(figures))
    print(" ".join(f"{name}: {took * 1000:.0f} ms;" for name, took in reads.items()))
    if args.json:
        Path(args.json).write_text(json.dumps([vars(f) for f in figures], indent=1) + "\n")
    return 0 if all(f.code == 0 for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())

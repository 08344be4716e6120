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
    args = parser.parse_args(argv)
    skip = tuple(s for s in args.skip.split(",") if s)
    with tempfile.TemporaryDirectory(prefix="ledger-scale-") as temp:
        folder = Path(args.workdir or temp)
        folder.mkdir(parents=True, exist_ok=True)
        figures = measure(folder, args.systems, args.windows, args.seed, args.ledger, skip)
    print(table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps([vars(f) for f in figures], indent=1) + "\n")
    return 0 if all(f.code == 0 for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())

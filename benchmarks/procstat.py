"""What /proc says about a process: CPU seconds, peak and current RSS, threads."""

from __future__ import annotations

import os
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (its threads included)."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


@dataclass(frozen=True)
class Memory:
    peak_rss_mb: float  # VmHWM: the high-water mark of the resident set
    rss_mb: float
    threads: int


def memory(pid: int) -> Memory:
    values: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            key, _, value = line.partition(":")
            values[key] = value.strip()
    return Memory(
        peak_rss_mb=int(values["VmHWM"].split()[0]) / 1024,
        rss_mb=int(values["VmRSS"].split()[0]) / 1024,
        threads=int(values["Threads"]),
    )


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen


def machine() -> dict[str, object]:
    """The machine the figures were measured on."""
    model = "unknown"
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": model}

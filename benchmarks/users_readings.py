"""The size of measured users' evidence: a month of readings at 1-minute periods for 5 groups
(216,000 rows), written through the ledger's ordinary batches into SQLite, as the agent
writes them. The target is under 50 MB. Also times what a report pays to read them back (the
bases with every group's step function laid over them).

    python -m benchmarks.users_readings [--days 30] [--groups 5] [--every 60]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from agent.basis import CostBasis, GroupBasis
from agent.ledger import Ledger
from agent.model import UsersSchedule
from agent.records import FALLBACK, Batch, UsersReading

START = 1_793_836_800.0  # 2026-11-05 00:00 UTC
LIMIT_MB = 50.0


def readings(days: int, groups: int, every: float) -> list[UsersReading]:
    """A reading per group per period; one in a hundred failed (the fallback)."""
    rng = random.Random(19)
    found = []
    for k in range(int(days * 86400 / every)):
        for g in range(groups):
            failed = rng.random() < 0.01
            value = None if failed else float(rng.randint(0, 3000))
            found.append(UsersReading(f"group-{g}", START + k * every, value,
                                      FALLBACK if failed else "prometheus", every))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--every", type=float, default=60.0)
    args = parser.parse_args()
    rows = readings(args.days, args.groups, args.every)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.db"
        ledger = Ledger(path, "shire-hall")
        ledger.open()
        basis = CostBasis("UTC", tuple(GroupBasis(f"group-{g}", UsersSchedule(100), 12.99)
                                       for g in range(args.groups)), {})
        ledger.record_basis(basis, START)
        began = time.perf_counter()
        hour = int(3600 / args.every) * args.groups
        for k in range(0, len(rows), hour):  # an hour of readings a batch: the size is the same
            ledger.submit(Batch(readings=rows[k:k + hour])).result(timeout=60)
        wrote = time.perf_counter() - began
        began = time.perf_counter()
        [(_, measured)] = ledger.bases()
        read = time.perf_counter() - began
        ledger.close()
        ledger.dispose()
        size = path.stat().st_size / 1e6
    assert len(measured.readings) == args.groups
    print(f"{len(rows):,} readings ({args.groups} groups, {args.days} days, every "
          f"{args.every:g}s): SQLite file {size:.1f} MB (limit {LIMIT_MB:g} MB, "
          f"{size * 1e6 / len(rows):.0f} bytes a reading); written in {wrote:.1f}s; "
          f"read back for a report in {read:.2f}s")
    if size >= LIMIT_MB:
        raise SystemExit(f"over {LIMIT_MB:g} MB")


if __name__ == "__main__":
    main()

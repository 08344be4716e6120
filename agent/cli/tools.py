"""Commands that need no config: `dashboards` and `estimate`."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import math
from pathlib import Path

from agent.cli.common import Commands, fail
from agent.cli.newfile import write_new_file
from agent.config.values import LARGEST
from agent.currency import currency_error


def cmd_dashboards(args: argparse.Namespace) -> int:
    """Write the Grafana dashboards for --currency into -o and list the files written: 2 for
    a code that is not ISO 4217's or a dashboard's name there that is not a regular file, 1
    if -o cannot be written. A dashboard already there is replaced (as `--force` would)."""
    from agent import dashboards

    try:
        boards = dashboards.build(args.currency)
    except ValueError as exc:
        return fail(f"--currency: {exc}")
    folder = Path(args.output)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"{args.output}: cannot write: {exc.strerror or exc}", code=1)
    for name, board in boards.items():
        if code := write_new_file(str(folder / name), dashboards.render(board), force=True):
            return code
        print(folder / name)
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    """The council's arithmetic by hand: an outage's cost from the figures given, with the
    working shown."""
    from agent.report.estimate import Estimate, derivation, parse_outage

    try:
        outage = parse_outage(args.outage)
    except ValueError as exc:
        return fail(f"--outage: {exc}")
    if problem := currency_error(args.currency):
        return fail(f"--currency: {problem}")
    if args.users < 0 or args.annual_cost < 0 or args.hours_per_year <= 0:
        return fail("--users and --annual-cost cannot be negative, and --hours-per-year must "
                    "be positive")
    figures = (args.users, args.annual_cost, args.hours_per_year)
    if not all(math.isfinite(x) and x <= LARGEST for x in figures):  # as a config's figures
        return fail(f"--users, --annual-cost and --hours-per-year must be at most "
                    f"{LARGEST:.0e}")
    estimate = Estimate(args.users, args.annual_cost, args.hours_per_year, outage)
    if not math.isfinite(estimate.total) or estimate.total > LARGEST ** 2:
        return fail("the cost of that outage is too large a number to be a cost")
    for line in derivation(estimate, args.currency):
        print(line)
    return 0


def add_dashboards(commands: Commands) -> None:
    boards = commands.add_parser(
        "dashboards", help="write the Grafana dashboards for a currency",
        description="Write the Grafana dashboards, their money in one currency, into a "
        "folder. Exit codes: 0 written; 1 the folder or a file in it cannot be written; 2 "
        "not an ISO 4217 code, or usage.")
    boards.add_argument("--currency", default="GBP",
                        help="ISO 4217 code, in capitals (default: GBP)")
    boards.add_argument("-o", "--output", default="grafana/dashboards",
                        help="directory to write into (default: grafana/dashboards)")
    boards.set_defaults(func=cmd_dashboards)


def add_estimate(commands: Commands) -> None:
    estimate = commands.add_parser("estimate", help="the cost of an outage, worked out by hand",
                                   epilog="Exit codes: 0 worked out; 2 bad figures or usage.")
    estimate.add_argument("--users", type=float, required=True, help="people who cannot work")
    estimate.add_argument("--annual-cost", type=float, required=True,
                          help="yearly cost of one person, on-costs included")
    estimate.add_argument("--hours-per-year", type=float, default=1924.0,
                          help="working hours in a year (default 1924: 37 h x 52 weeks)")
    estimate.add_argument("--outage", required=True, help="how long, e.g. 21.55h or 21h33m")
    estimate.add_argument("--currency", default="GBP",
                          help="ISO 4217 code, in capitals (default GBP)")
    estimate.set_defaults(func=cmd_estimate)

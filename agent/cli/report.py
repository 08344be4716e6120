"""`report`: what outages cost over a range, per system and in total."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import time

from agent.cli.common import (
    Commands,
    abort,
    existing_ledger,
    fail,
    ledger_parent,
    load_with_ledger,
)
from agent.cli.newfile import format_of, refuse_unwritable, write_output

REPORT_FORMATS = ("md", "html", "csv", "json")  # the keys of agent.report.RENDERERS
# The formats that list the audit trail (Report.changes): the others skip reading it, a
# second of a year's 100,000 imported windows (issue 20).
SHOWS_CHANGES = ("md", "html")


def cmd_report(args: argparse.Namespace) -> int:
    """Render the report for --from..--to to stdout or -o's file (in the format its extension
    names, without --format): 2 for a bad range, system or site, or an existing -o without
    --force; 1 if there is no ledger, it cannot be read or -o's file cannot be written."""
    refuse_unwritable(args.output, args.force)
    fmt = args.format or format_of(args.output, REPORT_FORMATS, "md")
    config = load_with_ledger(args)
    from agent.ledger import LedgerError
    from agent.report import STREAMERS
    from agent.report.source import ALL_SITES, NoSuchSite, read_report

    start, end = _period(args.start, args.end, config.cost.timezone)
    existing_ledger(config)
    try:
        report = read_report(config, start, end, time.time(), args.system,
                             ALL_SITES if args.all_sites else args.site,
                             what_if=args.basis == "current",
                             audit=fmt in SHOWS_CHANGES)
    except LedgerError as exc:
        return fail(f"cannot read the ledger: {exc}", code=1)
    except NoSuchSite as exc:
        return fail(f"--site: {exc}")
    except ValueError as exc:
        return fail(f"--system: {exc}")
    write_output(STREAMERS[fmt](report), args.output, args.force)
    if args.output is not None:
        print(f"report written to {args.output}")
    return 0


def _period(start: str, end: str, timezone: str) -> tuple[float, float]:
    """Given --from and --to, return them as POSIX seconds, naive ones read in cost.timezone;
    end the command (exit 2) if either is not a time or the range is empty."""
    from zoneinfo import ZoneInfo

    from agent.report.period import parse_moment

    zone = ZoneInfo(timezone)
    try:
        begins, ends = parse_moment(start, zone), parse_moment(end, zone)
    except ValueError as exc:
        abort(f"--from/--to: {exc}")
    if ends <= begins:
        abort("--to must be after --from (--to is exclusive)")
    return begins, ends


def add_report(commands: Commands) -> None:
    report = commands.add_parser(
        "report", parents=[ledger_parent()], help="what outages cost over a period, per system",
        description="What outages cost over a range, per system and in total. Exit codes: 0 "
        "written; 1 no ledger, or it or -o's file cannot be read or written; 2 bad dates, "
        "system or site, an existing -o file without --force (or one that is not a regular "
        "file), usage, or invalid config.")
    report.add_argument("--from", dest="start", required=True, metavar="DATE",
                        help="first day (or an ISO 8601 time), in cost.timezone")
    report.add_argument("--to", dest="end", required=True, metavar="DATE",
                        help="end of the range, exclusive (2026-12-01 for all of November)")
    report.add_argument("--system", help="report on one system only")
    sites = report.add_mutually_exclusive_group()
    sites.add_argument("--site", metavar="NAME", help="report on another site sharing the "
                       "ledger (default: agent.site)")
    sites.add_argument("--all-sites", action="store_true", help="the organisation: a system "
                       "is down while most of the sites watching it see it down (quorum)")
    report.add_argument("--format", choices=REPORT_FORMATS,
                        help="md, html, csv (one row per window) or json; default: as -o's "
                             "extension says, else md")
    report.add_argument("--basis", choices=("recorded", "current"), default="recorded",
                        help="cost each moment with the cost basis in force then (recorded, "
                             "the default) or, as a what-if, with today's configuration")
    report.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    report.add_argument("--force", action="store_true", help="replace -o's file if it exists")
    report.set_defaults(func=cmd_report)

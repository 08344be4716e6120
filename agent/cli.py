"""Command line: `outage-agent run | check | probe | demo`.

Exit codes: 0 success, 1 a probe or runtime failure, 2 a configuration or usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import re
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent import __version__, systemd
from agent.config import ConfigError, load_config, summary
from agent.model import Config, ProbeResult
from agent.text import redact

if TYPE_CHECKING:
    from agent.ledger import Ledger, StoredWindow

log = logging.getLogger("agent")

LEVELS = ("debug", "info", "warning", "error")


def setup_logging(level: str) -> None:
    """Log to stderr; the journal adds the timestamps itself and reads a <priority> prefix."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    journal = systemd.stderr_is_journal()
    if not journal:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr, force=True)
    if journal:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(systemd.JournalFormatter(fmt))
    # It logs every run at INFO, and each skipped run at WARNING: the agent counts those and
    # logs them itself, at most a line a minute (agent.daemon.Agent._on_missed).
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def load_or_report(path: str) -> Config | None:
    """Load a config, or print every problem (one per line) and return None.

    systemd credentials (LoadCredential=) count as environment variables for ${VAR}.
    """
    try:
        return load_config(path, env=systemd.credentials_env())
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def with_overrides(config: Config, listen: str | None, ledger: str | None,
                   shard: tuple[int, int] | None = None) -> Config:
    agent = config.agent
    if listen:
        agent = dataclasses.replace(agent, listen=listen)
    if ledger:
        from agent.config.agent import resolve_ledger

        agent = dataclasses.replace(agent, ledger=resolve_ledger(ledger, Path.cwd(), None))
    if shard:
        agent = dataclasses.replace(agent, shard=shard)
    return dataclasses.replace(config, agent=agent)


class LedgerArgument(argparse.Action):
    """--ledger: a location the ledger cannot use is a usage error (exit 2) on one line,
    which never quotes the location: a database URL may hold a password."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from agent.config.agent import ledger_error

        error = ledger_error(str(values))
        if error is not None:
            parser.exit(2, f"{parser.prog}: {option_string}: {error}\n")
        setattr(namespace, self.dest, values)


def shard_argument(text: str) -> tuple[int, int]:
    """argparse type for --shard K/N: a bad value is a usage error (exit 2)."""
    from agent.shard import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# --- commands --------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    print(summary(config))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    config = with_overrides(config, args.listen, args.ledger, args.shard)
    setup_logging(args.log_level or config.agent.log_level)
    from agent.service import run_service

    return asyncio.run(run_service(config, reload_from=args.config))


def cmd_probe(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    known = {s.name: s for s in (*config.agent.canaries, *config.systems)}
    unknown = [name for name in args.systems if name not in known]
    if unknown:
        print(f"unknown system(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [known[name] for name in args.systems] or list(config.systems)
    results = asyncio.run(_probe_all([s.check for s in chosen]))
    print(redact(probe_table([s.name for s in chosen], results), config.secrets))
    return 0 if all(r.ok for r in results) else 1


async def _probe_all(checks: Sequence[object]) -> list[ProbeResult]:
    from agent.probes import Prober

    async with Prober() as prober:
        return list(await asyncio.gather(*(prober.run(c) for c in checks)))  # type: ignore[arg-type]


def probe_table(names: list[str], results: list[ProbeResult]) -> str:
    rows = [("SYSTEM", "RESULT", "LATENCY", "REASON")]
    rows += [(n, r.status.value, f"{r.latency * 1000:.0f} ms", r.reason)
             for n, r in zip(names, results, strict=True)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ).rstrip()


def cmd_notify_test(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    from agent.notify import Message, TransportError, senders

    notifier = next((n for n in config.notifiers if n.name == args.notifier), None)
    if notifier is None:
        names = ", ".join(n.name for n in config.notifiers) or "none configured"
        print(f"no notifier named {args.notifier!r} (notifiers: {names})", file=sys.stderr)
        return 2
    message = Message(
        alert="notify-test", status="test", at=time.time(), currency=config.cost.currency,
        title=f"Test message from outage-agent {__version__} to {notifier.name}",
        url=config.agent.external_url or None,
    )
    try:
        senders()[notifier.spec.type](notifier.spec, message, notifier.timeout)
    except TransportError as exc:
        print(redact(f"{notifier.name}: failed: {exc}", config.secrets), file=sys.stderr)
        return 1
    print(f"{notifier.name}: sent")
    return 0


def _record_action(args: argparse.Namespace, kind: str, until: float | None) -> int:
    """Write an ack or maintenance action to the ledger, where the daemon picks it up."""
    config = load_or_report(args.config)
    if config is None:
        return 2
    if args.system not in {s.name for s in config.systems}:
        print(f"no system named {args.system!r} in {args.config}", file=sys.stderr)
        return 2
    from agent.ledger import Action, Ledger, LedgerError

    ledger = Ledger.of(config.agent)
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    now = time.time()
    try:
        ledger.prepare()
        ledger.add_action(Action(kind, args.system, now, until, who, args.note or ""))
    except LedgerError as exc:
        print(f"cannot record it in the ledger: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    result = _record_action(args, "ack", None)
    if result == 0:
        print(f"{args.system}: acknowledged; reminders for the current incident stop")
    return result


def cmd_maintenance(args: argparse.Namespace) -> int:
    if args.end:
        result = _record_action(args, "maintenance_end", None)
        message = f"{args.system}: maintenance ended"
    else:
        from agent.config import parse_duration

        try:
            seconds = parse_duration(args.duration)
        except ValueError as exc:
            print(f"--for: {exc}", file=sys.stderr)
            return 2
        result = _record_action(args, "maintenance", time.time() + seconds)
        message = f"{args.system}: planned maintenance for {args.duration} from now"
    if result == 0:
        print(message)
    return result


def cmd_backup(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    from agent.ledger import Ledger, LedgerError

    ledger = Ledger.of(config.agent)
    try:
        ledger.backup(Path(args.destination))
    except LedgerError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"ledger {ledger.name} copied to {args.destination}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    if args.format == "csv" and args.what == "all":
        print("--what all needs --format json (CSV is one table: windows or audit)",
              file=sys.stderr)
        return 2
    from agent.export import export
    from agent.ledger import Ledger, LedgerError

    try:
        text = export(config, Ledger.of(config.agent), args.what, args.format, time.time())
    except LedgerError as exc:
        print(f"cannot read the ledger: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "info")
    from agent.demo.run import run_demo

    return asyncio.run(run_demo(listen=args.listen, ledger=args.ledger, duration=args.duration))


def cmd_dashboards(args: argparse.Namespace) -> int:
    from agent import dashboards

    try:
        written = dashboards.write(Path(args.output), args.currency)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


# --- reports and corrections to the record -----------------------------------------------------

REPORT_FORMATS = ("md", "html", "csv", "json")  # the keys of agent.report.RENDERERS


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def cmd_report(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    from zoneinfo import ZoneInfo

    from agent.ledger import LedgerError
    from agent.report import RENDERERS
    from agent.report.period import parse_moment
    from agent.report.source import ALL_SITES, NoSuchSite, read_report

    zone = ZoneInfo(config.cost.timezone)
    try:
        start = parse_moment(args.start, zone)
        end = parse_moment(args.end, zone)
    except ValueError as exc:
        print(f"--from/--to: {exc}", file=sys.stderr)
        return 2
    if end <= start:
        print("--to must be after --from (--to is exclusive)", file=sys.stderr)
        return 2
    try:
        report = read_report(config, start, end, time.time(), args.system,
                             ALL_SITES if args.all_sites else args.site,
                             what_if=args.basis == "current")
    except LedgerError as exc:
        print(f"cannot read the ledger: {exc}", file=sys.stderr)
        return 1
    except NoSuchSite as exc:
        print(f"--site: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"--system: {exc}", file=sys.stderr)
        return 2
    text = RENDERERS[args.format](report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"report written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    from agent.importer import ImportRefused, import_file
    from agent.ledger import LedgerError

    try:
        result = import_file(config, Path(args.file), _who(), time.time(), args.dry_run)
    except ImportRefused as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: refused; nothing was imported", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"cannot write the ledger: {exc}", file=sys.stderr)
        return 1
    for line in result.lines:
        print(line)
    print(f"{result.rows} rows: {result.stored} windows stored, {result.unchanged} already "
          f"recorded, {result.covered} wholly inside live-recorded windows"
          + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def _correct(args: argparse.Namespace, changes: dict[str, str | None]) -> int:
    """Apply corrections to one window, with the audit trail, and say what changed."""
    config = load_or_report(args.config)
    if config is None:
        return 2
    cause = changes.get("cause")
    if cause is not None and cause not in {s.name for s in config.systems}:
        print(f"--cause: no system named {cause!r} in {args.config}", file=sys.stderr)
        return 2
    from agent.ledger import Ledger, LedgerError

    ledger = Ledger.of(config.agent)
    try:
        ledger.prepare()
        window = ledger.window(args.window_id)
        if window is None:
            print(f"no window with id {args.window_id} in {ledger.name}", file=sys.stderr)
            return 2
        problem = cause is not None and _cause_problem(config, ledger, window, cause)
        if problem:
            print(f"--cause: {problem}", file=sys.stderr)
            return 2
        entries = ledger.annotate(args.window_id, changes, _who(), time.time())
    except LedgerError as exc:
        print(f"cannot change the ledger: {exc}", file=sys.stderr)
        return 1
    for entry in entries:
        recorded = window.record.cause if entry.field == "cause" else None
        note = f" (the agent recorded {recorded!r})" if recorded else ""
        print(f"window {args.window_id}: {entry.field}: {entry.before!r} -> {entry.after!r}"
              f"{note}")
    if not entries:
        print(f"window {args.window_id}: already so; nothing changed")
    return 0


def _cause_problem(config: Config, ledger: Ledger, window: StoredWindow, cause: str
                   ) -> str | None:
    """Why `cause` cannot be the corrected root cause of `window`, or None if it can: it must
    be one of the system's dependencies, down over the whole window."""
    from agent.importer import down_cover, not_a_dependency, uncovered
    from agent.report.build import window_span

    record = window.record
    if cause == record.system:
        return None  # its own root cause again
    systems = {s.name: s for s in config.systems}
    if record.system not in systems:
        return f"{record.system!r} is no longer configured, so its dependencies are unknown"
    problem = not_a_dependency(systems, record.system, cause)
    if problem:
        return problem
    span = window_span(window, time.time())
    found = ledger.windows(*span, system=cause, states=("down",))
    down = [(a, b) for a, b, _ in down_cover(found, time.time()).get(cause, [])]
    gap = uncovered(span, down, config.cost.timezone)
    return f"{cause!r} {gap}" if gap else None


def cmd_annotate(args: argparse.Namespace) -> int:
    given = {"note": args.note, "ticket": args.ticket, "cause": args.cause}
    changes = {name: value or None for name, value in given.items() if value is not None}
    if not changes:
        print("nothing to change: give --note, --ticket or --cause", file=sys.stderr)
        return 2
    return _correct(args, changes)


def cmd_void(args: argparse.Namespace) -> int:
    if not args.undo and not args.reason.strip():
        print("--reason: say why the window does not count", file=sys.stderr)
        return 2
    return _correct(args, {"voided": None if args.undo else args.reason.strip()})


def cmd_estimate(args: argparse.Namespace) -> int:
    from agent.report.estimate import Estimate, derivation, parse_outage

    try:
        outage = parse_outage(args.outage)
    except ValueError as exc:
        print(f"--outage: {exc}", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[A-Z]{3}", args.currency):
        print("--currency: a three-letter ISO 4217 code in capitals, e.g. GBP", file=sys.stderr)
        return 2
    if args.users < 0 or args.annual_cost < 0 or args.hours_per_year <= 0:
        print("--users and --annual-cost cannot be negative, and --hours-per-year must be "
              "positive", file=sys.stderr)
        return 2
    estimate = Estimate(args.users, args.annual_cost, args.hours_per_year, outage)
    for line in derivation(estimate, args.currency):
        print(line)
    return 0


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outage-agent",
        description="Probe systems, record downtime windows and export the cost of outages.",
    )
    parser.add_argument("--version", action="version", version=f"outage-agent {__version__}")
    parser.add_argument("--log-level", choices=LEVELS, help="default: agent.log_level or info")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the agent (the daemon)")
    run.add_argument("-c", "--config", required=True, help="YAML configuration file")
    run.add_argument("--listen", help="override agent.listen (host:port)")
    run.add_argument("--ledger", action=LedgerArgument,
                     help="override agent.ledger (a SQLite file or a PostgreSQL URL)")
    run.add_argument("--shard", type=shard_argument, metavar="K/N",
                     help="override agent.shard: probe the K-th of N shares of the systems")
    run.set_defaults(func=cmd_run)

    check = commands.add_parser("check", help="validate a configuration and summarise it")
    check.add_argument("-c", "--config", required=True)
    check.set_defaults(func=cmd_check)

    probe = commands.add_parser("probe", help="probe systems once now and print a table")
    probe.add_argument("-c", "--config", required=True)
    probe.add_argument("systems", nargs="*", metavar="SYSTEM", help="default: every system")
    probe.set_defaults(func=cmd_probe)

    test = commands.add_parser("notify-test", help="send a test message through a notifier")
    test.add_argument("-c", "--config", required=True)
    test.add_argument("notifier", help="a name from the config's notifiers")
    test.set_defaults(func=cmd_notify_test)

    ack = commands.add_parser("ack", help="acknowledge a system's incident: stop reminders")
    ack.add_argument("-c", "--config", required=True)
    ack.add_argument("system")
    ack.add_argument("--note", help="why, or who is on it")
    ack.set_defaults(func=cmd_ack)

    maint = commands.add_parser("maintenance", help="start (or --end) planned maintenance now")
    maint.add_argument("-c", "--config", required=True)
    maint.add_argument("system")
    span = maint.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="duration", help="how long, e.g. 2h or 30m")
    span.add_argument("--end", action="store_true", help="end the running maintenance now")
    maint.add_argument("--note", help="what is being done")
    maint.set_defaults(func=cmd_maintenance)

    backup = commands.add_parser("backup", help="copy the ledger, consistently, while the "
                                 "daemon runs")
    backup.add_argument("-c", "--config", required=True)
    backup.add_argument("destination", help="a new file (never overwritten)")
    backup.set_defaults(func=cmd_backup)

    exp = commands.add_parser("export", help="write every window and the audit trail as "
                              "CSV or JSON")
    exp.add_argument("-c", "--config", required=True)
    exp.add_argument("--what", choices=("windows", "audit", "all"), default="windows")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("-o", "--output", help="write here instead of to standard output")
    exp.set_defaults(func=cmd_export)

    demo = commands.add_parser("demo", help="run the agent on a simulated estate on loopback")
    demo.add_argument("--listen", default="127.0.0.1:9321", help="agent address")
    demo.add_argument("--ledger", help="keep the demo ledger in this file (default: temporary)")
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    demo.set_defaults(func=cmd_demo)

    boards = commands.add_parser("dashboards", help="write the Grafana dashboards for a currency")
    boards.add_argument("--currency", default="GBP", help="ISO 4217 code (default: GBP)")
    boards.add_argument("-o", "--output", default="grafana/dashboards",
                        help="directory to write into (default: grafana/dashboards)")
    boards.set_defaults(func=cmd_dashboards)

    report = commands.add_parser("report", help="what outages cost over a period, per system")
    report.add_argument("-c", "--config", required=True)
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
    report.add_argument("--format", choices=REPORT_FORMATS, default="md",
                        help="md (default), html, csv (one row per window) or json")
    report.add_argument("--basis", choices=("recorded", "current"), default="recorded",
                        help="cost each moment with the cost basis in force then (recorded, "
                             "the default) or, as a what-if, with today's configuration")
    report.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    report.set_defaults(func=cmd_report)

    imports = commands.add_parser("import", help="import downtime windows from a CSV file")
    imports.add_argument("-c", "--config", required=True)
    imports.add_argument("file", metavar="WINDOWS.csv",
                         help="columns system,start,end[,state,cause,impact,note,ticket]")
    imports.add_argument("--dry-run", action="store_true", help="say what would change, "
                         "write nothing")
    imports.set_defaults(func=cmd_import)

    annotate = commands.add_parser("annotate", help="add a note, a ticket or the root cause "
                                   "to a recorded window (kept in the audit trail)")
    annotate.add_argument("-c", "--config", required=True)
    annotate.add_argument("window_id", type=int, metavar="WINDOW_ID")
    annotate.add_argument("--note", help="free text ('' clears it)")
    annotate.add_argument("--ticket", help="a service desk reference ('' clears it)")
    annotate.add_argument("--cause", metavar="SYSTEM",
                          help="the root cause: the system it was down behind (the window's "
                          "own system, or '', makes it its own root cause again)")
    annotate.set_defaults(func=cmd_annotate)

    void = commands.add_parser("void", help="mark a window as not counting (a false "
                               "positive), without deleting it")
    void.add_argument("-c", "--config", required=True)
    void.add_argument("window_id", type=int, metavar="WINDOW_ID")
    why = void.add_mutually_exclusive_group(required=True)
    why.add_argument("--reason", help="why it does not count, e.g. 'probe misconfigured'")
    why.add_argument("--undo", action="store_true", help="make a voided window count again")
    void.set_defaults(func=cmd_void)

    estimate = commands.add_parser("estimate", help="the cost of an outage, worked out by hand")
    estimate.add_argument("--users", type=float, required=True, help="people who cannot work")
    estimate.add_argument("--annual-cost", type=float, required=True,
                          help="yearly cost of one person, on-costs included")
    estimate.add_argument("--hours-per-year", type=float, default=1924.0,
                          help="working hours in a year (default 1924: 37 h x 52 weeks)")
    estimate.add_argument("--outage", required=True, help="how long, e.g. 21.55h or 21h33m")
    estimate.add_argument("--currency", default="GBP", help="ISO 4217 code (default GBP)")
    estimate.set_defaults(func=cmd_estimate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130

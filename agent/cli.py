"""Command line: `outage-agent run | check | probe | demo`.

Exit codes: 0 success, 1 a probe or runtime failure, 2 a configuration or usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agent import __version__, systemd
from agent.config import ConfigError, load_config, summary
from agent.model import Config, ProbeResult

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
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run at INFO
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


def with_overrides(config: Config, listen: str | None, ledger: str | None) -> Config:
    agent = config.agent
    if listen:
        agent = dataclasses.replace(agent, listen=listen)
    if ledger:
        agent = dataclasses.replace(agent, ledger=Path(ledger).resolve())
    return dataclasses.replace(config, agent=agent)


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
    config = with_overrides(config, args.listen, args.ledger)
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
    print(probe_table([s.name for s in chosen], results))
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
        print(f"{notifier.name}: failed: {exc}", file=sys.stderr)
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

    ledger = Ledger(config.agent.ledger, config.agent.site)
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
    run.add_argument("--ledger", help="override agent.ledger (SQLite file)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130

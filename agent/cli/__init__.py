"""Command line: `outage-agent COMMAND`, one module per group of commands.

- init.py: init (a starter configuration)
- run.py: run (the daemon), probe, demo
- check.py: check (the config, its systems, and what run will need)
- actions.py: notify-test, ack, maintenance (actions the running daemon picks up)
- records.py: backup, export, import
- inventory.py: import-systems (an inventory CSV to the systems: list)
- report.py: report
- corrections.py: annotate, void
- tools.py: dashboards, estimate (no config needed)
- ping.py: ping (a heartbeat system's job reporting in)
- common.py: the parent parsers for -c/--config and the ledger, loading the config or
  exiting 2, and what the commands share

Exit codes: 0 success, 1 a probe or runtime failure, 2 a configuration or usage error; 130
interrupted (Ctrl-C), 141 standard output closed early (`| head`), as a shell reports them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from agent import __version__
from agent.cli import (
    actions,
    check,
    corrections,
    init,
    inventory,
    ping,
    records,
    report,
    run,
    tools,
)
from agent.cli.common import (
    LEVELS,
    CommandFailed,
    Commands,
    LedgerArgument,
    load_or_exit,
    load_or_report,
    setup_logging,
)
from agent.cli.report import REPORT_FORMATS
from agent.cli.run import probe_table, shard_argument, with_overrides

__all__ = [
    "LEVELS", "REPORT_FORMATS", "LedgerArgument", "build_parser", "load_or_exit",
    "load_or_report", "main", "probe_table", "setup_logging", "shard_argument",
    "with_overrides",
]

# Each adds one command's parser, in the order --help lists them.
COMMANDS: tuple[Callable[[Commands], None], ...] = (
    init.add_init, run.add_run, check.add_check, run.add_probe, actions.add_notify_test,
    actions.add_ack, actions.add_maintenance, records.add_backup, records.add_export, run.add_demo,
    tools.add_dashboards, report.add_report, records.add_import,
    inventory.add_import_systems, corrections.add_annotate,
    corrections.add_void, tools.add_estimate, ping.add_ping,
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each command's options live beside the command."""
    parser = argparse.ArgumentParser(
        prog="outage-agent",
        description="Probe systems, record downtime windows and export the cost of outages.",
        epilog="Exit codes: 0 success; 1 a probe or runtime failure, or nothing done; 2 a "
        "configuration or usage error; 141 standard output closed early (`| head`). "
        "`outage-agent COMMAND --help` gives each command's.",
    )
    parser.add_argument("--version", action="version", version=f"outage-agent {__version__}")
    parser.add_argument("--log-level", choices=LEVELS, help="default: agent.log_level or info")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (argparse itself exits 2 on a usage error)."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
    except CommandFailed as exc:
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    return code


def _reader_gone() -> int:
    """Standard output's reader has gone (`check | head -1`): it has what it wanted, so stop
    quietly, as a tool killed by SIGPIPE does (exit 141), with what is still buffered sent to
    /dev/null so that Python's own flush at exit cannot fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141

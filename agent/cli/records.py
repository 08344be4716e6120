"""The record in and out of the ledger: `backup`, `export` and `import`."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.cli.common import Commands, fail, ledger_parent, load_or_exit, who, write_output


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the ledger consistently, while the daemon may be writing it."""
    config = load_or_exit(args.config)
    from agent.ledger import Ledger, LedgerError

    ledger = Ledger.of(config.agent)
    try:
        ledger.backup(Path(args.destination))
    except LedgerError as exc:
        return fail(f"backup failed: {exc}", code=1)
    print(f"ledger {ledger.name} copied to {args.destination}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write every window, the audit trail or both, as CSV or JSON."""
    config = load_or_exit(args.config)
    if args.format == "csv" and args.what == "all":
        return fail("--what all needs --format json (CSV is one table: windows or audit)")
    from agent.export import export
    from agent.ledger import Ledger, LedgerError

    try:
        text = export(config, Ledger.of(config.agent), args.what, args.format, time.time())
    except LedgerError as exc:
        return fail(f"cannot read the ledger: {exc}", code=1)
    write_output(text, args.output)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import downtime windows from a CSV file: all of it, or (2) nothing and every problem."""
    config = load_or_exit(args.config)
    from agent.importer import ImportRefused, import_file
    from agent.ledger import LedgerError

    try:
        result = import_file(config, Path(args.file), who(), time.time(), args.dry_run)
    except ImportRefused as exc:
        return fail(*exc.problems, f"{args.file}: refused; nothing was imported")
    except LedgerError as exc:
        return fail(f"cannot write the ledger: {exc}", code=1)
    for line in result.lines:
        print(line)
    print(f"{result.rows} rows: {result.stored} windows stored, {result.unchanged} already "
          f"recorded, {result.covered} wholly inside live-recorded windows"
          + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def add_backup(commands: Commands) -> None:
    backup = commands.add_parser("backup", parents=[ledger_parent()],
                                 help="copy the ledger, consistently, while the daemon runs")
    backup.add_argument("destination", help="a new file (never overwritten)")
    backup.set_defaults(func=cmd_backup)


def add_export(commands: Commands) -> None:
    exp = commands.add_parser("export", parents=[ledger_parent()],
                              help="write every window and the audit trail as CSV or JSON")
    exp.add_argument("--what", choices=("windows", "audit", "all"), default="windows")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("-o", "--output", help="write here instead of to standard output")
    exp.set_defaults(func=cmd_export)


def add_import(commands: Commands) -> None:
    imports = commands.add_parser("import", parents=[ledger_parent()],
                                  help="import downtime windows from a CSV file")
    imports.add_argument("file", metavar="WINDOWS.csv",
                         help="columns system,start,end[,state,cause,impact,note,ticket]")
    imports.add_argument("--dry-run", action="store_true",
                         help="say what would change, write nothing")
    imports.set_defaults(func=cmd_import)

"""The record in and out of the ledger: `backup`, `export` and `import`."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.cli.common import (
    Commands,
    existing_ledger,
    fail,
    ledger_parent,
    load_with_ledger,
    who,
)
from agent.cli.newfile import format_of, refuse_unwritable, write_output
from agent.text import plural

EXPORT_FORMATS = ("csv", "json")


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the ledger consistently, while the daemon may be writing it."""
    ledger = existing_ledger(load_with_ledger(args))
    from agent.ledger import LedgerError

    try:
        ledger.backup(Path(args.destination))
    except LedgerError as exc:
        return fail(f"backup failed: {exc}", code=1)
    print(f"ledger {ledger.name} copied to {args.destination}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write every window, the audit trail or both, as CSV or JSON (by default, as -o's
    extension says); never over an existing file without --force."""
    fmt = args.format or format_of(args.output, EXPORT_FORMATS, "csv")
    if fmt == "csv" and args.what == "all":
        return fail("--what all needs --format json (CSV is one table: windows or audit)")
    refuse_unwritable(args.output, args.force)
    config = load_with_ledger(args)
    ledger = existing_ledger(config)
    from agent.export import export
    from agent.ledger import LedgerError

    try:
        text = export(config, ledger, args.what, fmt, time.time())
    except LedgerError as exc:
        return fail(f"cannot read the ledger: {exc}", code=1)
    write_output(text, args.output, args.force)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import downtime windows from a CSV file: all of it, or (2) nothing and every problem."""
    config = load_with_ledger(args)
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
    print(f"{plural(result.rows, 'row')}: {plural(result.stored, 'window')} stored, "
          f"{result.unchanged} already recorded, {result.covered} wholly inside live-recorded "
          "windows" + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def add_backup(commands: Commands) -> None:
    backup = commands.add_parser(
        "backup", parents=[ledger_parent()],
        help="copy the ledger, consistently, while the daemon runs",
        description="Copy a SQLite ledger with SQLite's online backup API, while the agent "
        "writes it. Exit codes: 0 copied; 1 no ledger, DEST exists, or the copy failed; 2 "
        "usage or invalid config.")
    backup.add_argument("destination", help="a new file (never overwritten)")
    backup.set_defaults(func=cmd_backup)


def add_export(commands: Commands) -> None:
    exp = commands.add_parser(
        "export", parents=[ledger_parent()],
        help="write every window and the audit trail as CSV or JSON",
        description="Write every window, the audit trail, or both, as CSV or JSON. Exit codes: "
        "0 written; 1 no ledger, or it or -o's file cannot be read or written; 2 usage, an "
        "existing -o file without --force (or one that is not a regular file), or invalid "
        "config.")
    exp.add_argument("--what", choices=("windows", "audit", "all"), default="windows")
    exp.add_argument("--format", choices=EXPORT_FORMATS,
                     help="default: as -o's extension says (.json or .csv), else csv")
    exp.add_argument("-o", "--output", metavar="FILE",
                     help="write here instead of to standard output")
    exp.add_argument("--force", action="store_true", help="replace -o's file if it exists")
    exp.set_defaults(func=cmd_export)


def add_import(commands: Commands) -> None:
    imports = commands.add_parser(
        "import", parents=[ledger_parent()], help="import downtime windows from a CSV file",
        description="Import downtime windows (a service desk's, say) into the ledger, in one "
        "transaction; importing the same file again changes nothing. Exit codes: 0 imported; "
        "1 the ledger cannot be written; 2 the file is refused (nothing written), usage, or "
        "invalid config.")
    imports.add_argument("file", metavar="WINDOWS.csv",
                         help="columns system,start,end[,state,cause,impact,note,ticket]")
    imports.add_argument("--dry-run", action="store_true",
                         help="say what would change, write nothing")
    imports.set_defaults(func=cmd_import)

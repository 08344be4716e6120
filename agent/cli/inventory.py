"""`outage-agent import-systems`: an inventory CSV becomes the `systems:` YAML list."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.cli.common import Commands, fail
from agent.cli.newfile import write_new_file

EXIT_CODES = ("exit codes: 0 converted; 1 the output could not be written; 2 refused, nothing "
              "written: a problem in the file (each shown as file:line:column), or -o exists "
              "(without --force) or is not a regular file")


def cmd_import_systems(args: argparse.Namespace) -> int:
    """Convert the inventory, print or write it; on any problem, list them all, write none."""
    from agent.inventory import InventoryRefused, systems_yaml

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a BOM
    except UnicodeDecodeError as exc:
        return fail(f"{args.file}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        return fail(f"{args.file}: {exc.strerror or exc}")
    try:
        systems = systems_yaml(text, path.name)
    except InventoryRefused as exc:
        return fail(*exc.problems, f"{args.file}: refused; nothing was written")
    document = (f"# From {path.name} by `outage-agent import-systems`: put this in place of "
                "the config's systems: list.\n" + systems)
    if args.output is None:
        sys.stdout.write(document)
        return 0
    return write_new_file(args.output, document, args.force)


def add_import_systems(commands: Commands) -> None:
    parser = commands.add_parser(
        "import-systems", help="turn an inventory CSV into the systems: list",
        epilog=EXIT_CODES,
        description="Convert a CMDB or spreadsheet export with the columns name,type,target "
                    "and optionally users_share,impact,depends_on,owner,supplier,tier into the "
                    "config's systems: list. target is the probe's url, host:port, DNS name, "
                    "host or command line, by type; depends_on names are separated by ';' or "
                    "spaces. The systems are checked by the config loader, as `check` would.")
    parser.add_argument("file", metavar="INVENTORY.csv")
    parser.add_argument("-o", "--output", help="write the YAML to this file (default: print it)")
    parser.add_argument("--force", action="store_true", help="overwrite -o if it exists")
    parser.set_defaults(func=cmd_import_systems)

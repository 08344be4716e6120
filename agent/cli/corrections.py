"""Correcting the record: `annotate` and `void`, each change kept in the audit trail."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from agent.cli.common import (
    Commands,
    abort,
    existing_ledger,
    fail,
    ledger_parent,
    load_with_ledger,
    who,
)
from agent.config.values import did_you_mean
from agent.model import Config

if TYPE_CHECKING:
    from agent.ledger import Ledger, StoredWindow
    from agent.records import AuditEntry


def cmd_annotate(args: argparse.Namespace) -> int:
    """Set a window's note, ticket or root cause; '' clears one."""
    given = {"note": args.note, "ticket": args.ticket, "cause": args.cause}
    changes = {name: value or None for name, value in given.items() if value is not None}
    if not changes:
        return fail("nothing to change: give --note, --ticket or --cause")
    return _correct(args, changes)


def cmd_void(args: argparse.Namespace) -> int:
    """Mark a window as not counting, with the reason, or (--undo) make it count again."""
    if not args.undo and not args.reason.strip():
        return fail("--reason: say why the window does not count")
    return _correct(args, {"voided": None if args.undo else args.reason.strip()})


def _correct(args: argparse.Namespace, changes: dict[str, str | None]) -> int:
    """Apply corrections to one window, with the audit trail, and say what changed."""
    config = load_with_ledger(args)
    cause = changes.get("cause")
    names = [s.name for s in config.systems]
    if cause is not None and cause not in names:
        return fail(f"--cause: no system named {cause!r} in {args.config}"
                    f"{did_you_mean(cause, names)}")
    from agent.ledger import LedgerError

    ledger = existing_ledger(config)
    try:
        window, entries = _annotate(config, ledger, args.window_id, changes)
    except LedgerError as exc:
        return fail(f"cannot change the ledger: {exc}", code=1)
    for entry in entries:
        recorded = window.record.cause if entry.field == "cause" else None
        note = f" (the agent recorded {recorded!r})" if recorded else ""
        print(f"window {args.window_id}: {entry.field}: {entry.before!r} -> {entry.after!r}"
              f"{note}")
    if not entries:
        print(f"window {args.window_id}: already so; nothing changed")
    return 0


def _annotate(config: Config, ledger: Ledger, window_id: int, changes: dict[str, str | None]
              ) -> tuple[StoredWindow, list[AuditEntry]]:
    """Given the changes to a window, return the window as it was and the audit rows written;
    end the command (exit 2) if there is no such window or the cause cannot be its cause."""
    ledger.prepare()
    window = ledger.window(window_id)
    if window is None:
        abort(f"no window with id {window_id} in {ledger.name}")
    cause = changes.get("cause")
    problem = cause is not None and _cause_problem(config, ledger, window, cause)
    if problem:
        abort(f"--cause: {problem}")
    return window, ledger.annotate(window_id, changes, who(), time.time())


def _cause_problem(config: Config, ledger: Ledger, window: StoredWindow, cause: str
                   ) -> str | None:
    """Why `cause` cannot be the corrected root cause of `window`, or None if it can: it must
    be one of the system's dependencies, down over the whole window."""
    from agent.importer.causes import down_cover, not_a_dependency, uncovered
    from agent.report.windows import window_span

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


def add_annotate(commands: Commands) -> None:
    annotate = commands.add_parser(
        "annotate", parents=[ledger_parent()],
        help="add a note, a ticket or the root cause to a recorded window (kept in the audit "
        "trail)",
        description="Add a note, a ticket or the corrected root cause to a window, in the "
        "audit trail. Exit codes: 0 done (or already so); 1 no ledger, or it cannot be "
        "written; 2 no such window or system, a cause that cannot be, usage, or invalid "
        "config.")
    annotate.add_argument("window_id", type=int, metavar="WINDOW_ID")
    annotate.add_argument("--note", help="free text ('' clears it)")
    annotate.add_argument("--ticket", help="a service desk reference ('' clears it)")
    annotate.add_argument("--cause", metavar="SYSTEM",
                          help="the root cause: the system it was down behind; the window's "
                          "own system makes it its own root cause; '' removes a correction, "
                          "back to the cause the agent recorded")
    annotate.set_defaults(func=cmd_annotate)


def add_void(commands: Commands) -> None:
    void = commands.add_parser(
        "void", parents=[ledger_parent()],
        help="mark a window as not counting (a false positive), without deleting it",
        description="Mark a window as not counting (a false positive), or --undo that, in "
        "the audit trail. Exit codes: 0 done (or already so); 1 no ledger, or it cannot be "
        "written; 2 no such window, usage, or invalid config.")
    void.add_argument("window_id", type=int, metavar="WINDOW_ID")
    why = void.add_mutually_exclusive_group(required=True)
    why.add_argument("--reason", help="why it does not count, e.g. 'probe misconfigured'")
    why.add_argument("--undo", action="store_true", help="make a voided window count again")
    void.set_defaults(func=cmd_void)

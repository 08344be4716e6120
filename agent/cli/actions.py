"""Acting on the running agent: `notify-test`, `ack` and `maintenance`.

ack and maintenance write an action to the ledger, where the daemon picks it up.
"""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from agent import __version__
from agent.cli.common import (
    Commands,
    config_parent,
    existing_ledger,
    fail,
    ledger_parent,
    load_or_exit,
    load_with_ledger,
    who,
)
from agent.model import Config
from agent.text import redact

if TYPE_CHECKING:
    from agent.ledger import Action, Ledger
    from agent.notify import Message
    from agent.records import AlertState


def cmd_notify_test(args: argparse.Namespace) -> int:
    """Send a test message through one notifier: 1 if it failed, 2 if there is no such one."""
    config = load_or_exit(args.config)
    from agent.notify import TransportError, senders

    notifier = next((n for n in config.notifiers if n.name == args.notifier), None)
    if notifier is None:
        names = ", ".join(n.name for n in config.notifiers) or "none configured"
        return fail(f"no notifier named {args.notifier!r} (notifiers: {names})")
    message = _test_message(config, notifier.name)
    try:
        senders()[notifier.spec.type](notifier.spec, message, notifier.timeout)
    except TransportError as exc:
        return fail(redact(f"{notifier.name}: failed: {exc}", config.secrets), code=1)
    print(f"{notifier.name}: sent")
    return 0


def _test_message(config: Config, notifier: str) -> Message:
    from agent.notify import Message

    return Message(
        alert="notify-test", status="test", at=time.time(), currency=config.cost.currency,
        title=f"Test message from outage-agent {__version__} to {notifier}",
        url=config.agent.external_url or None,
    )


def cmd_ack(args: argparse.Namespace) -> int:
    """Acknowledge the system's current incident, so its reminders stop. With no alert
    firing about it, say so, record nothing and exit 1: an ack is for an incident, not made
    in advance."""
    return _record_action(args, "ack", None,
                          f"{args.system}: acknowledged; reminders for the current incident stop")


def _nothing_to_ack(states: list[AlertState], system: str, rules: int) -> str | None:
    """Why an ack of `system` would do nothing, given the ledger's alert states and how many
    alert rules the config has; or None."""
    if not rules:
        return (f"{system}: no alert rules are configured (alerts:), so there is nothing to "
                "acknowledge")
    firing = [s for s in states if s.system == system and s.fired_at is not None]
    if not firing:
        return f"{system}: no alert is firing about it; nothing to acknowledge"
    if all(s.acked for s in firing):
        return f"{system}: already acknowledged ({', '.join(sorted({s.rule for s in firing}))})"
    return None


def cmd_maintenance(args: argparse.Namespace) -> int:
    """Start planned maintenance for --for from now (more than 0, at most 366d, as any
    duration in the config), or --end the running one. With none running or planned to
    --end, say so, record nothing and exit 1."""
    if args.end:
        return _record_action(args, "maintenance_end", None,
                              f"{args.system}: maintenance ended")
    from agent.config import format_duration, parse_duration
    from agent.config.values import MAX_DURATION

    try:
        seconds = parse_duration(args.duration)
    except ValueError as exc:
        return fail(f"--for: {exc}")
    if not 0 < seconds <= MAX_DURATION:
        return fail(f"--for: {args.duration} is not a length of maintenance: it must be more "
                    f"than 0 and at most {format_duration(MAX_DURATION)}")
    return _record_action(args, "maintenance", time.time() + seconds,
                          f"{args.system}: planned maintenance for {args.duration} from now")


def _running_note(actions: list[Action], action: Action) -> str:
    """What a new maintenance period does to the one of the same system already running
    (given the ledger's actions in order), as the engine's PlannedWork does it: both stand,
    so the system stays in maintenance until the later end. "" if none is running."""
    from agent.report.source import adhoc_maintenance
    from agent.text import iso

    ends = [b for a, b in adhoc_maintenance(actions).get(action.system, [])
            if a <= action.at < b]
    if not ends or action.until is None:
        return ""
    return (f"; the maintenance already running (until {iso(max(ends))}) is not cut short, "
            f"so it lasts until {iso(max(*ends, action.until))} (--end ends both)")


def _nothing_to_do(ledger: Ledger, action: Action, config: Config) -> str | None:
    """Why recording `action` would change nothing, or None: an ack with no alert rules
    configured or none firing about the system, an end with no maintenance of it running or
    planned."""
    if action.kind == "ack":
        return _nothing_to_ack(ledger.alert_states(), action.system, len(config.alerts))
    if action.kind == "maintenance_end":
        return _nothing_to_end(ledger.actions_since(0), action.system, action.at)
    return None


def _nothing_to_end(actions: list[Action], system: str, now: float) -> str | None:
    """Why ending `system`'s maintenance now would do nothing, given the ledger's actions
    in order; or None. --end ends what `maintenance` started, not the configured calendar."""
    from agent.report.source import adhoc_maintenance

    if any(end > now for _, end in adhoc_maintenance(actions).get(system, [])):
        return None
    return (f"{system}: no maintenance started with `outage-agent maintenance` is running or "
            "planned; nothing to end")


def _record_action(args: argparse.Namespace, kind: str, until: float | None, done: str) -> int:
    """Write an ack or maintenance action to the ledger, where the daemon picks it up, and
    print `done` once it is there."""
    config = load_with_ledger(args)
    if args.system not in {s.name for s in config.systems}:
        return fail(f"no system named {args.system!r} in {args.config}")
    from agent.ledger import Action, LedgerError

    ledger = existing_ledger(config)
    action = Action(kind, args.system, time.time(), until, who(), args.note or "")
    try:
        ledger.prepare()
        if nothing := _nothing_to_do(ledger, action, config):
            return fail(nothing, code=1)
        if kind == "maintenance":
            done += _running_note(ledger.actions_since(0), action)
        ledger.add_action(action)
    except LedgerError as exc:
        return fail(f"cannot record it in the ledger: {exc}", code=1)
    print(done)
    return 0


def add_notify_test(commands: Commands) -> None:
    test = commands.add_parser("notify-test", parents=[config_parent()],
                               help="send a test message through a notifier",
                               epilog="Exit codes: 0 sent; 1 delivery failed; 2 unknown "
                               "notifier, invalid config, or usage.")
    test.add_argument("notifier", help="a name from the config's notifiers")
    test.set_defaults(func=cmd_notify_test)


def add_ack(commands: Commands) -> None:
    ack = commands.add_parser(
        "ack", parents=[ledger_parent()], help="acknowledge a system's incident: stop reminders",
        description="Acknowledge the incident an alert is firing about, so its reminders stop; "
        "the running agent picks it up. Exit codes: 0 recorded; 1 no ledger, no alert rules "
        "configured, no alert firing about it, or already acknowledged (nothing recorded); "
        "2 usage or invalid config.")
    ack.add_argument("system")
    ack.add_argument("--note", help="why, or who is on it")
    ack.set_defaults(func=cmd_ack)


def add_maintenance(commands: Commands) -> None:
    maint = commands.add_parser(
        "maintenance", parents=[ledger_parent()],
        help="start (or --end) planned maintenance now",
        description="Start planned maintenance of a system now, for --for, or --end what "
        "`maintenance` started; the running agent picks it up. Exit codes: 0 recorded; 1 no "
        "ledger, or --end with no such maintenance running or planned (nothing recorded); 2 "
        "usage or invalid config.")
    maint.add_argument("system")
    span = maint.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="duration",
                      help="how long, e.g. 2h or 30m: more than 0, at most 366d; while one is "
                      "running, both stand and it lasts until the later end")
    span.add_argument("--end", action="store_true",
                      help="end the running maintenance now, and cancel any planned; exit 1 "
                      "if there is none")
    maint.add_argument("--note", help="what is being done")
    maint.set_defaults(func=cmd_maintenance)

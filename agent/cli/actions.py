"""Acting on the running agent: `notify-test`, `ack` and `maintenance`.

ack and maintenance write an action to the ledger, where the daemon picks it up.
"""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from agent import __version__
from agent.cli.common import Commands, config_parent, fail, ledger_parent, load_or_exit, who
from agent.model import Config
from agent.text import redact

if TYPE_CHECKING:
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


def _nothing_to_ack(states: list[AlertState], system: str) -> str | None:
    """Why an ack of `system` would do nothing, given the ledger's alert states; or None."""
    firing = [s for s in states if s.system == system and s.fired_at is not None]
    if not firing:
        return f"{system}: no alert is firing about it; nothing to acknowledge"
    if all(s.acked for s in firing):
        return f"{system}: already acknowledged ({', '.join(sorted({s.rule for s in firing}))})"
    return None


def cmd_maintenance(args: argparse.Namespace) -> int:
    """Start planned maintenance for --for from now, or --end the running one."""
    if args.end:
        return _record_action(args, "maintenance_end", None,
                              f"{args.system}: maintenance ended")
    from agent.config import parse_duration

    try:
        seconds = parse_duration(args.duration)
    except ValueError as exc:
        return fail(f"--for: {exc}")
    return _record_action(args, "maintenance", time.time() + seconds,
                          f"{args.system}: planned maintenance for {args.duration} from now")


def _record_action(args: argparse.Namespace, kind: str, until: float | None, done: str) -> int:
    """Write an ack or maintenance action to the ledger, where the daemon picks it up, and
    print `done` once it is there."""
    config = load_or_exit(args.config)
    if args.system not in {s.name for s in config.systems}:
        return fail(f"no system named {args.system!r} in {args.config}")
    from agent.ledger import Action, Ledger, LedgerError

    ledger = Ledger.of(config.agent)
    action = Action(kind, args.system, time.time(), until, who(), args.note or "")
    try:
        ledger.prepare()
        if kind == "ack" and (nothing := _nothing_to_ack(ledger.alert_states(), args.system)):
            return fail(nothing, code=1)
        ledger.add_action(action)
    except LedgerError as exc:
        return fail(f"cannot record it in the ledger: {exc}", code=1)
    print(done)
    return 0


def add_notify_test(commands: Commands) -> None:
    test = commands.add_parser("notify-test", parents=[config_parent()],
                               help="send a test message through a notifier")
    test.add_argument("notifier", help="a name from the config's notifiers")
    test.set_defaults(func=cmd_notify_test)


def add_ack(commands: Commands) -> None:
    ack = commands.add_parser("ack", parents=[ledger_parent()],
                              help="acknowledge a system's incident: stop reminders")
    ack.add_argument("system")
    ack.add_argument("--note", help="why, or who is on it")
    ack.set_defaults(func=cmd_ack)


def add_maintenance(commands: Commands) -> None:
    maint = commands.add_parser("maintenance", parents=[ledger_parent()],
                                help="start (or --end) planned maintenance now")
    maint.add_argument("system")
    span = maint.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="duration", help="how long, e.g. 2h or 30m")
    span.add_argument("--end", action="store_true", help="end the running maintenance now")
    maint.add_argument("--note", help="what is being done")
    maint.set_defaults(func=cmd_maintenance)

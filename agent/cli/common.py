"""What the commands share: the parent parsers, loading the config or exiting 2, and failing.

A command is a function of the parsed arguments that returns its exit code: 0 success, 1 a
probe or runtime failure, 2 a configuration or usage error.
"""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import dataclasses
import getpass
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from agent import systemd
from agent.config import ConfigError, load_config
from agent.model import Config
from agent.scheduling import quiet_library_logging

if TYPE_CHECKING:
    from agent.ledger import Ledger

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

LEVELS = ("debug", "info", "warning", "error")


class CommandFailed(Exception):
    """Ends a command from deep inside it, once what went wrong is printed: main() returns
    `code` as the exit code, so a test calling main() gets the code, not a SystemExit."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fail(*lines: object, code: int = 2) -> int:
    """Print why a command cannot go on, a line each to stderr, and return its exit code."""
    priority = "<3>" if systemd.stderr_is_journal() else ""  # so `journalctl -p err` shows it
    for line in lines:
        print(f"{priority}{line}", file=sys.stderr)
    return code


def abort(*lines: object, code: int = 2) -> NoReturn:
    """As fail(), for a helper that must end the whole command, not return to it."""
    raise CommandFailed(fail(*lines, code=code))


def load_or_report(path: str) -> Config | None:
    """Load a config, or print every problem (one per line) and return None.

    systemd credentials (LoadCredential=) count as environment variables for ${VAR}.
    """
    try:
        return load_config(path, env=systemd.credentials_env())
    except ConfigError as exc:
        fail(*exc.problems)
        return None


def load_or_exit(path: str) -> Config:
    """Given -c's path, return the config; if it is invalid, print every problem and end the
    command with exit 2, as every command that reads a config does."""
    config = load_or_report(path)
    if config is None:
        raise CommandFailed(2)
    return config


def config_parent() -> argparse.ArgumentParser:
    """-c/--config, defined once for every command that reads the configuration."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-c", "--config", required=True, help="YAML configuration file")
    return parent


def ledger_parent() -> argparse.ArgumentParser:
    """The parent of every command that reads or writes the ledger: -c/--config and --ledger
    (read with `load_with_ledger`)."""
    parent = config_parent()
    parent.add_argument("--ledger", action=LedgerArgument, metavar="PATH|URL",
                        help="override agent.ledger (a SQLite file or a PostgreSQL URL)")
    return parent


class CheckedArgument(argparse.Action):
    """An option checked as the configuration checks the key it overrides: a bad value is a
    usage error (exit 2) in one line naming the option, never a traceback at first use."""

    @staticmethod
    def problem(text: str) -> str | None:
        raise NotImplementedError

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        error = self.problem(str(values))
        if error is not None:
            parser.exit(2, f"{parser.prog}: {option_string}: {error}\n")
        setattr(namespace, self.dest, values)


class LedgerArgument(CheckedArgument):
    """--ledger, as agent.ledger. The message never quotes the location: a database URL may
    hold a password."""

    @staticmethod
    def problem(text: str) -> str | None:
        from agent.config.agent import ledger_error

        return ledger_error(text)


class ListenArgument(CheckedArgument):
    """--listen, as agent.listen: a bare port is refused, not taken for every interface."""

    @staticmethod
    def problem(text: str) -> str | None:
        from agent.config.agent import listen_error

        return listen_error(text)


def load_with_ledger(args: argparse.Namespace) -> Config:
    """Given a ledger command's arguments, return its config (exit 2 if it is invalid) with
    --ledger, if given, in place of agent.ledger."""
    return with_ledger(load_or_exit(args.config), args.ledger)


def with_ledger(config: Config, ledger: str | None) -> Config:
    """The config with `ledger` (None: unchanged) as agent.ledger. A relative path is
    relative to where the user typed it, not to the config's folder."""
    if not ledger:
        return config
    from agent.config.agent import resolve_ledger

    agent = dataclasses.replace(config.agent, ledger=resolve_ledger(ledger, Path.cwd(), None))
    return dataclasses.replace(config, agent=agent)


def existing_ledger(config: Config) -> Ledger:
    """The ledger the config names, for a command that reads or corrects what an agent
    recorded; end the command (exit 1) if there is none there, rather than create an empty
    one and report on it as if nothing had happened."""
    from agent.ledger import Ledger, LedgerError

    ledger = Ledger.of(config.agent)
    try:
        found = ledger.exists()
    except LedgerError as exc:
        abort(f"cannot read the ledger: {exc}", code=1)
    if not found:
        abort(f"no ledger at {ledger.name}: has the agent run with this configuration? "
              "(agent.ledger, or --ledger, says where it is)", code=1)
    return ledger


def who() -> str:
    """user@host: who the ledger records as making an action or a correction."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


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
    quiet_library_logging()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

"""What the commands share: the parent parsers, loading the config or exiting 2, and failing.

A command is a function of the parsed arguments that returns its exit code: 0 success, 1 a
probe or runtime failure, 2 a configuration or usage error.
"""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import getpass
import logging
import socket
import sys
from pathlib import Path
from typing import NoReturn, TypeAlias

from agent import systemd
from agent.config import ConfigError, load_config
from agent.model import Config
from agent.scheduling import quiet_library_logging

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
    for line in lines:
        print(line, file=sys.stderr)
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
    """The parent of every command that reads or writes the ledger: -c/--config.

    Only `run` takes --ledger today (add_ledger_option). Issue 16 gives them all --ledger:
    call add_ledger_option(parent) here and drop the call from `run`.
    """
    return config_parent()


def add_ledger_option(parser: argparse.ArgumentParser) -> None:
    """--ledger overrides agent.ledger; a location it cannot use fails while parsing."""
    parser.add_argument("--ledger", action=LedgerArgument,
                        help="override agent.ledger (a SQLite file or a PostgreSQL URL)")


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


def who() -> str:
    """user@host: who the ledger records as making an action or a correction."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def write_output(text: str, output: str | None) -> None:
    """Write a command's document to -o's file, or to stdout when -o is not given."""
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


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

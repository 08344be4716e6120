"""`outage-agent init`: write a starter configuration that passes `check` as written, and say
what to run next."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from agent.cli.common import Commands, fail
from agent.cli.newfile import write_new_file
from agent.config import ConfigError, load_config
from agent.config.starter import LISTEN, starter_config

EXIT_CODES = ("exit codes: 0 written; 1 the file could not be written; 2 refused, nothing "
              "written: the file exists (without --force), is not a regular file, or an "
              "option is invalid")

# The option that set each key of the file, to name it in a problem.
_OPTIONS = {"cost.concurrent_users": "--users", "cost.annual_cost_per_user": "--annual-cost",
            "cost.currency": "--currency", "cost.timezone": "--timezone"}


def cmd_init(args: argparse.Namespace) -> int:
    """Write the starter config to -o, checked by the loader first, and print the next steps."""
    if not (args.users.is_integer() and args.users >= 1):
        return fail(f"--users: {args.users:g} is not a number of people: a whole number, at "
                    f"least 1", f"{args.output}: not written")
    text = starter_config(args.users, args.annual_cost, args.currency, args.timezone)
    problems = _problems(text)
    if problems:
        return fail(*problems, f"{args.output}: not written")
    code = write_new_file(args.output, text, args.force)
    if code == 0:
        print(next_steps(args.output))
    return code


def _problems(text: str) -> list[str]:
    """What the loader finds wrong with `text`, each problem named by the option behind it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path, env={})
        except ConfigError as exc:
            return [f"{_OPTIONS.get(p.path, p.path)}: {p.message}" for p in exc.problems]
    return []


def next_steps(path: str) -> str:
    """The three things to do once the file is written."""
    quoted = shlex.quote(path)
    return "\n".join([
        f"Wrote {path}: one system (this agent's own /healthz) and commented examples of each",
        "probe type. Edit it, then:",
        "",
        f"  outage-agent check -c {quoted}   # validate; lists the systems and what run needs",
        f"  outage-agent run -c {quoted}     # the agent: metrics at http://{LISTEN}/metrics",
        "",
        "  # and in prometheus.yml, to scrape it:",
        "  scrape_configs:",
        "    - job_name: outage-agent",
        "      static_configs:",
        f'        - targets: ["{LISTEN}"]',
    ])


def add_init(commands: Commands) -> None:
    init = commands.add_parser(
        "init", help="write a starter configuration", epilog=EXIT_CODES,
        description="Write a short, commented configuration that passes `check` as written: "
                    "one system (this agent's own /healthz on loopback) and a commented "
                    "example of each other probe type.")
    init.add_argument("-o", "--output", default="config.yaml",
                      help="the file to write (default: config.yaml)")
    init.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    init.add_argument("--users", type=float, default=100.0,
                      help="people at work at once, a whole number (default: 100)")
    init.add_argument("--annual-cost", type=float, default=25000.0,
                      help="yearly cost of one person, on-costs included (default: 25000)")
    init.add_argument("--currency", default="GBP",
                      help="ISO 4217 code, in capitals (default: GBP)")
    init.add_argument("--timezone", default="UTC",
                      help="IANA time zone, e.g. Europe/London (default: UTC)")
    init.set_defaults(func=cmd_init)

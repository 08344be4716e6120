"""`outage-agent check`: is the configuration valid, what will it monitor at what cost, and
will `run` have what it needs?"""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import asyncio

from agent.cli.common import Commands, config_parent, load_or_exit
from agent.config import summary
from agent.config.summary import systems_table
from agent.model import Config
from agent.text import redact

EXIT_CODES = ("exit codes: 0 valid; 2 invalid (each problem on a line of its own). What run "
              "needs (ledger, listen address, TLS files) and --connect's probes are reported "
              "as warnings, which never change the exit code")


def cmd_check(args: argparse.Namespace) -> int:
    """Summarise a valid config (load_or_exit has printed an invalid one's problems), list its
    systems, and report what run will need; 0 whatever those findings are."""
    from agent.preflight import findings

    config = load_or_exit(args.config)
    print(summary(config))
    print()
    print(systems_table(config))
    print()
    print("What run needs:")
    for finding in findings(config):
        print(f"  {finding}")
    if args.connect:
        print()
        print(_connect(config))
    return 0


def _connect(config: Config) -> str:
    """Probe every system and canary once: the table, and a warning per target not up."""
    from agent.cli.run import probe_all, probe_table

    systems = [*config.agent.canaries, *config.systems]
    results = asyncio.run(probe_all([system.check for system in systems]))
    lines = [probe_table([system.name for system in systems], results)]
    lines += [f"warning: {system.name} is {result.status.value}: {result.reason}"
              for system, result in zip(systems, results, strict=True) if not result.ok]
    return redact("\n".join(lines), config.secrets)


def add_check(commands: Commands) -> None:
    check = commands.add_parser("check", parents=[config_parent()], epilog=EXIT_CODES,
                                help="validate a configuration and summarise it")
    check.add_argument("--connect", action="store_true",
                       help="also probe each system once (as `probe` does)")
    check.set_defaults(func=cmd_check)

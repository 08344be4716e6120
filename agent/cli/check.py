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
from agent.services import is_service
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
    """Probe every system and canary once: the table, and a warning per target not up, but
    a note for one that is this agent itself while nothing listens there yet (init's
    this-agent before `run`): it is down because the agent is not running, as expected."""
    from agent.cli.run import probe_all, probe_table
    from agent.preflight.listen import listen_finding
    from agent.users.connect import read_each

    systems = [*config.agent.canaries, *(s for s in config.systems if not is_service(s))]
    results = asyncio.run(probe_all([system.check for system in systems]))
    lines = [probe_table([system.name for system in systems], results)]
    lines += asyncio.run(read_each(config))  # measured users: each source read once
    listen = config.agent.listen
    not_running = listen_finding(listen).ok  # the port is free: no agent answers there
    for system, result in zip(systems, results, strict=True):
        if result.ok:
            continue
        if not_running and probes_address(system.check.spec, listen):
            lines.append(f"note: {system.name} is this agent itself ({listen}), which is not "
                         "running yet: it answers once `outage-agent run` starts")
        else:
            lines.append(f"warning: {system.name} is {result.status.value}: {result.reason}")
    return redact("\n".join(lines), config.secrets)


def probes_address(spec: object, listen: str) -> bool:
    """Whether a probe `spec` (an http one's url, a tcp one's target) aims at `listen`
    (host:port): the same port, on the same host or loopback where the agent listens on
    loopback or every address."""
    from agent.probes.tcp import split_target

    try:
        host, port = split_target(listen)
        aimed = _host_port(spec)
    except ValueError:
        return False
    return aimed is not None and aimed[1] == port and (
        aimed[0] == host or (_loopback(aimed[0]) and (_loopback(host) or host in _ANY)))


_ANY = ("", "0.0.0.0", "::", "*")


def _host_port(spec: object) -> tuple[str, int] | None:
    """The host and port a probe spec connects to, if it names one; raise ValueError for a
    port that is not a number."""
    from urllib.parse import urlsplit

    from agent.probes.tcp import split_target

    url, target = getattr(spec, "url", None), getattr(spec, "target", None)
    if isinstance(url, str):
        parts = urlsplit(url)
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    return split_target(target) if isinstance(target, str) else None


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_check(commands: Commands) -> None:
    check = commands.add_parser("check", parents=[config_parent()], epilog=EXIT_CODES,
                                help="validate a configuration and summarise it")
    check.add_argument("--connect", action="store_true",
                       help="also probe each system once (as `probe` does), and read each "
                       "measured users source once; a system that is this agent itself is "
                       "noted, not warned of, before `run` starts it")
    check.set_defaults(func=cmd_check)

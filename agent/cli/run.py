"""The agent itself: `run` (the daemon), `probe` and `demo` (`check` is in check.py)."""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Sequence

from agent.cli.common import (
    Commands,
    ListenArgument,
    config_parent,
    fail,
    ledger_parent,
    load_or_exit,
    setup_logging,
    with_ledger,
)
from agent.model import Config, ProbeResult, State, Status
from agent.services import ServiceSpec, as_result, is_service, judge, members_of, within
from agent.text import redact


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until a signal stops it; SIGHUP reloads the file -c names."""
    config = with_overrides(load_or_exit(args.config), args.listen, args.ledger, args.shard)
    setup_logging(args.log_level or config.agent.log_level)
    from agent.service import run_service

    return asyncio.run(run_service(config, reload_from=args.config))


def with_overrides(config: Config, listen: str | None, ledger: str | None,
                   shard: tuple[int, int] | None = None) -> Config:
    """Given run's --listen, --ledger and --shard (None if not given), return the config with
    them in place of agent.*. A relative --ledger is relative to where the user typed it."""
    agent = with_ledger(config, ledger).agent
    if listen:
        agent = dataclasses.replace(agent, listen=listen)
    if shard:
        agent = dataclasses.replace(agent, shard=shard)
    return dataclasses.replace(config, agent=agent)


def shard_argument(text: str) -> tuple[int, int]:
    """argparse type for --shard K/N: a bad value is a usage error (exit 2)."""
    from agent.shard import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_probe(args: argparse.Namespace) -> int:
    """Probe the named systems or canaries (default: every system) once; 1 if any failed (a
    heartbeat system cannot be probed, and never fails here; a service's members are
    probed, and its verdict read off their results, docs/services.md)."""
    config = load_or_exit(args.config)
    known = {s.name: s for s in (*config.agent.canaries, *config.systems)}
    unknown = [name for name in args.systems if name not in known]
    if unknown:
        return fail(f"unknown system(s): {', '.join(unknown)}")
    wanted = [known[name] for name in args.systems] or list(config.systems)
    everything = [known[name] for name in within(
        (s.name for s in wanted), lambda name: members_of(known[name]))]
    chosen = [system for system in everything if not is_service(system)]
    results = dict(zip((s.name for s in chosen),
                       asyncio.run(probe_all([s.check for s in chosen])), strict=True))

    def verdict(name: str) -> ProbeResult:
        """A probed system's result, or a service's read off its members' (config
        validation refuses cycles, so this ends)."""
        spec = known[name].check.spec
        if name not in results and isinstance(spec, ServiceSpec):
            results[name] = as_result(judge(spec, [
                (member, STATE_OF[verdict(member).status], None) for member in spec.members]))
        return results[name]

    for system in everything:
        verdict(system.name)
    shown = [s for s in everything if s in wanted or not is_service(s)]
    print(redact(probe_table([s.name for s in shown], [results[s.name] for s in shown]),
                 config.secrets))
    pushed = {"heartbeat"}  # not probed: its job pings the agent (docs/heartbeats.md)
    return 0 if all(results[s.name].ok or s.check.spec.type in pushed for s in chosen) else 1


STATE_OF = {Status.UP: State.UP, Status.DEGRADED: State.DEGRADED, Status.DOWN: State.DOWN,
            Status.UNKNOWN: State.UNKNOWN}  # one probe's result, read as a member's state


async def probe_all(checks: Sequence[object]) -> list[ProbeResult]:
    """Given checks, return each one's result from one probe now (`probe`, `check --connect`)."""
    from agent.probes import Prober

    async with Prober() as prober:
        return list(await asyncio.gather(*(prober.run(c) for c in checks)))  # type: ignore[arg-type]


def probe_table(names: list[str], results: list[ProbeResult]) -> str:
    """Given systems and their results, return aligned columns; the reason, last, is not
    padded, so a line ends where its reason does."""
    rows = [("SYSTEM", "RESULT", "LATENCY", "REASON")]
    rows += [(n, r.status.value, f"{r.latency * 1000:.0f} ms", r.reason)
             for n, r in zip(names, results, strict=True)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ).rstrip()


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the simulated estate and the agent watching it, in one process."""
    setup_logging(args.log_level or "info")
    from agent.demo.run import run_demo

    return asyncio.run(run_demo(listen=args.listen, ledger=args.ledger, duration=args.duration))


def add_run(commands: Commands) -> None:
    run = commands.add_parser("run", parents=[ledger_parent()],
                              help="run the agent (the daemon)",
                              epilog="Exit codes: 0 stopped cleanly; 1 could not open (or create) "
                              "the ledger, or listen; 2 invalid config or option.")
    run.add_argument("--listen", action=ListenArgument, metavar="HOST:PORT",
                     help="override agent.listen, e.g. 127.0.0.1:9321")
    run.add_argument("--shard", type=shard_argument, metavar="K/N",
                     help="override agent.shard: probe the K-th of N shares of the systems")
    run.set_defaults(func=cmd_run)


def add_probe(commands: Commands) -> None:
    probe = commands.add_parser("probe", parents=[config_parent()],
                                help="probe systems once now and print a table",
                                epilog="Exit codes: 0 all up; 1 any failed; 2 invalid config, "
                                "an unknown system, or usage.")
    probe.add_argument("systems", nargs="*", metavar="SYSTEM", help="default: every system")
    probe.set_defaults(func=cmd_probe)


def add_demo(commands: Commands) -> None:
    """demo has no config: its --ledger is only where to keep the demo's own ledger."""
    demo = commands.add_parser("demo", help="run the agent on a simulated estate on loopback",
                               epilog="Exit codes: 0 stopped cleanly; 1 could not start; 2 a "
                               "bad option.")
    demo.add_argument("--listen", action=ListenArgument, default="127.0.0.1:9321",
                      metavar="HOST:PORT", help="agent address (default: 127.0.0.1:9321)")
    demo.add_argument("--ledger", help="keep the demo ledger in this file (default: temporary)")
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    demo.set_defaults(func=cmd_demo)

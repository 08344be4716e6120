"""`outage-agent ping SYSTEM`: a heartbeat system's job reporting in, from the agent's host.

It reads the system's token and the agent's listen address from the config, so a script needs
neither; from elsewhere, `curl -fsS -m 10 --retry 5 https://AGENT/ping/TOKEN` does the same
(docs/heartbeats.md).
"""

# A command line prints: its output is the point (T201 is print).

from __future__ import annotations

import argparse
import ssl
import sys
import urllib.error
import urllib.request

from agent.cli.common import Commands, config_parent, fail, load_or_exit
from agent.model import Config
from agent.pushes import heartbeat_spec
from agent.text import redact

TIMEOUT_SECONDS = 10.0
BODY_LIMIT = 10 * 1024


def ping_url(config: Config, system: str, suffix: str, base: str | None = None) -> str:
    """The URL to ping `system` at: `base` (the agent's address as the job reaches it), or
    the agent's own listen address, with a wildcard read as loopback."""
    spec = heartbeat_spec(config.system(system))
    if spec is None:
        raise KeyError(system)
    if base is None:
        host, _, port = config.agent.listen.rpartition(":")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
        web = config.agent.web_config
        scheme = "https" if web is not None and web.tls is not None else "http"
        base = f"{scheme}://{host}:{port}"
    return f"{base.rstrip('/')}/ping/{spec.token}" + (f"/{suffix}" if suffix else "")


def cmd_ping(args: argparse.Namespace) -> int:
    """Ping once: 0 when the agent answered OK, 1 when it refused or could not be reached,
    2 when the system is no heartbeat in the config."""
    config = load_or_exit(args.config)
    suffix = "start" if args.start else "fail" if args.fail else (
        str(args.status) if args.status is not None else "")
    try:
        url = ping_url(config, args.system, suffix, args.url)
    except KeyError:
        names = [s.name for s in config.systems if heartbeat_spec(s) is not None]
        return fail(f"{args.system!r} is no heartbeat system (heartbeats: "
                    f"{', '.join(names) or 'none configured'})")
    body = sys.stdin.buffer.read(BODY_LIMIT) if args.stdin else None
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS,
                                    context=ssl.create_default_context()) as answer:
            print(answer.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace").strip()
        return fail(redact(f"ping refused: HTTP {exc.code}: {text}", config.secrets), code=1)
    except (urllib.error.URLError, OSError) as exc:
        return fail(redact(f"cannot reach the agent at {url}: {exc}", config.secrets), code=1)


def _exit_status(text: str) -> int:
    status = int(text)
    if not 0 <= status <= 255:
        raise argparse.ArgumentTypeError("an exit status is 0 to 255")
    return status


def add_ping(commands: Commands) -> None:
    ping = commands.add_parser(
        "ping", parents=[config_parent()], help="report a heartbeat system's job to the agent",
        epilog="Exit codes: 0 the agent took it; 1 refused or unreachable; 2 no such "
               "heartbeat or usage.")
    ping.add_argument("system", help="a heartbeat system's name")
    kind = ping.add_mutually_exclusive_group()
    kind.add_argument("--start", action="store_true", help="the job has started")
    kind.add_argument("--fail", action="store_true", help="the job has failed")
    kind.add_argument("--status", type=_exit_status, metavar="N",
                      help="the job's exit status (0 is success)")
    ping.add_argument("--stdin", action="store_true",
                      help="send standard input (its first 10 kB) as the ping's evidence")
    ping.add_argument("--url", metavar="BASE",
                      help="the agent's address (default: its listen address in the config)")
    ping.set_defaults(func=cmd_ping)

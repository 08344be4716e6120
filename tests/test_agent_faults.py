"""The agent's own faults never bill a target: a probe that cannot be made because the agent
has run out of file descriptors is `unknown`, for every probe type that opens a socket, with
a real exhausted descriptor table (a child process with a tiny RLIMIT_NOFILE). And nothing
the agent starts outlives it: a real agent, a real plugin, /proc read after it stops."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from support.processes import (
    boot_ticks,
    command_line,
    descendants,
    kill_and_reap,
    left_running,
    started_since,
)
from support.realparts import configured_agent, wait_for

from agent.probes.leftovers import become_subreaper

CHILD = textwrap.dedent("""
    import asyncio, json, os, resource, sys
    from agent.model import Check, HttpProbe, TcpProbe
    from agent.probes import Prober

    async def main(port):
        async with Prober() as prober:
            checks = {"tcp": TcpProbe(target=f"127.0.0.1:{port}"),
                      "http": HttpProbe(url=f"http://127.0.0.1:{port}/")}
            before = {k: (await prober.run(Check(spec, 2.0))).status.value
                      for k, spec in checks.items()}
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            held = []
            try:
                while len(held) < 100_000:
                    held.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass  # every descriptor the limit allows is taken
            after = {}
            for k, spec in checks.items():
                result = await prober.run(Check(spec, 2.0))
                after[k] = [result.status.value, result.reason]
            for fd in held:
                os.close(fd)
            print(json.dumps({"before": before, "after": after}))

    asyncio.run(main(int(sys.argv[1])))
""")


@pytest.mark.fault("The agent has no file descriptor left when it probes (tcp, http)",
                   "the probe's verdict is unknown, never down: the target is not billed",
                   area="Agent process")
def test_a_probe_without_a_descriptor_is_unknown_not_down():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        done = subprocess.run([sys.executable, "-c", CHILD, str(port)], capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["before"] == {"tcp": "up", "http": "down"}  # http: the listener never answers
    for kind, (status, reason) in found["after"].items():
        assert status == "unknown", (kind, reason)
        assert "too many open files" in reason.lower(), (kind, reason)


PLUGIN_AGENT = """\
agent: {{ledger: ledger.db}}
cost: {{currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}}
defaults: {{interval: {interval}, retry_interval: 500ms, timeout: {timeout}, failure_threshold: 1}}
systems:
  - name: reviewed  # probed first 8% into its interval (the scheduler's offset for its name)
    probe: {{type: command, command: [/bin/sh, -c, "{plugin}"]}}
"""
# The review's plugin: its descendants drop the environment and leave the plugin's session.
REVIEWED = "env -i setsid sleep 303 & env -i bash -c 'setsid sleep 304 &'; "


def helpers(agent: int) -> list[int]:
    """The plugin's `sleep 303` and `sleep 304` below the agent."""
    return [pid for pid in descendants(agent)
            if command_line(pid) in (b"sleep\x00303\x00", b"sleep\x00304\x00")]


@pytest.mark.parametrize(("ending", "interval", "timeout"),
                         [("exit 2", "1s", "500ms"), ("sleep 60", "10s", "8s")],
                         ids=["between-probes", "in-flight"])
@pytest.mark.fault("the agent stopped (SIGTERM) after, or during, a command plugin whose "
                   "descendants dropped the environment and left its session (`env -i setsid "
                   "sleep 303 & env -i bash -c 'setsid sleep 304 &'`)",
                   "none of them survives the agent: a plugin still running is killed at the "
                   "stop, and what it left is killed and reaped before the agent exits")
def test_nothing_a_plugin_started_outlives_the_agent(tmp_path, ending, interval, timeout):
    become_subreaper()  # what the agent leaves when it exits comes here, to be found
    since = boot_ticks()
    agent = configured_agent(tmp_path, PLUGIN_AGENT, plugin=REVIEWED + ending,
                             interval=interval, timeout=timeout)
    try:
        agent.start()
        if ending == "exit 2":
            wait_for("two probes", lambda: agent.metrics().get(
                'outage_probes_total{result="failure"}', 0) >= 2)
        else:  # the plugin is running, and has started both of its helpers
            wait_for("the plugin's helpers", lambda: len(helpers(agent.proc.pid)) >= 2)
        assert agent.kill(signal.SIGTERM) == 0
        left = left_running(since)
    finally:
        agent.stop()
        kill_and_reap(started_since(since))
    assert left == []

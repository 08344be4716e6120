"""The agent's own faults never bill a target: a probe that cannot be made because the agent
has run out of file descriptors is `unknown`, for every probe type that opens a socket, with
a real exhausted descriptor table (a child process with a tiny RLIMIT_NOFILE)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest

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

"""What `check` tests of the things `run` will need, beyond a valid config: the ledger opens
for writing (or can be created), the listen address is free, the TLS files can be read.

Each finding is fine or a warning (`finding`), and warnings never change check's exit code:
the systemd unit's ExecReload runs `check` while the agent holds the port and the ledger, so
a port or ledger held by a running agent is reported as in use by it (`holders` asks
Linux's /proc who holds what, without taking anything). `check --connect` adds one probe of
each target (agent.cli.check).
"""

from __future__ import annotations

from agent.model import Config
from agent.preflight.files import tls_findings
from agent.preflight.finding import Finding
from agent.preflight.ledger import ledger_finding
from agent.preflight.listen import listen_finding

__all__ = ["Finding", "findings"]


def findings(config: Config) -> list[Finding]:
    """Given a valid config, return what is fine and what is not for `run`: its ledger, its
    listen address, then its TLS files."""
    return [ledger_finding(config.agent.ledger), listen_finding(config.agent.listen),
            *tls_findings(config)]

"""Can the TLS files the config names be read? The loader saw that each exists; `run` also
needs to read them, perhaps as another user, or after they were moved or rotated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from agent.model import Config
from agent.preflight.finding import Finding

# The keys, in a probe's, notifier's or tls_server_config's spec, that name a file to read.
TLS_FILES = ("ca_file", "client_cert", "client_key", "cert_file", "key_file",
             "client_ca_file")


def tls_findings(config: Config) -> list[Finding]:
    """One warning per TLS file that cannot be read; else one line saying how many can."""
    files = dict.fromkeys(_tls_files(config))
    unreadable = [(path, error) for path in files if (error := _unreadable(path))]
    if unreadable:
        return [Finding(False, f"TLS file {path}: cannot read: {error}")
                for path, error in unreadable]
    return [Finding(True, f"TLS files: {len(files)} readable")] if files else []


def _tls_files(config: Config) -> Iterator[str]:
    web = config.agent.web_config
    specs: list[object] = [system.check.spec for system in
                           (*config.agent.canaries, *config.systems)]
    specs += [notifier.spec for notifier in config.notifiers]
    specs += [web.tls] if web is not None and web.tls is not None else []
    for spec in specs:
        if dataclasses.is_dataclass(spec):
            yield from (value for key in TLS_FILES if (value := getattr(spec, key, None)))


def _unreadable(path: str) -> str:
    """Why the file cannot be read ("" if it can)."""
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""

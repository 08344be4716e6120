"""Find the values in a config that must never be shown in logs, metrics, API answers or
error messages: passwords, webhook secrets and URLs, credential headers, the passwords in URLs.

They are found in the file as read (after ${VAR}), so the same set scrubs the config's own
error messages and, as `Config.secrets`, everything the running agent logs or answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from agent.config.tree import Node

SECRET_KEYS = frozenset({"password", "secret", "token"})
# Headers whose value is a credential: these names, or any name containing these words.
CREDENTIAL_HEADER = re.compile(r"authorization|cookie|token|secret|password|api[-_]?key|auth",
                               re.IGNORECASE)
_URL_PASSWORD = re.compile(r"://[^/@\s:]*:([^/@\s]+)@")


def find_secrets(root: Node) -> frozenset[str]:
    """Given the config tree, return every secret value in it (and the secret parts of each)."""
    found: set[str] = set()
    for key, node in _entries(root):
        text = node.value if isinstance(node.value, str) else None
        if text is None:
            continue
        found.update(_URL_PASSWORD.findall(text))
        if key in SECRET_KEYS:
            found.add(text)
        elif key == "url" and node.path.startswith("notifiers["):
            found.update(_webhook_parts(text))
        elif ".headers." in f".{node.path}" and CREDENTIAL_HEADER.search(key):
            found.update(_credential_parts(text))
    return frozenset(value for value in found if value.strip())


def _entries(node: Node, key: str = "") -> Iterator[tuple[str, Node]]:
    """Every (key, node) pair below `node`; list items carry their list's key."""
    yield key, node
    if isinstance(node.value, dict):
        for name, child in node.value.items():
            yield from _entries(child, name)
    elif isinstance(node.value, list):
        for child in node.value:
            yield from _entries(child, key)


def _webhook_parts(url: str) -> list[str]:
    """A webhook URL is a secret whole, and so is its path and query (Slack's and Teams'
    carry the token there; HTTP libraries log the path alone)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(tail) < 8:  # "/hook": nothing secret, and masking it would garble log lines
        return [url]
    return [url, tail, parts.path] if len(parts.path) >= 8 else [url, tail]


def _credential_parts(value: str) -> list[str]:
    """`Bearer abc123` is a secret, and so is `abc123` alone."""
    scheme, _, credential = value.partition(" ")
    return [value, credential] if credential and scheme.isalpha() else [value]

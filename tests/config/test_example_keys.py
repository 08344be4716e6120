"""config/example.yaml uses every key the loader accepts, and checks with no environment.

The loader is asked which keys it accepts rather than told: a key no mapping accepts is
reported with the list of those it does (`unknown key (known: a, b, ...)`), so the test adds
one such key to every mapping of the shipped examples, loads them, and reads the lists back.
A key the loader learns, in any module, is then a key example.yaml must show.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import ConfigError, load_config

from .conftest import EXAMPLE, GROUPS_EXAMPLE, MINIMAL

WEB_EXAMPLE = EXAMPLE.with_name("web-config.example.yml")
UNKNOWN = "qqqqqqqq"  # shares no letter with any key, so no did-you-mean hides the list
_KNOWN = re.compile(r"unknown key.*\(known: (.+)\)$")

# Keys example.yaml cannot set for real, shown in a comment instead, and why.
COMMENTED_OUT = {
    "shard": "a shard would leave most of the example's systems to other agents",
    "web_config": "its certificate and key must exist on the machine that checks it",
    "hourly_cost_per_user": "cost takes it or annual_cost_per_user, not both",
    "groups": "with groups, concurrent_users moves into each group (config/groups.yaml)",
    "users": "a system's share of each group: only with cost.groups",
    "every": "a heartbeat takes every or schedule, not both",
    "ca_file": "a file that must exist on the machine that checks it",
    "client_cert": "a file that must exist on the machine that checks it",
    "client_key": "a file that must exist on the machine that checks it",
    "client_ca_file": "a file that must exist on the machine that checks it",
}


def mappings(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in a YAML document with its key path as the loader writes it."""
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            yield from mappings(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from mappings(child, f"{path}[{index}]")


def with_unknown_keys(document: Any) -> Any:
    """The document with UNKNOWN added to every mapping in it."""
    if isinstance(document, dict):
        return {**{k: with_unknown_keys(v) for k, v in document.items()}, UNKNOWN: 1}
    if isinstance(document, list):
        return [with_unknown_keys(item) for item in document]
    return document


def accepted(problems: list[str]) -> dict[str, frozenset[str]]:
    """Given the problem lines of a document with UNKNOWN everywhere, return each mapping's
    path -> the keys the loader accepts there (mappings of free names, such as headers, are
    absent: they accept UNKNOWN)."""
    found = {}
    for line in problems:
        where, _, message = line.partition(f"{UNKNOWN}: ")
        match = _KNOWN.search(message)
        if match:
            path = where.rpartition(": ")[2].removesuffix(".")
            found[path] = frozenset(match[1].split(", "))
    return found


def problem_lines(config: Path) -> list[str]:
    try:
        load_config(config, env={})
    except ConfigError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def accepted_in(text: str, tmp_path: Path, name: str = "config.yaml") -> dict[str, frozenset[str]]:
    """Given a config's text, return what the loader accepts in each of its mappings."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(with_unknown_keys(yaml.safe_load(text)), sort_keys=False))
    return accepted(problem_lines(path))


def kinds(accepts: dict[str, frozenset[str]]) -> list[list[str]]:
    """Group mapping paths into kinds: paths that differ only in list indices, or whose
    mappings accept the same keys (a tcp probe in canaries and one in systems), are of one
    kind, and so on transitively."""
    parent = {path: path for path in accepts}

    def root(path: str) -> str:
        while parent[path] != path:
            path = parent[path]
        return path

    first: dict[object, str] = {}
    for path, keys in accepts.items():
        for label in (_unindexed(path), keys):
            parent[root(path)] = root(first.setdefault(label, path))
    groups: dict[str, list[str]] = {}
    for path in accepts:
        groups.setdefault(root(path), []).append(path)
    return list(groups.values())


def _unindexed(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def missing_keys(text: str, accepts: dict[str, frozenset[str]]) -> list[str]:
    """Given an example's text and what the loader accepts where (in it and other examples),
    return "path: key" for each accepted key the example does not show. A key is shown when a
    mapping of its kind sets it; or, if it is in COMMENTED_OUT or the example sets no mapping
    of its kind (cost.groups), when a comment shows it."""
    live = {path: set(mapping) for path, mapping in mappings(yaml.safe_load(text))}
    comments = "\n".join(line.partition("#")[2] for line in text.splitlines())
    missing = []
    for paths in kinds(accepts):
        keys = set().union(*(accepts[path] for path in paths))
        used = set().union(*(live.get(path, set()) for path in paths))
        commented = not any(path in live for path in paths)
        for key in sorted(keys - used):
            shown = re.search(rf"(^|[\s{{,]){key}:", comments, re.MULTILINE)
            if not ((commented or key in COMMENTED_OUT) and shown):
                missing.append(f"{_unindexed(min(paths)) or '(top level)'}: {key}")
    return missing


def config_accepts(tmp_path: Path) -> dict[str, frozenset[str]]:
    """What the loader accepts in example.yaml's mappings and groups.yaml's (cost.groups)."""
    return {**accepted_in(GROUPS_EXAMPLE.read_text(), tmp_path / "groups"),
            **accepted_in(EXAMPLE.read_text(), tmp_path)}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "groups").mkdir()
    return tmp_path


def test_the_loader_is_asked_for_every_section_of_the_example(workdir: Path) -> None:
    accepts = config_accepts(workdir)
    assert {"", "agent", "cost", "defaults", "systems[0]", "systems[0].probe",
            "notifiers[0]", "alerts[0]", "cost.concurrent_users",
            "systems[2].maintenance[0]", "cost.groups.office-staff"} <= set(accepts)
    assert {"retention", "flap_threshold", "flap_window"} <= accepts["agent"] | accepts["defaults"]


def test_example_yaml_shows_every_key_the_loader_accepts(workdir: Path) -> None:
    assert missing_keys(EXAMPLE.read_text(), config_accepts(workdir)) == []


@pytest.mark.parametrize("line", ["  retention: ", "  flap_window: ", "      expect: ",
                                  "    period: "])
def test_a_key_removed_from_the_example_is_found_missing(workdir: Path, line: str) -> None:
    text = EXAMPLE.read_text()
    assert line in text
    cut = "\n".join(row for row in text.splitlines() if not row.startswith(line))
    key = line.strip().rstrip(":")
    assert [found.rpartition(": ")[2] for found in missing_keys(cut, config_accepts(workdir))
            ] == [key]


def test_a_key_only_in_a_comment_is_found_missing(workdir: Path) -> None:
    text = EXAMPLE.read_text().replace("  max_unobserved_gap: 5m", "  # max_unobserved_gap: 5m")
    assert missing_keys(text, config_accepts(workdir)) == ["agent: max_unobserved_gap"]


def test_web_config_example_shows_every_key_the_loader_accepts(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump(with_unknown_keys(yaml.safe_load(WEB_EXAMPLE.read_text()))))
    config = tmp_path / "config.yaml"
    config.write_text(f"agent: {{web_config: {web.name}}}\n{MINIMAL}")
    accepts = accepted(problem_lines(config))
    assert {"", "tls_server_config"} <= set(accepts)
    assert missing_keys(WEB_EXAMPLE.read_text(), accepts) == []


def test_example_yaml_loads_with_no_environment_variables() -> None:
    config = load_config(EXAMPLE, env={})
    assert [n.name for n in config.notifiers] == ["ops-slack", "ops-teams", "service-desk",
                                                  "ops-email"]


def test_example_yaml_checks_from_the_command_line_with_no_environment_variables() -> None:
    referenced = set(re.findall(r"\$\{(\w+)", EXAMPLE.read_text()))
    assert referenced, "the example should show ${VAR:-default}"
    env = {k: v for k, v in os.environ.items() if k not in referenced}
    result = subprocess.run(["outage-agent", "check", "-c", str(EXAMPLE)], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

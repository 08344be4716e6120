"""From rows to the `systems:` list: each row becomes a system mapping, with a note of the
cell behind each of its keys, and the list becomes YAML text that says which line each
system starts on. Values are passed on as found; the config loader judges them."""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from agent.config.probes import probe_types
from agent.inventory.rows import Cell, Row

Origins = dict[str, Cell]  # key path within the system ("probe.url") -> the cell behind it

_NUMBERS = ("users_share", "impact")
_LABELS = ("owner", "supplier", "tier")


class Unusable(ValueError):
    """A cell whose text cannot even be made into a value for the loader to judge."""


def system_of(row: Row) -> tuple[dict[str, Any], Origins, list[tuple[Cell, str]]]:
    """Given a row, return its system mapping, the cell behind each key, and the problems
    found before the loader could judge (a command line whose quotes do not close). An empty
    cell gives no key: a required one is then reported missing, at its cell."""
    cells = row.cells
    system: dict[str, Any] = {}
    origins: Origins = {"": cells["name"], "probe": cells["type"], "probe.type": cells["type"]}
    if row.text("name"):
        system["name"] = _literal(row.text("name"))
    origins["name"] = cells["name"]
    problems = []
    try:
        system["probe"], field = _probe(row)
    except Unusable as exc:
        system["probe"], field = {"type": "command"}, "command"
        problems.append((cells["target"], str(exc)))
    origins[f"probe.{field}"] = cells["target"]
    for key in (*_NUMBERS, "depends_on", *_LABELS):
        if row.text(key):
            system[key] = _value(key, row.text(key))
            origins[key] = cells[key]
    return system, origins, problems


def _probe(row: Row) -> tuple[dict[str, Any], str]:
    """The probe mapping, and the key the target goes in: its type's one required key (url,
    target, name, host or command). An unknown type gets no target: the loader names it.
    Raise Unusable if a command line cannot be split."""
    kind, target = row.text("type").lower(), row.text("target")
    probe: dict[str, Any] = {"type": _literal(kind)} if kind else {}
    known = probe_types().get(kind)
    if known is None:
        return probe, "target"
    field = known.required[0]
    if target:
        probe[field] = _argv(target) if field == "command" else _literal(target)
    return probe, field


def _argv(text: str) -> list[str]:
    """A command line as a shell would split it (the probe runs it without one)."""
    try:
        return [_literal(word) for word in shlex.split(text)]
    except ValueError as exc:
        raise Unusable(f"cannot split the command line: {exc}") from None


def _value(key: str, text: str) -> Any:
    if key in _NUMBERS:
        return _number(text)
    if key == "depends_on":
        return [_literal(name) for name in re.split(r"[;\s]+", text) if name]
    return _literal(text)


def _number(text: str) -> Any:
    """A number if the text is one, else the text, which the loader refuses in its words."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return _literal(text)


def _literal(text: str) -> str:
    """Text as the loader will read it back: a cell's `${` is text, not a variable."""
    return text.replace("${", "$${")


def render(systems: list[dict[str, Any]]) -> tuple[str, list[int]]:
    """Given system mappings, return the `systems:` YAML text and the line each system starts
    on (1 is the `systems:` line)."""
    lines, starts = ["systems:"], []
    for system in systems:
        starts.append(len(lines) + 1)
        item = yaml.safe_dump([system], sort_keys=False, allow_unicode=True,
                              default_flow_style=None, width=1 << 30)
        lines += [f"  {line}" for line in item.splitlines()]
    return "\n".join(lines) + "\n", starts

"""Judging the systems as `check` would: the YAML is loaded by the config loader itself, in a
config of its own, and each problem it finds is put back on the cell it came from."""

from __future__ import annotations

import bisect
import re
import tempfile
from pathlib import Path

from agent.config import ConfigError, load_config
from agent.config.problems import Problem
from agent.inventory.rows import Cell, Row
from agent.inventory.systems import Origins

# Where the systems are judged: the smallest cost section without groups (the inventory's
# users_share is a share of everyone), then the systems, line for line as they are output.
_PREAMBLE = "cost: {annual_cost_per_user: 1, concurrent_users: 1}\n"
_SYSTEM_PATH = re.compile(r"systems\[(\d+)\]\.?(.*)")


def loader_problems(text: str, rows: list[Row], origins: list[Origins],
                    starts: list[int]) -> list[tuple[Cell | None, str]]:
    """Given the `systems:` text made from `rows` (each system's key origins, and the line
    each starts on), return each problem the loader finds: the cell it is about (None for
    the file as a whole) and the message, in the file's words."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "systems.yaml"
        path.write_text(_PREAMBLE + text, encoding="utf-8")
        try:
            load_config(path, env={})
        except ConfigError as exc:
            return [_placed(p, rows, origins, starts) for p in exc.problems]
    return []


def _placed(problem: Problem, rows: list[Row], origins: list[Origins],
            starts: list[int]) -> tuple[Cell | None, str]:
    """The cell a problem is about, and its message with YAML line numbers made the file's."""
    def file_line(match: re.Match[str]) -> str:
        system = bisect.bisect_right(starts, int(match[1]) - 1) - 1  # -1: the preamble
        return f"line {rows[max(system, 0)].line}"

    message = re.sub(r"\bline (\d+)", file_line, problem.message)
    message = message.replace("required key is missing", "empty, but required")
    match = _SYSTEM_PATH.fullmatch(problem.path)
    if match is None:
        return None, message
    return _origin(origins[int(match[1])], match[2]), message


def _origin(origins: Origins, key: str) -> Cell:
    """The cell behind `key` ("probe.url", "depends_on[1]"), or behind the nearest key above
    it, the row itself at the last."""
    while key not in origins:
        key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key) if re.search(r"[.\[]", key) else ""
    return origins[key]

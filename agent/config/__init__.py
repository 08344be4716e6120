"""Load and validate the agent's YAML configuration into the frozen dataclasses of `model`.

Every problem in a file is collected and reported at once, each with its line and key path
(`config.yaml:14: systems[1].probe.url: not a valid URL ...`), so one edit-check cycle fixes
them all. Only YAML's safe composer is used: we walk the node tree ourselves to keep line
numbers, and a budget on nodes and depth stops alias bombs and absurd nesting.

The modules, in the order they import each other: `problems` (what is reported), `tree` (the
file as nodes with lines and paths, ${VAR}), `values` and `addresses` (single values),
`timing` (inherited settings), `probes`, the sections `cost`, `maintenance`, `agent` and
`systems`, `loader` (the whole file) and `summary`. This module is the public API only.
"""

from agent.config.loader import load_config
from agent.config.problems import ConfigError, Problem
from agent.config.summary import summary
from agent.config.tree import MAX_BYTES as MAX_BYTES
from agent.config.values import format_duration, parse_duration

__all__ = [
    "ConfigError",
    "Problem",
    "format_duration",
    "load_config",
    "parse_duration",
    "summary",
]

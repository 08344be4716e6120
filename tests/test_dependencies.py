"""pyproject.toml declares what agent/ imports, and pins nothing that must keep moving."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).parents[1]


def declared() -> dict[str, str]:
    """Given pyproject.toml, return each runtime dependency's normalised name -> its spec."""
    specs = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_normalise(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]): spec for spec in specs}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> set[str]:
    """The top-level modules agent/ imports that are neither the stdlib's nor its own."""
    found = set()
    for path in (REPO / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "agent"}


def test_every_module_agent_imports_is_a_declared_dependency() -> None:
    distributions = packages_distributions()
    undeclared = {
        module: distributions.get(module)
        for module in imported_modules()
        if not {_normalise(d) for d in distributions.get(module, [])} & declared().keys()
    }
    assert undeclared == {}  # each needs its own line in [project] dependencies


def test_holidays_is_a_range_so_new_bank_holidays_arrive() -> None:
    spec = declared()["holidays"]
    assert ">=" in spec and "==" not in spec

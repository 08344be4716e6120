"""docs/configuration.md's key reference names every key the config loader accepts.

The loader is asked for its keys as tests/config/test_example_keys.py asks it (an unknown key in
every mapping of the shipped examples, and the lists of known keys read back), so a key the
loader learns is a key the reference must show, as code, under "## Every key".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .conftest import MINIMAL
from .test_example_keys import (
    WEB_EXAMPLE,
    accepted,
    config_accepts,
    problem_lines,
    with_unknown_keys,
)

REFERENCE = Path(__file__).parents[2] / "docs" / "configuration.md"
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def every_key_section(page: str) -> str:
    """Given the page, return its "## Every key" section (to the end of the page)."""
    _, found, section = page.partition("\n## Every key\n")
    assert found, "docs/configuration.md has no '## Every key' section"
    return section


def shown(section: str) -> set[str]:
    """Every name written as code (in backticks or a code block) in the section."""
    return {name for code in _CODE.findall(section) for name in _NAME.findall(code)}


def missing(page: str, accepts: dict[str, frozenset[str]]) -> list[str]:
    """Given the page and what the loader accepts where, return "path: key" for each key the
    reference does not show."""
    names = shown(every_key_section(page))
    return sorted({f"{_section(path)}: {key}"
                   for path, keys in accepts.items() for key in keys if key not in names})


def _section(path: str) -> str:
    return re.sub(r"\[.*", "", path) or "(top level)"


def web_config_accepts(tmp_path: Path) -> dict[str, frozenset[str]]:
    """What the loader accepts in a web_config file's mappings."""
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump(with_unknown_keys(yaml.safe_load(WEB_EXAMPLE.read_text()))))
    config = tmp_path / "config.yaml"
    config.write_text(f"agent: {{web_config: {web.name}}}\n{MINIMAL}")
    return accepted(problem_lines(config))


@pytest.fixture
def accepts(tmp_path: Path) -> dict[str, frozenset[str]]:
    (tmp_path / "groups").mkdir()
    (tmp_path / "web").mkdir()
    return {**config_accepts(tmp_path),
            **{f"web_config:{path}": keys
               for path, keys in web_config_accepts(tmp_path / "web").items()}}


def test_the_reference_shows_every_key_the_loader_accepts(accepts) -> None:
    assert {"agent", "systems[0].probe", "notifiers[0]", "alerts[0]",
            "web_config:tls_server_config"} <= set(accepts)
    assert missing(REFERENCE.read_text(encoding="utf-8"), accepts) == []


@pytest.mark.parametrize("key", ["retention", "flap_window", "queue_size", "client_ca_file"])
def test_a_key_left_out_of_the_reference_is_found_missing(accepts, key: str) -> None:
    page = REFERENCE.read_text(encoding="utf-8")
    head, marker, section = page.partition("\n## Every key\n")
    cut = re.sub(rf"(?<!\w){key}(?!\w)", "gone", section)
    assert {found.rpartition(": ")[2] for found in missing(head + marker + cut, accepts)} == {key}


def test_a_key_only_in_the_annotated_file_above_is_not_enough(accepts) -> None:
    page = REFERENCE.read_text(encoding="utf-8")
    assert "max_unobserved_gap" in page.partition("\n## Every key\n")[0]
    cut = page.replace("| `max_unobserved_gap` |", "| max gap |")
    assert missing(cut, accepts) == ["agent: max_unobserved_gap"]

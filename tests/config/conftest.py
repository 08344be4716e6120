"""What the tests of agent.config share: the example configs, a minimal valid config, and
helpers that load a config from text or return its problem lines. The test modules import the
helpers with `from .conftest import ...`, as tests/probes does."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import EXAMPLE_ENV

from agent.config import ConfigError, load_config
from agent.model import Config

EXAMPLE = Path(__file__).parents[2] / "config" / "example.yaml"
GROUPS_EXAMPLE = EXAMPLE.with_name("groups.yaml")

SYSTEMS = """\
systems:
  - name: core
    probe: {type: tcp, target: "core.example.internal:443"}
"""
MINIMAL = "cost: {annual_cost_per_user: 25000, concurrent_users: 100}\n" + SYSTEMS


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env=env or {})


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    """Return the problem lines for `text` saved as config.yaml, relative to tmp_path."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, env)
    prefix = str(tmp_path / "config.yaml")
    return [line.replace(prefix, "config.yaml") for line in str(caught.value).splitlines()]


def with_system(extra: str, probe: str = '{type: tcp, target: "core.example.internal:443"}') -> str:
    """A minimal config whose one system has `probe` and the extra (indented) lines."""
    return MINIMAL.replace(
        '    probe: {type: tcp, target: "core.example.internal:443"}\n',
        f"    probe: {probe}\n{extra}",
    )


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(EXAMPLE, env=EXAMPLE_ENV)

"""${VAR:-default} in the config: the variable when it is set and not empty, else the default
(as in the shell and Docker Compose), so a shipped file checks on a machine that sets none."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.model import TcpProbe

from .conftest import MINIMAL, SYSTEMS, load, problems, with_system

TARGET = MINIMAL.replace('"core.example.internal:443"',
                         '"${CORE_HOST:-core.example.internal}:${CORE_PORT:-443}"')


def target(tmp_path: Path, env: dict[str, str]) -> str:
    spec = load(tmp_path, TARGET, env).systems[0].check.spec
    assert isinstance(spec, TcpProbe)
    return spec.target


@pytest.mark.parametrize(("env", "expected"), [
    pytest.param({"CORE_HOST": "10.0.0.5", "CORE_PORT": "8443"}, "10.0.0.5:8443", id="set-wins"),
    pytest.param({}, "core.example.internal:443", id="unset-takes-default"),
    pytest.param({"CORE_HOST": "", "CORE_PORT": "22"}, "core.example.internal:22",
                 id="empty-takes-default"),
])
def test_a_set_variable_wins_and_an_unset_or_empty_one_takes_the_default(
        tmp_path: Path, env: dict[str, str], expected: str) -> None:
    assert target(tmp_path, env) == expected


def test_an_empty_default_is_allowed(tmp_path: Path) -> None:
    config = load(tmp_path, with_system('    owner: "${TEAM:-}"\n'))
    assert config.systems[0].owner == ""


def test_a_default_may_hold_colons_slashes_and_spaces(tmp_path: Path) -> None:
    text = with_system('    description: "${DESC:-see https://wiki.example/x: the page}"\n')
    assert load(tmp_path, text).systems[0].description == "see https://wiki.example/x: the page"


def test_an_unset_variable_without_a_default_is_still_an_error_at_its_line(
        tmp_path: Path) -> None:
    text = with_system('    owner: "${TEAM:-ops}"\n    tier: ${TIER}\n')
    assert problems(tmp_path, text) == [
        "config.yaml:6: systems[0].tier: environment variable TIER is not set"]


def test_a_set_but_empty_variable_without_a_default_is_empty(tmp_path: Path) -> None:
    config = load(tmp_path, with_system("    owner: ${TEAM}x\n"), {"TEAM": ""})
    assert config.systems[0].owner == "x"


def test_a_plain_default_reads_as_the_value_yaml_would_see(tmp_path: Path) -> None:
    text = "cost:\n  hourly_cost_per_user: 1\n  concurrent_users: ${USERS:-2000}\n" + SYSTEMS
    assert load(tmp_path, text).cost.users.default == 2000


def test_a_literal_dollar_brace_is_not_a_default(tmp_path: Path) -> None:
    config = load(tmp_path, with_system('    description: "$${A:-b}"\n'))
    assert config.systems[0].description == "${A:-b}"

"""Reading the file into a tree (agent.config.tree): ${VAR} substitution from the
environment, YAML merge keys and commented-out sections, and files that cannot be read or are
too large or too deeply nested, refused as problems, never raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import MAX_BYTES, ConfigError, load_config
from agent.model import TcpProbe

from .conftest import MINIMAL, SYSTEMS, load, problems, with_system, write

# --- environment variables ------------------------------------------------------------------------


def test_env_variables_are_substituted_in_any_string(tmp_path: Path) -> None:
    text = MINIMAL.replace('"core.example.internal:443"', '"${CORE_HOST}:${CORE_PORT}"')
    config = load(tmp_path, text, env={"CORE_HOST": "core.example.internal", "CORE_PORT": "8443"})
    assert config.systems[0].check.spec == TcpProbe(target="core.example.internal:8443")


def test_double_dollar_writes_a_literal_reference(tmp_path: Path) -> None:
    config = load(tmp_path, with_system('    description: "costs $${AMOUNT} ($5)"\n'))
    assert config.systems[0].description == "costs ${AMOUNT} ($5)"


def test_unset_env_variable_names_the_key_path_and_the_variable(tmp_path: Path) -> None:
    assert problems(tmp_path, with_system("    owner: ${TEAM}\n")) == [
        "config.yaml:5: systems[0].owner: environment variable TEAM is not set"
    ]


def test_a_plain_env_reference_reads_as_the_value_yaml_would_see(tmp_path: Path) -> None:
    text = "cost:\n  hourly_cost_per_user: 1\n  concurrent_users: ${USERS}\n" + SYSTEMS
    assert load(tmp_path, text, env={"USERS": "2000"}).cost.users.default == 2000


def test_a_quoted_env_reference_stays_a_string(tmp_path: Path) -> None:
    text = MINIMAL.replace("concurrent_users: 100", 'concurrent_users: "${USERS}"')
    assert problems(tmp_path, text, env={"USERS": "2000"}) == [
        "config.yaml:1: cost.concurrent_users: expected a number or a schedule "
        "(default, windows...), got a string"
    ]


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_TEAM", "Infrastructure")
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    config = load_config(write(tmp_path, with_system("    owner: ${CORE_TEAM}\n")))
    assert config.systems[0].owner == "Infrastructure"
    assert config.agent.ledger == str(tmp_path / "state" / "outage-ledger.db")


# --- YAML -----------------------------------------------------------------------------------------


def test_yaml_merge_keys_share_settings_between_systems(tmp_path: Path) -> None:
    text = """\
cost: {hourly_cost_per_user: 10, concurrent_users: 100}
systems:
  - &base
    name: a
    probe: {type: tcp, target: "a.example.internal:443"}
    interval: 1m
    impact: 0.5
  - <<: *base
    name: b
"""
    a, b = load(tmp_path, text).systems
    assert (b.name, b.interval, b.impact, b.check) == ("b", 60, 0.5, a.check)


def test_commented_out_optional_sections_read_as_absent(tmp_path: Path) -> None:
    config = load(tmp_path, f"agent:\n  # listen: x\ndefaults:\n{MINIMAL}")
    assert config.agent.listen == "127.0.0.1:9321"


# --- files that cannot be read, or are too large or too deep --------------------------------------


@pytest.mark.fault("config file missing",
                   "one problem: \"cannot read the file: No such file or "
                   "directory\"")
def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml", env={})
    assert (
        str(caught.value)
        == f"{tmp_path / 'absent.yaml'}: cannot read the file: No such file or directory"
    )


@pytest.mark.fault("a directory given as the config",
                   "one problem: \"cannot read the file\"")
def test_a_directory_is_reported_not_raised(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path, env={})


@pytest.mark.fault("config file over 1 MiB",
                   "refused unread: \"the file is larger than 1 MiB\"")
def test_a_file_larger_than_one_mebibyte_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "#" * MAX_BYTES)
    with pytest.raises(ConfigError, match=r"larger than 1 MiB"):
        load_config(path, env={})


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 5000 + "]" * 5000, id="deep-flow-nesting"),
        pytest.param("a: " + "[" * 60 + "]" * 60, id="nesting-beyond-budget"),
        pytest.param("a: &a [*a, *a]", id="recursive-alias"),
        pytest.param("a: &a {b: 1, <<: *a}", id="recursive-merge"),
    ],
)
@pytest.mark.fault("deep nesting (5,000 levels), recursive aliases and merges",
                   "refused with a line number, without recursion errors")
def test_absurd_nesting_is_refused_with_a_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert all(problem.line is not None for problem in caught.value.problems)

"""What a config check reports: every invalid file in testdata/config is paired with its
exact problem lines (NAME.yaml + NAME.errors, `{here}` standing for that folder), problems read
as file:line: key.path: message, and no input makes the loader raise anything but ConfigError
(properties over the example configs and random YAML)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import ConfigError, Problem, load_config

from .conftest import EXAMPLE, GROUPS_EXAMPLE, write

# --- invalid files and their exact messages -------------------------------------------------------


TESTDATA = Path(__file__).parents[1] / "testdata" / "config"


INVALID = sorted(path.stem for path in TESTDATA.glob("*.yaml"))


@pytest.mark.parametrize("name", INVALID)
@pytest.mark.fault("each broken file in tests/testdata/config: YAML syntax, "
                   "wrong types, unknown keys, bad URLs, timings, alias bomb,"
                   " non-UTF-8, unsupported tags",
                   "every problem reported at once, exactly as in its .errors"
                   " file: file:line: key.path: message")
def test_invalid_config_reports_exactly_its_expected_problems(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TESTDATA)
    expected = (TESTDATA / f"{name}.errors").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(f"{name}.yaml", env={})
    assert str(caught.value).splitlines() == expected.replace("{here}", str(TESTDATA)).splitlines()


def test_every_invalid_config_file_has_an_errors_file_and_the_reverse() -> None:
    errors = sorted(path.stem for path in TESTDATA.glob("*.errors"))
    assert errors == INVALID


def test_a_file_with_five_mistakes_reports_five_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TESTDATA)
    with pytest.raises(ConfigError) as caught:
        load_config("five_mistakes.yaml", env={})
    assert len(caught.value.problems) == 5
    assert [problem.line for problem in caught.value.problems] == [6, 7, 9, 10, 11]


def test_problem_reads_as_file_line_path_message() -> None:
    problem = Problem("config.yaml", 14, "systems[1].probe.url", "not a valid URL")
    assert str(problem) == "config.yaml:14: systems[1].probe.url: not a valid URL"
    assert str(Problem("config.yaml", None, "", "cannot read")) == "config.yaml: cannot read"


def test_config_error_joins_its_problems_one_per_line() -> None:
    error = ConfigError([Problem("c.yaml", 1, "a", "x"), Problem("c.yaml", 2, "b", "y")])
    assert str(error) == "c.yaml:1: a: x\nc.yaml:2: b: y"


def test_file_name_in_messages_is_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "systems: []\n", name="x.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config("x.yaml", env={})
    assert str(caught.value).splitlines()[0] == "x.yaml:1: cost: required key is missing"


# --- property: nothing but ConfigError, always with a line ----------------------------------------


_EXAMPLES = {path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
             for path in (EXAMPLE, GROUPS_EXAMPLE)}


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["30s", "0s", "-1", "1h30m", "${X}", "$${", "mon-fri", "99%", "[::1]:0"]),
)


_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in nested dicts and lists."""
    found = [prefix] if prefix else []
    children = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in children:
        found += _paths(value, (*prefix, key))
    return found


_PATHS = [(name, path) for name, data in _EXAMPLES.items() for path in _paths(data)]


def _mutated(name: str, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    data = copy.deepcopy(_EXAMPLES[name])
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def _assert_loads_or_reports_lines(path: Path) -> None:
    try:
        load_config(path, env={"X": "1"})
    except ConfigError as err:
        assert err.problems
        assert all(problem.line is not None and problem.line >= 1 for problem in err.problems)


_PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_PROPERTY
@given(where=st.sampled_from(_PATHS), value=_values, delete=st.booleans())
@pytest.mark.fault("hypothesis: any value of the example config replaced by "
                   "random data, or deleted",
                   "a valid config or a ConfigError whose every problem has a"
                   " line; never a traceback")
def test_mutating_any_value_of_the_example_gives_a_config_or_config_error(
    tmp_path: Path, where: tuple[str, tuple[Any, ...]], value: Any, delete: bool
) -> None:
    data = _mutated(*where, value, delete)  # in config/example.yaml or config/groups.yaml
    _assert_loads_or_reports_lines(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))


@_PROPERTY
@given(
    text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`,?\n \t$.1é\x00")), max_size=80)
)
@pytest.mark.fault("hypothesis: random YAML-ish text",
                   "a valid config or a ConfigError with lines; never a "
                   "traceback")
def test_random_yaml_text_gives_a_config_or_config_error(tmp_path: Path, text: str) -> None:
    _assert_loads_or_reports_lines(write(tmp_path, text))


@_PROPERTY
@given(data=_values)
@pytest.mark.fault("hypothesis: random YAML documents",
                   "a valid config or a ConfigError with lines; never a "
                   "traceback")
def test_random_yaml_documents_give_a_config_or_config_error(tmp_path: Path, data: Any) -> None:
    _assert_loads_or_reports_lines(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))

"""Numbers are read as YAML 1.2 reads them (agent.config.core_schema): every form YAML 1.1
would turn into another number (010 octal, 1:30:00 base 60, 0b11 binary, 0x10) gives the
number as written or a refusal at its line, in the file and through ${VAR} alike, never a
silently different figure. Hand figures: H = £25,000 / 1,924 h = £12.99376 per user-hour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from agent.cli import main
from agent.config.core_schema import CoreResolver

from .conftest import SYSTEMS, load, problems, with_system, write

HOURLY = 25000 / 1924  # £12.99376 per user-hour

LEADING_ZERO = "a leading 0 makes a number ambiguous (YAML 1.1 reads it as octal): "
QUOTE = " (quote it if it is text)"
YAML_1_1 = pytest.mark.fault(
    "a count or an amount YAML 1.1 reads as another number (010 octal, 0x10, 1:30:00 base 60, "
    "0b11 binary), in the file or from ${VAR}",
    "refused at its line (\"write 10, not 010\"), never read as 8; check exits 2")


def cost(users: str, annual: str = "25000") -> str:
    """A config whose cost figures are written as given, each on its own line (2 and 3)."""
    return f"cost:\n  annual_cost_per_user: {annual}\n  concurrent_users: {users}\n{SYSTEMS}"


# --- what is a number -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "users"),
    [
        pytest.param("2000", 2000, id="decimal"),
        pytest.param("+2000", 2000, id="plus-sign"),
        pytest.param("0", 0, id="zero"),
        pytest.param("2000.0", 2000, id="float"),
        pytest.param("2e3", 2000, id="exponent-without-point-or-sign"),
        pytest.param("2.0e+3", 2000, id="exponent-yaml-1.1-style"),
        pytest.param("1500.5", 1500.5, id="fraction"),
        pytest.param("0.5", 0.5, id="zero-point"),
        pytest.param(".5", 0.5, id="leading-point"),
    ],
)
def test_a_yaml_1_2_number_is_read_as_written(tmp_path: Path, text: str, users: float) -> None:
    config = load(tmp_path, cost(text))
    assert config.cost.users.default == users
    assert config.cost.hourly_cost_per_user == pytest.approx(12.99376, abs=5e-6)


COUNT_REFUSALS = [
    pytest.param("010", f"{LEADING_ZERO}write 10, not 010{QUOTE}", id="octal-in-yaml-1.1"),
    pytest.param("-010", f"{LEADING_ZERO}write -10, not -010{QUOTE}", id="signed"),
    pytest.param("09", f"{LEADING_ZERO}write 9, not 09{QUOTE}", id="not-even-octal"),
    pytest.param("00", f"{LEADING_ZERO}write 0, not 00{QUOTE}", id="zeros"),
    pytest.param("0o10", f"write numbers in decimal: 8, not 0o10{QUOTE}", id="octal-1.2"),
    pytest.param("0x10", f"write numbers in decimal: 16, not 0x10{QUOTE}", id="hex"),
    pytest.param("1:30:00", "expected a number or a schedule (default, windows...), got a "
                 "string", id="sexagesimal"),
    pytest.param("0b11", "expected a number or a schedule (default, windows...), got a "
                 "string", id="binary"),
]


@pytest.mark.parametrize(("text", "message"), COUNT_REFUSALS)
@YAML_1_1
def test_a_count_yaml_1_1_reads_otherwise_is_refused_at_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    assert problems(tmp_path, cost(text)) == [f"config.yaml:3: cost.concurrent_users: {message}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("025000", f"{LEADING_ZERO}write 25000, not 025000{QUOTE}", id="leading-0"),
        pytest.param("0x61A8", f"write numbers in decimal: 25000, not 0x61A8{QUOTE}", id="hex"),
        pytest.param("6:56:40", "expected a number, got a string", id="sexagesimal"),
        pytest.param("0b110000110101000", "expected a number, got a string", id="binary"),
        pytest.param("25_000", "expected a number, got text: YAML reads '25_000' as text "
                     "(quoted, or with '_'); write it bare: 25000", id="digit-separator"),
        pytest.param("'25000'", "expected a number, got text: YAML reads '25000' as text "
                     "(quoted, or with '_'); write it bare: 25000", id="quoted"),
    ],
)
@YAML_1_1
def test_money_yaml_1_1_reads_otherwise_is_refused_at_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    assert problems(tmp_path, cost("2000", annual=text)) == [
        f"config.yaml:2: cost.annual_cost_per_user: {message}"]


def test_a_share_with_a_leading_zero_is_refused_and_a_fraction_is_not(tmp_path: Path) -> None:
    assert problems(tmp_path, with_system("    users_share: 01\n")) == [
        f"config.yaml:5: systems[0].users_share: {LEADING_ZERO}write 1, not 01{QUOTE}"]
    assert load(tmp_path, with_system("    users_share: 0.30\n")).systems[0].users_share == 0.3


# --- through the environment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "users"),
    [("2000", 2000), ("+2000", 2000), ("2e3", 2000), ("1500.5", 1500.5)],
)
def test_a_number_from_the_environment_is_read_as_written(
    tmp_path: Path, value: str, users: float
) -> None:
    assert load(tmp_path, cost("${USERS}"), env={"USERS": value}).cost.users.default == users


@pytest.mark.parametrize(("value", "message"), COUNT_REFUSALS)
@YAML_1_1
def test_a_number_from_the_environment_yaml_1_1_reads_otherwise_is_refused(
    tmp_path: Path, value: str, message: str
) -> None:
    assert problems(tmp_path, cost("${USERS}"), env={"USERS": value}) == [
        f"config.yaml:3: cost.concurrent_users: {message}"]


def test_a_default_from_the_file_is_read_the_same_way(tmp_path: Path) -> None:
    assert problems(tmp_path, cost("${USERS:-010}")) == [
        f"config.yaml:3: cost.concurrent_users: {LEADING_ZERO}write 10, not 010{QUOTE}"]
    assert load(tmp_path, cost("${USERS:-2000}")).cost.users.default == 2000


def test_money_from_the_environment_with_a_leading_zero_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, cost("2000", annual="${ANNUAL}"), env={"ANNUAL": "025000"}) == [
        f"config.yaml:2: cost.annual_cost_per_user: {LEADING_ZERO}write 25000, not 025000{QUOTE}"]


# --- text and durations ---------------------------------------------------------------------------


def test_a_quoted_leading_zero_is_text_where_text_is_wanted(tmp_path: Path) -> None:
    assert load(tmp_path, with_system("    owner: '010'\n")).systems[0].owner == "010"
    assert problems(tmp_path, with_system("    owner: 010\n")) == [
        f"config.yaml:5: systems[0].owner: {LEADING_ZERO}write 10, not 010{QUOTE}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("1:30", "not a valid duration: '1:30' (use seconds or units ms, s, m, h, d "
                     "from largest to smallest, e.g. 30s, 5m, 1h30m)", id="sexagesimal"),
        pytest.param("030", f"{LEADING_ZERO}write 30, not 030{QUOTE}", id="leading-0"),
    ],
)
def test_a_duration_yaml_1_1_reads_as_seconds_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    assert problems(tmp_path, with_system(f"    interval: {text}\n")) == [
        f"config.yaml:5: systems[0].interval: {message}"]


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("1m30s", 90), ("90.5", 90.5),
                                               ("1.2e2", 120)])
def test_a_duration_as_a_number_or_with_units_is_read(
    tmp_path: Path, text: str, seconds: float
) -> None:
    assert load(tmp_path, with_system(f"    interval: {text}\n")).systems[0].interval == seconds


def test_yaml_1_1_booleans_stay_booleans_that_no_number_accepts(tmp_path: Path) -> None:
    # yes/no/on/off are still booleans (as YAML 1.1 says): a money or count field refuses
    # them rather than reading 1 or 0
    assert problems(tmp_path, cost("2000", annual="yes")) == [
        "config.yaml:2: cost.annual_cost_per_user: expected a number, got a boolean"]
    assert problems(tmp_path, with_system("    impact: on\n")) == [
        "config.yaml:5: systems[0].impact: expected a number, got a boolean"]


# --- `check` and the resolver itself --------------------------------------------------------------


@YAML_1_1
def test_check_never_turns_010_users_into_8(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, cost("010"))
    assert main(["check", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert f"{path}:3: cost.concurrent_users: {LEADING_ZERO}write 10, not 010" in err
    assert not re.search(r"\b8\b", (out + err).replace(str(path), "")), out + err


def test_check_costs_2000_users_at_the_hand_figure(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # 2,000 x £25,000 / 1,924 h = 2,000 x £12.99376 = £25,987.53 per hour
    assert main(["check", "-c", str(write(tmp_path, cost("+2000", annual="2.5e4")))]) == 0
    out = capsys.readouterr().out
    assert "Peak cost of a full outage: 2,000 \N{MULTIPLICATION SIGN} £12.9938 = £25,987.53" in out
    assert round(2000 * HOURLY, 2) == 25987.53


@pytest.mark.parametrize(
    ("text", "tag"),
    [("010", "int"), ("0o10", "int"), ("0x10", "int"), ("-5", "int"), ("1e5", "float"),
     (".5", "float"), (".inf", "float"), (".nan", "float"), ("1:30:00", "str"), ("0b11", "str"),
     ("25_000", "str"), ("1_000.5", "str"), ("yes", "bool"), ("~", "null")],
)
def test_the_resolver_tags_each_form_as_yaml_1_2_does(text: str, tag: str) -> None:
    # fails if a PyYAML upgrade changes the tables CoreResolver copies
    resolved = CoreResolver().resolve(yaml.ScalarNode, text, (True, False))
    assert resolved == f"tag:yaml.org,2002:{tag}"


def test_the_pure_python_loader_reads_numbers_as_libyaml_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without libyaml (or for a file it leaves to PyYAML's own composer) the same table applies
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    assert load(tmp_path, cost("2e3", annual="+25000")).cost.users.default == 2000
    assert problems(tmp_path, cost("010")) == [
        f"config.yaml:3: cost.concurrent_users: {LEADING_ZERO}write 10, not 010{QUOTE}"]
    assert problems(tmp_path, cost("1:30:00")) == [
        "config.yaml:3: cost.concurrent_users: expected a number or a schedule (default, "
        "windows...), got a string"]

"""Single values (agent.config.values): durations parsed and written in their short form, and
a number YAML reads as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import format_duration, parse_duration

from .conftest import MINIMAL, problems

# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("30s", 30, id="seconds"),
        pytest.param("5m", 300, id="minutes"),
        pytest.param("2h", 7200, id="hours"),
        pytest.param("1d", 86400, id="days"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1h30m", 5400, id="combined"),
        pytest.param("1m30s250ms", 90.25, id="three-units"),
        pytest.param("1.5h", 5400, id="fraction"),
        pytest.param(" 5m ", 300, id="spaces-around"),
        pytest.param("90", 90, id="number-as-text"),
        pytest.param(45, 45, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param("0s", 0, id="zero"),
    ],
)
def test_parse_duration_accepts(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("5 minutes", id="words"),
        pytest.param("30s1h", id="wrong-order"),
        pytest.param("1h1h", id="repeated-unit"),
        pytest.param("-5s", id="negative-text"),
        pytest.param(-1, id="negative-number"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="infinity"),
        pytest.param(10**400, id="huge"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="none"),
        pytest.param("1w", id="weeks"),
    ],
)
def test_parse_duration_rejects_with_a_clear_message(text: Any) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "500ms"), (30, "30s"), (90, "1m30s"), (3600, "1h"), (93784, "1d2h3m4s"), (0, "0ms")],
)
def test_format_duration_writes_the_short_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- numbers --------------------------------------------------------------------------------------


def test_a_number_yaml_reads_as_text_gets_a_hint(tmp_path: Path) -> None:
    text = MINIMAL.replace("annual_cost_per_user: 25000", "annual_cost_per_user: '2.5e4'")
    assert problems(tmp_path, text) == [
        "config.yaml:1: cost.annual_cost_per_user: expected a number, got text: YAML reads "
        "'2.5e4' as text (quoted, or with '_'); write it bare: 2.5e4"]

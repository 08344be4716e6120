"""The systems list (agent.config.systems, with agent.config.timing's defaults): SLA as a
percent or a fraction, a bad default reported once, and dependency cycles found without
recursion."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import MINIMAL, load, problems, with_system


@pytest.mark.parametrize(
    ("sla", "fraction"),
    [
        pytest.param('"99.9%"', 0.999, id="percent"),
        pytest.param("0.999", 0.999, id="fraction"),
        pytest.param("1", 1.0, id="hundred-percent"),
    ],
)
def test_sla_as_percent_or_fraction(tmp_path: Path, sla: str, fraction: float) -> None:
    assert load(tmp_path, with_system(f"    sla: {sla}\n")).systems[0].sla == pytest.approx(
        fraction
    )


def test_a_bad_default_is_reported_once_not_once_per_system(tmp_path: Path) -> None:
    text = MINIMAL + '  - name: other\n    probe: {type: tcp, target: "o.example.internal:1"}\n'
    assert problems(tmp_path, f"defaults: {{timeout: 1m}}\n{text}") == [
        "config.yaml:1: defaults.timeout: timeout (1m) must be shorter than interval (30s)"
    ]


@pytest.mark.fault("defaults: {interval: 2s}, shorter than the retry_interval and timeout "
                   "the user never wrote", "each problem says that key's default and what to "
                   "set it to, at the interval the user wrote", area="Configuration")
def test_a_short_interval_names_the_defaults_it_clashes_with(tmp_path: Path) -> None:
    assert problems(tmp_path, f"defaults: {{interval: 2s}}\n{MINIMAL}") == [
        "config.yaml:1: defaults.interval: timeout defaults to 10s, which must be shorter "
        "than interval (2s); set timeout below 2s",
        "config.yaml:1: defaults.interval: retry_interval defaults to 5s, which must be no "
        "longer than interval (2s); set retry_interval: 2s or less",
    ]


def test_a_long_dependency_chain_is_checked_without_recursion(tmp_path: Path) -> None:
    count = 1100  # deeper than Python's recursion limit
    lines = [
        f'  - {{name: s{i}, probe: {{type: tcp, target: "h:1"}}, depends_on: [s{(i + 1) % count}]}}'
        for i in range(count)
    ]
    text = "cost: {hourly_cost_per_user: 1, concurrent_users: 1}\nsystems:\n" + "\n".join(lines)
    cycle = " -> ".join(f"s{i}" for i in [*range(count), 0])
    assert problems(tmp_path, text) == [
        f"config.yaml:{count + 2}: systems[{count - 1}].depends_on[0]: dependency cycle: {cycle}"
    ]

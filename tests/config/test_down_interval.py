"""down_interval is optional at every level: unset, a confirmed outage is re-probed at the
system's interval (the engine reads None so), as Nagios and Uptime Kuma do."""

from __future__ import annotations

from pathlib import Path

from .conftest import MINIMAL, load, with_system


def test_a_system_without_down_interval_anywhere_has_none(tmp_path: Path) -> None:
    assert load(tmp_path, MINIMAL).systems[0].down_interval is None


def test_a_system_inherits_down_interval_from_defaults(tmp_path: Path) -> None:
    text = "defaults: {down_interval: 45s}\n" + with_system("    interval: 1m\n")
    assert load(tmp_path, text).systems[0].down_interval == 45

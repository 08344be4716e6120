"""`outage-agent check` with measured users: it validates a source without reading it;
`--connect` reads each source once (a real command here) and prints what it gave, or warns
that the fallback would be in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main


def measured(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "read"
    config = tmp_path / "config.yaml"
    config.write_text(f"""\
cost:
  annual_cost_per_user: 25000
  groups:
    desk:
      concurrent_users:
        source: {{type: command, command: [/bin/sh, -c, "touch {marker}; echo 812"]}}
        fallback: 100
    phones:
      concurrent_users:
        source: {{type: http_json, url: "http://127.0.0.1:9/s", path: n, max: 10}}
        fallback: 100
systems:
  - name: email
    probe: {{type: tcp, target: "127.0.0.1:9"}}
    users: {{desk: 1}}
agent: {{ledger: {tmp_path / "ledger.db"}}}
""")
    return config, marker


def test_check_validates_a_source_without_reading_it(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config, marker = measured(tmp_path)
    assert main(["check", "-c", str(config)]) == 0
    assert not marker.exists()
    assert "users of group" not in capsys.readouterr().out


def test_check_connect_reads_each_source_once_and_prints_the_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, marker = measured(tmp_path)
    assert main(["check", "-c", str(config), "--connect"]) == 0
    out = capsys.readouterr().out
    assert marker.exists()
    assert f"users of group desk (command /bin/sh -c touch {marker}; echo 812): 812\n" in out
    assert ("warning: users of group phones (http_json http://127.0.0.1:9/s): connection "
            "refused; the fallback would be in force\n") in out

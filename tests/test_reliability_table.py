"""README's Reliability table and docs/reliability.md are what the `fault` markers say."""

from __future__ import annotations

import subprocess
import sys

from reliability_table import BEGIN, END, ROOT, Row, area_of, readme_text, table


def test_readme_and_docs_match_the_fault_markers() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.reliability_table", "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_table_rows_escape_pipes_and_list_every_test() -> None:
    rows = [Row("Targets", "a | b", "down", ["t.py::one", "t.py::two"])]
    assert table(rows, with_tests=True).splitlines()[2] == (
        "| Targets | a \\| b | down | `t.py::one`<br>`t.py::two` |")
    assert table(rows, with_tests=False).splitlines()[2] == "| Targets | a \\| b | down |"


def test_readme_text_replaces_only_between_the_markers() -> None:
    readme = f"intro\n{BEGIN}\nold table\n{END}\nafter\n"
    new = readme_text(readme, [Row("X", "fault", "outcome")])
    assert new.startswith(f"intro\n{BEGIN}\n| area |") and new.endswith(f"{END}\nafter\n")
    assert "old table" not in new


def test_area_comes_from_the_marker_or_the_test_file() -> None:
    assert area_of("tests/probes/test_http.py", None) == "Targets (probes)"
    assert area_of("tests/probes/test_http.py", "Security") == "Security"
    assert area_of("tests/test_something_new.py", None) == "Agent process"

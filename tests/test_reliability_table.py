"""docs/reliability.md's table and README's summary of it are what the `fault` markers say."""

from __future__ import annotations

import subprocess
import sys

from reliability_table import (
    BEGIN,
    END,
    ROOT,
    Row,
    anchor,
    area_of,
    docs_text,
    readme_text,
    summary,
    table,
)


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


def test_readme_counts_each_area_and_links_to_its_section_of_the_docs() -> None:
    rows = [Row("Targets (probes)", "a", "down"), Row("Targets (probes)", "b", "down"),
            Row("HTTP server and API", "c", "400")]
    assert summary(rows).splitlines()[2:] == [
        "| [Targets (probes)](docs/reliability.md#targets-probes) | 2 |",
        "| [HTTP server and API](docs/reliability.md#http-server-and-api) | 1 |",
        "| all | 3 |"]
    assert "## Targets (probes)\n" in docs_text(rows)
    assert anchor("Reports and imports") == "reports-and-imports"

"""Every command's --help names its exit codes, and docs/cli.md lists every command.

The commands are read from `outage-agent --help`, as a user finds them, so a new command
without its exit codes, or missing from the reference, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.cli import main

CLI_PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# "Exit codes: 0 ...; 2 ..." in a description or an epilog, however argparse wraps it.
EXIT_CODES = re.compile(r"exit\s+codes:\s+0\b.*\b2\b", re.IGNORECASE | re.DOTALL)


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def commands(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The commands `outage-agent --help` lists, in its order."""
    listing = help_text(capsys).partition("COMMAND\n")[2].partition("\noptions:")[0]
    return re.findall(r"^ {4}([a-z][a-z-]*)\b", listing, re.MULTILINE)


def test_the_command_list_is_read(capsys) -> None:
    found = commands(capsys)
    assert {"init", "run", "check", "report", "import-systems", "estimate"} <= set(found)
    assert len(found) >= 17


def test_the_program_help_names_its_exit_codes(capsys) -> None:
    assert EXIT_CODES.search(help_text(capsys))


def test_every_command_help_names_its_exit_codes(capsys) -> None:
    missing = [name for name in commands(capsys)
               if not EXIT_CODES.search(help_text(capsys, name))]
    assert missing == []


def test_the_command_line_reference_lists_every_command(capsys) -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    assert [name for name in commands(capsys) if f"`outage-agent {name}" not in page] == []

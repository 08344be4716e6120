"""-o's file, one rule for every command that writes one (init, import-systems, export, report,
dashboards): only a regular file is ever replaced, and only with --force; a symlink is
followed to the regular file it names; the format is the one -o's extension names. And a
reader that closes standard output early (`| head -1`) is no traceback."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.ledgerparts import HOUR, at, store, window, write_config

from agent.cli import main
from agent.ledger import Ledger

SYSTEMS = """\
- name: web
  probe: {type: tcp, target: "127.0.0.1:9"}
"""
NOVEMBER = ["--from", "2026-11-01", "--to", "2026-12-01"]
INVENTORY = "name,type,target\nweb,http,http://web.example.internal/\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose ledger holds one window of web, in November 2026."""
    path = write_config(tmp_path, SYSTEMS)
    ledger = Ledger(str(tmp_path / "ledger.db"), "shire-hall")
    ledger.open()
    start = at("2026-11-03 09:00")
    store(ledger, window("web", start, start + HOUR, cost=100.0))
    ledger.close()
    ledger.dispose()
    return path


def command(name: str, config: Path, out: Path) -> list[str]:
    """The command line of `name` writing -o `out`."""
    inventory = config.with_name("inventory.csv")
    inventory.write_text(INVENTORY)
    return {
        "init": ["init", "-o", str(out)],
        "import-systems": ["import-systems", str(inventory), "-o", str(out)],
        "export": ["export", "-c", str(config), "-o", str(out)],
        "report": ["report", "-c", str(config), *NOVEMBER, "-o", str(out)],
    }[name]


def fifo(path: Path) -> str:
    os.mkfifo(path)
    return "a FIFO"


def unix_socket(path: Path) -> str:
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))
    return "a socket"


def device(path: Path) -> str:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # /dev/null's numbers
    return "a device"


def link_to_a_fifo(path: Path) -> str:
    os.mkfifo(path.with_name("target"))
    path.symlink_to("target")
    return "a FIFO"


# Writing into a FIFO waits for a reader: export and report are shown only the others, which
# before the fix they wrote into (the device) or failed on (the socket) rather than hang.
CASES = [(name, make) for name in ("init", "import-systems")
         for make in (fifo, unix_socket, device, link_to_a_fifo)]
CASES += [(name, make) for name in ("export", "report") for make in (unix_socket, device)]


@pytest.mark.fault("init, import-systems, export or report -o onto a FIFO, socket or device "
                   "(or a symlink to one) with --force", "refused in one line, exit 2; the "
                   "special file is left as it was", area="Command line")
@pytest.mark.parametrize(("name", "make"), CASES,
                         ids=[f"{name}-{make.__name__}" for name, make in CASES])
def test_force_never_replaces_anything_but_a_regular_file(
        tmp_path, config, capsys, name: str, make: Callable[[Path], str]):
    out = tmp_path / "out.json"
    kind = make(out)
    before = os.stat(out)
    capsys.readouterr()
    assert main([*command(name, config, out), "--force"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{out}: is {kind}, not a regular file; not writing over it"]
    after = os.stat(out)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (
        before.st_ino, before.st_mode, before.st_rdev)


@pytest.mark.parametrize("name", ["init", "import-systems", "export", "report"])
def test_force_writes_through_a_symlink_to_a_regular_file_and_keeps_the_link(
        tmp_path, config, capsys, name):
    target, link = tmp_path / "target.json", tmp_path / "out.json"
    target.write_text("mine\n")
    target.chmod(0o640)
    link.symlink_to(target.name)
    assert main(command(name, config, link)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{link}: already exists; give --force to overwrite it"]
    assert main([*command(name, config, link), "--force"]) == 0
    assert link.is_symlink() and target.read_text() != "mine\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_a_symlink_to_nothing_is_not_written_through(tmp_path, capsys):
    link = tmp_path / "config.yaml"
    link.symlink_to(tmp_path / "elsewhere.yaml")
    assert main(["init", "-o", str(link), "--force"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{link}: a symlink to nothing; not writing through it"]
    assert not (tmp_path / "elsewhere.yaml").exists()


def test_dashboards_refuse_a_fifo_in_place_of_a_dashboard(tmp_path, capsys):
    assert main(["dashboards", "-o", str(tmp_path)]) == 0
    board = tmp_path / "outage-cost-overview.json"
    board.unlink()
    os.mkfifo(board)
    assert main(["dashboards", "-o", str(tmp_path)]) == 2
    assert f"{board}: is a FIFO, not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(board).st_mode)


@pytest.mark.fault("report -o onto an existing file; report -o r.json without --format",
                   "the file is kept, exit 2, unless --force; JSON, as the extension says "
                   "(as export does)", area="Command line")
def test_report_writes_the_format_its_file_names_and_never_overwrites_unasked(
        tmp_path, config, capsys):
    important = tmp_path / "important.md"
    important.write_text("minutes of the board\n")
    assert main(command("report", config, important)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{important}: already exists; give --force to overwrite it"]
    assert important.read_text() == "minutes of the board\n"
    assert main([*command("report", config, important), "--force"]) == 0
    assert important.read_text().startswith("#")
    as_json = tmp_path / "r.json"
    assert main(command("report", config, as_json)) == 0
    assert as_json.read_text().lstrip().startswith("{")
    assert main([*command("report", config, tmp_path / "r.csv"), "--format", "md"]) == 0
    assert (tmp_path / "r.csv").read_text().startswith("#")  # --format wins


@pytest.mark.parametrize("name", ["init", "import-systems", "export", "report"])
def test_a_directory_as_o_is_one_line_and_exit_2(tmp_path, config, capsys, name):
    capsys.readouterr()
    assert main([*command(name, config, tmp_path), "--force"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{tmp_path}: is a directory, not a regular file; not writing over it"]


@pytest.mark.parametrize("name", ["init", "import-systems", "export", "report"])
def test_an_empty_o_says_so(tmp_path, config, capsys, name):
    capsys.readouterr()
    assert main([*command(name, config, tmp_path)[:-1], ""]) == 2
    assert capsys.readouterr().err.splitlines() == ["-o: empty path"]


@pytest.mark.fault("`outage-agent check ... | head -1` (standard output closed early), for a "
                   "short and a long output", "no traceback: exit 141, as a tool killed by "
                   "SIGPIPE", area="Command line")
@pytest.mark.parametrize("rows", [1, 5000], ids=["short", "long"])
def test_a_reader_closing_stdout_early_is_no_traceback(tmp_path, rows):
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("name,type,target\n" + "".join(
        f"web-{n},http,http://web-{n}.example.internal/\n" for n in range(rows)))
    config = write_config(tmp_path, SYSTEMS)
    for args in (["check", "-c", str(config)], ["import-systems", str(inventory)]):
        agent = subprocess.Popen(["outage-agent", *args], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        assert agent.stdout is not None and agent.stderr is not None
        agent.stdout.close()  # before the agent writes: every write it makes finds no reader
        err = agent.stderr.read()
        assert (agent.wait(timeout=60), err) == (141, ""), args

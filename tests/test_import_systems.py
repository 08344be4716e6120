"""`outage-agent import-systems`: an inventory CSV becomes a `systems:` list that the real
config loader accepts, or is refused whole with every problem at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.config import load_config
from agent.model import CommandProbe, DnsProbe, HttpProbe, IcmpProbe, TcpProbe

HEADER = "name,type,target,users_share,impact,depends_on,owner,supplier,tier\n"
INVENTORY = HEADER + """\
network-core,tcp,core.example.internal:443,1.0,1.0,,Infrastructure,Example Networks,1
email,http,https://mail.example.gov.uk/health,0.9,0.5,network-core,Messaging,,2
dns,DNS,intranet.example.internal,1,0.8,network-core,,,
router,icmp,core-router.example.internal,,,,,,
backup-disk,command,"/usr/lib/nagios/plugins/check_disk -w '10%' -c 5% -p /backup",0,0,\
router; network-core,"${TEAM} ops",,
"""
COST = "cost: {currency: GBP, annual_cost_per_user: 25000, concurrent_users: 2000}\n"


def convert(tmp_path: Path, text: str, *options: str) -> int:
    csv = tmp_path / "inventory.csv"
    csv.write_text(text, encoding="utf-8")
    return main(["import-systems", str(csv), *options])


def problems(tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str) -> list[str]:
    """The problem lines for HEADER + rows, which must be refused with exit 2."""
    assert convert(tmp_path, HEADER + rows) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    *lines, last = captured.err.splitlines()
    assert last.endswith("inventory.csv: refused; nothing was written")
    return lines


def test_converted_systems_spliced_into_a_config_pass_check(tmp_path, capsys):
    assert convert(tmp_path, INVENTORY) == 0
    config = tmp_path / "config.yaml"
    config.write_text(COST + capsys.readouterr().out)
    assert main(["check", "-c", str(config)]) == 0
    systems = {s.name: s for s in load_config(config, env={}).systems}
    assert list(systems) == ["network-core", "email", "dns", "router", "backup-disk"]
    core = systems["network-core"]
    assert core.check.spec == TcpProbe(target="core.example.internal:443")
    assert (core.owner, core.supplier, core.tier) == ("Infrastructure", "Example Networks", "1")
    assert systems["email"].check.spec == HttpProbe(url="https://mail.example.gov.uk/health")
    assert (systems["email"].users_share, systems["email"].impact) == (0.9, 0.5)
    assert systems["dns"].check.spec == DnsProbe(name="intranet.example.internal")
    assert systems["router"].check.spec == IcmpProbe(host="core-router.example.internal")
    assert (systems["router"].users_share, systems["router"].impact) == (1.0, 1.0)  # defaults


def test_a_command_is_split_as_a_shell_would_and_depends_on_takes_semicolons_or_spaces(
        tmp_path, capsys):
    convert(tmp_path, INVENTORY)
    config = tmp_path / "config.yaml"
    config.write_text(COST + capsys.readouterr().out)
    disk = load_config(config, env={}).system("backup-disk")
    assert disk.check.spec == CommandProbe(command=(
        "/usr/lib/nagios/plugins/check_disk", "-w", "10%", "-c", "5%", "-p", "/backup"))
    assert disk.depends_on == ("router", "network-core")
    assert disk.owner == "${TEAM} ops"  # a cell is text, never an environment variable


def test_output_goes_to_a_file_with_o_and_is_not_written_over(tmp_path, capsys):
    out = tmp_path / "systems.yaml"
    assert convert(tmp_path, INVENTORY, "-o", str(out)) == 0
    assert capsys.readouterr().out == ""
    (tmp_path / "config.yaml").write_text(COST + out.read_text())
    assert len(load_config(tmp_path / "config.yaml", env={}).systems) == 5
    assert convert(tmp_path, INVENTORY, "-o", str(out)) == 2
    assert "already exists; give --force" in capsys.readouterr().err
    assert convert(tmp_path, INVENTORY, "-o", str(out), "--force") == 0


@pytest.mark.fault("import-systems: an inventory with an unknown type, a bad number, a "
                   "duplicate name, an unknown dependency, a cycle, unclosed quotes",
                   "refused whole, exit 2, every problem at file:line:column; nothing written",
                   area="Reports and imports")
def test_every_problem_is_named_at_its_line_and_column(tmp_path, capsys):
    rows = ("a,htp,https://a.example/,1,1,,,,\n"
            "b,tcp,b.example:1,abc,2,zz,,,\n"
            "a,tcp,a.example:1,,,,,,\n"
            "c,tcp,c.example:1,,,d,,,\n"
            "d,tcp,d.example:1,,,c,,,\n"
            "e,command,\"check 'unclosed\",,,,,,\n"
            ",tcp,,,,,,,\n")
    assert problems(tmp_path, capsys, rows) == [
        "inventory.csv:2:2: type: unknown probe type 'htp'; did you mean 'http'?",
        "inventory.csv:3:4: users_share: expected a number, got a string",
        "inventory.csv:3:5: impact: must be between 0 and 1",
        "inventory.csv:3:6: depends_on: unknown system 'zz'",
        "inventory.csv:4:1: name: duplicate system name 'a' (first on line 2)",
        "inventory.csv:6:6: depends_on: dependency cycle: c -> d -> c",
        "inventory.csv:7:3: target: cannot split the command line: No closing quotation",
        "inventory.csv:8:1: name: empty, but required",
        "inventory.csv:8:3: target: empty, but required",
    ]


def test_a_value_spanning_lines_puts_later_rows_on_their_own_lines(tmp_path, capsys):
    rows = ('a,tcp,a.example:1,,,,"two\nline owner",,\n'
            "b,tcp,b.example:1,,,,,,\n"
            "c,tcp,c.example:1,,,nope,,,\n")
    assert problems(tmp_path, capsys, rows) == [
        "inventory.csv:5:6: depends_on: unknown system 'nope'"]


def test_nothing_is_written_to_o_when_the_file_is_refused(tmp_path, capsys):
    out = tmp_path / "systems.yaml"
    assert convert(tmp_path, HEADER + "a,tcp,nohost,,,,,,\n", "-o", str(out)) == 2
    assert "inventory.csv:2:3: target: expected host:port" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("name,type,targt\n", ["inventory.csv:1:3: unknown column 'targt'; did you "
                                      "mean 'target'?",
                                      "inventory.csv:1: missing column 'target'"],
                 id="unknown-column"),
    pytest.param("name,type,target,name\n", ["inventory.csv:1:4: column 'name' given twice"],
                 id="column-twice"),
    pytest.param("", ["inventory.csv:1: empty file: expected a header, "
                      "name,type,target,users_share,impact,depends_on,owner,supplier,tier"],
                 id="empty"),
    pytest.param("name,type,target\n", ["inventory.csv: no systems: the file has a header "
                                        "and no rows"], id="no-rows"),
    pytest.param("name,type,target\na,tcp\n", ["inventory.csv:2: expected 3 cells "
                                               "(name,type,target), got 2"], id="short-row"),
])
def test_a_file_of_the_wrong_shape_is_refused(tmp_path, capsys, text, expected):
    assert convert(tmp_path, text) == 2
    assert capsys.readouterr().err.splitlines()[:-1] == expected


def test_only_the_required_columns_in_any_order_with_a_bom(tmp_path, capsys):
    text = "\ufeffTarget,Name,Type\nhttps://a.example/,a,http\n"
    assert convert(tmp_path, text) == 0
    (tmp_path / "config.yaml").write_text(COST + capsys.readouterr().out)
    assert load_config(tmp_path / "config.yaml", env={}).systems[0].check.spec == HttpProbe(
        url="https://a.example/")


def test_an_unreadable_inventory_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["import-systems", str(tmp_path / "absent.csv")]) == 2
    expected = f"{tmp_path / 'absent.csv'}: No such file or directory"
    assert capsys.readouterr().err.strip() == expected


def test_import_systems_help_names_its_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["import-systems", "--help"])
    assert "exit codes: 0 converted" in capsys.readouterr().out

"""`outage-agent estimate`: the council's arithmetic, reproduced with its working shown."""

from __future__ import annotations

import pytest

from agent.cli import main

COUNCIL = ["estimate", "--users", "2000", "--annual-cost", "25000"]


@pytest.mark.parametrize("outage", ["21.55h", "21h33m", "1293m"])
def test_the_council_s_month_costs_560031(capsys, outage):
    # By hand: 2,000 x £25,000 / 1,924 h = £25,987.526 an hour; x 21.55 h = £560,031.19.
    assert main([*COUNCIL, "--outage", outage]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Hourly cost of a full outage: 2,000 users \N{MULTIPLICATION SIGN} £25,000 / 1,924 h "
        "= £25,987.53 per hour",
        "  (£12.99 per user-hour: £25,000 a year / 1,924 working hours)",
        "Outage: 21.55 h (21h 33m)",
        "Cost: 21.55 h \N{MULTIPLICATION SIGN} £25,987.53 per hour = £560,031",
        "An estimate of productivity cost: the staff time lost while nobody can work, not a "
        "measured loss.",
    ]


def test_other_working_hours_and_currency(capsys):
    # 100 x 40,000 / 2,000 h = 2,000 an hour; 90 min = 3,000.
    args = ["estimate", "--users", "100", "--annual-cost", "40000", "--hours-per-year", "2000",
            "--outage", "1h30m", "--currency", "CHF"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "100 users \N{MULTIPLICATION SIGN} 40,000 CHF / 2,000 h = 2,000.00 CHF per hour" in out
    assert "Cost: 1.5 h \N{MULTIPLICATION SIGN} 2,000.00 CHF per hour = 3,000 CHF" in out


@pytest.mark.parametrize(("outage", "message"), [
    ("21.55", "--outage: give the outage with a unit, e.g. 21.55h or 21h33m"),
    ("a while", "--outage: not a valid duration"),
])
def test_an_outage_without_a_unit_is_refused(capsys, outage, message):
    assert main([*COUNCIL, "--outage", outage]) == 2
    assert capsys.readouterr().err.startswith(message)


@pytest.mark.parametrize("figures", [
    ["--users", "1e308", "--annual-cost", "1e308"],
    ["--users", "2000", "--annual-cost", "inf"],
    ["--users", "nan", "--annual-cost", "25000"],
    ["--users", "2000", "--annual-cost", "25000", "--hours-per-year", "1e-300"],
])
def test_figures_too_large_for_money_are_refused_not_printed_as_inf(capsys, figures):
    code = main(["estimate", *figures, "--outage", "1h"])
    said = capsys.readouterr()
    assert code == 2, said.out
    assert "inf" not in said.out.lower() and "nan" not in said.out.lower()
    assert "at most 1e+15" in said.err or "too large a number" in said.err

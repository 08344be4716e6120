"""`outage-agent check` prints, for a system others depend on, the burn rate a running agent
shows for it when it and its dependants are down: check's PEAK COST/HOUR equals the live
outage_cost_per_hour of a real agent against loopback targets, to the penny."""

from __future__ import annotations

import re

import pytest
from support.realparts import configured_agent, fast_config, http_targets, wait_for

from agent.cli import main

CONFIG = fast_config("""\
  - name: network-core
    probe: {{type: http, url: "{core}"}}
    users_share: 0.3
    direct_cost_per_hour: 100
  - name: email
    depends_on: [network-core]
    probe: {{type: http, url: "{email}"}}
    users_share: 0.9
    impact: 0.5
    direct_cost_per_hour: 40
""")


def checked_peaks(out: str) -> dict[str, float]:
    """Given what check printed, return each system's PEAK COST/HOUR."""
    return {name: float(money.replace(",", "")) for name, money in
            re.findall(r"^(\S+) +http \S+ +\d+% +£([\d,]+\.\d\d)$", out, re.MULTILINE)}


def test_check_peak_equals_the_live_burn_rate_of_a_system_down_with_its_dependant(
    tmp_path, capsys: pytest.CaptureFixture[str]
):
    targets = http_targets("core", "email")
    agent = configured_agent(tmp_path, CONFIG, core=targets["core"].url,
                             email=targets["email"].url)
    assert main(["check", "-c", str(agent.config)]) == 0
    # 2,000 x £12.99376 x 0.615 = £15,982.33, plus network-core's own £100 (email's £40 is
    # billed on email's series)
    peaks = checked_peaks(capsys.readouterr().out)
    assert peaks == {"network-core": 16082.33, "email": 11734.39}
    try:
        agent.start_all_up()
        targets["core"].down()
        targets["email"].down()
        wait_for("email down behind network-core", lambda: (
            agent.systems()["email"]["state"], agent.systems()["email"]["cause"])
            == ("down", "network-core"))
        rates = agent.metrics()
    finally:
        agent.stop()
        for target in targets.values():
            target.down()
    assert round(rates['outage_cost_per_hour{system="network-core"}'], 2) == peaks["network-core"]
    assert rates['outage_cost_per_hour{system="email"}'] == pytest.approx(40.0)

"""The evidence a report prints beside a window (agent.report.evidence): a service's members'
windows that overlap it, and the bodies of the pings that opened or closed a heartbeat's."""

from __future__ import annotations

import dataclasses

from support.helpers import config, system
from support.ledgerparts import window

from agent.ledger import StoredWindow
from agent.model import Check
from agent.records import PingRecord
from agent.report.evidence import Evidence, members_evidence, pings_evidence
from agent.services import ServiceSpec

T = 1_800_000_000.0


def stored(*records) -> list[StoredWindow]:
    return [StoredWindow(id=k + 1, record=r) for k, r in enumerate(records)]


def test_a_service_window_lists_its_members_windows_that_overlap_it() -> None:
    exchange = dataclasses.replace(system("exchange"), check=Check(
        ServiceSpec(("exch-1", "exch-2"), 2, 1), timeout=0.0))
    cfg = config(system("exch-1"), system("exch-2"), system("other"), exchange)
    windows = stored(
        dataclasses.replace(window("exch-1", T, T + 7200), reason="connection refused"),
        window("exch-2", T + 3600, T + 5400),
        window("exchange", T, T + 3600, state="degraded"),
        window("exchange", T + 3600, T + 5400),
        window("exchange", T + 5400, T + 7200, state="degraded"),
        window("other", T, T + 60),  # not a member: never evidence
        window("exch-2", T + 9000, None),  # after the service's windows: none of theirs
    )
    found = members_evidence(windows, cfg)
    assert found[3] == (Evidence("exch-1", "down", T, T + 7200, "connection refused"),)
    assert [(e.system, e.start) for e in found[4]] == [("exch-1", T), ("exch-2", T + 3600)]
    assert [e.system for e in found[5]] == ["exch-1"]  # exch-2's window ended as it began
    assert set(found) == {3, 4, 5}


def test_a_config_without_services_has_no_member_evidence() -> None:
    assert members_evidence(stored(window("a", T, T + 60)), config(system("a"))) == {}


def test_a_heartbeat_window_lists_the_pings_from_its_start_to_its_end() -> None:
    windows = stored(window("payroll", T, T + 3600), window("payroll", T + 9000, None))
    pings = {"payroll": [PingRecord("payroll", T - 5, "start", "starting"),
                         PingRecord("payroll", T, "fail", "ORA-01555: snapshot too old"),
                         PingRecord("payroll", T + 3600, "success", "exported 1,204 rows"),
                         PingRecord("payroll", T + 9100, "exit 3", "disk full")]}
    found = pings_evidence(windows, pings)
    assert [(e.state, e.text) for e in found[1]] == [
        ("fail", "ORA-01555: snapshot too old"), ("success", "exported 1,204 rows")]
    assert [(e.state, e.start) for e in found[2]] == [("exit 3", T + 9100)]

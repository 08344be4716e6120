"""The counters a scrape may serve: never more than a restart would restore from the ledger and
its journal, or a crash would make them go down (a reset to Prometheus, and live figures that
disagree with reports).

A scrape's figures are safe once committed or journaled (agent.ledger.Outcome). When both fail
(one full disk holds the ledger and its journal) they are in memory only: the counters are then
served as the latest safe snapshot had them, and catch up once a write succeeds again. Gauges
(burn rate, today's cost, state) stay live: a restart never makes them lie about the past.
"""

from __future__ import annotations

import dataclasses

from agent.records import Amounts
from agent.views import GroupView, SystemView


class SafeCounters:
    """The counters of the latest snapshot known safe, by system and group of people."""

    def __init__(self) -> None:
        self._taken = -1  # which snapshot they come from: concurrent scrapes may end unordered
        self._systems: dict[str, SystemView] = {}
        self._groups: dict[str, float] = {}

    def keep(self, taken: int, views: list[SystemView], groups: list[GroupView]) -> None:
        """Remember the counters of the `taken`-th snapshot, known safe, unless a later one
        is already remembered."""
        if taken > self._taken:
            self._taken = taken
            self._systems = {view.name: view for view in views}
            self._groups = {group.name: group.cost_total for group in groups}

    def serve(self, taken: int, safe: bool, views: list[SystemView],
              groups: list[GroupView]) -> tuple[list[SystemView], list[GroupView]]:
        """Given the `taken`-th snapshot and whether it is safe, return what a scrape serves:
        the snapshot itself if safe, else with its counters as of the latest safe one (none
        for a system or group it lacked, as a restart would restore)."""
        if safe:
            self.keep(taken, views, groups)
            return views, groups
        return ([self._held(view) for view in views],
                [dataclasses.replace(group, cost_total=self._groups.get(group.name, 0.0))
                 for group in groups])

    def _held(self, view: SystemView) -> SystemView:
        kept = self._systems.get(view.name)
        if kept is None:
            return dataclasses.replace(view, totals=Amounts(), incidents=0)
        return dataclasses.replace(view, totals=kept.totals, incidents=kept.incidents)

"""Planned maintenance the engine keeps: each system's calendar (its `maintenance` config) and
the ad-hoc periods `outage-agent maintenance` records while the agent runs."""

from __future__ import annotations

from collections.abc import Iterable

from agent.maintenance import MaintenanceCalendar
from agent.model import System

Period = tuple[float, float]


class PlannedWork:
    def __init__(self, systems: Iterable[System], timezone: str) -> None:
        self._calendars = {s.name: MaintenanceCalendar(s.maintenance, timezone)
                           for s in systems if s.maintenance}
        self._adhoc: dict[str, list[Period]] = {}

    def covers(self, name: str) -> bool:
        """Whether the system has any planned work at all (a calendar or an ad-hoc period)."""
        return name in self._calendars or name in self._adhoc

    def period(self, name: str, at: float) -> Period | None:
        """The planned period the system is in at `at`, if any."""
        calendar = self._calendars.get(name)
        found = calendar.active(at) if calendar is not None else None
        if found is not None:
            return found
        return next(((a, b) for a, b in self._adhoc.get(name, ()) if a <= at < b), None)

    def plan(self, name: str, start: float, end: float, at: float) -> None:
        """An ad-hoc period from start to end; end <= start ends the system's periods at
        `start` (and cancels later ones). Periods over by `at` are forgotten."""
        periods = [(a, b) for a, b in self._adhoc.get(name, []) if b > at]
        if end > start:
            periods.append((start, end))
        else:
            periods = [(a, min(b, start)) for a, b in periods if a < start]
        self._adhoc[name] = periods

    def adhoc(self, name: str, at: float) -> list[Period]:
        """The system's ad-hoc periods not over by `at`: running, or planned for later."""
        return [(a, b) for a, b in self._adhoc.get(name, ()) if b > at]

    def carry(self, old: PlannedWork, names: Iterable[str]) -> None:
        """Take over the ad-hoc periods of the systems still configured (a reload)."""
        kept = set(names)
        self._adhoc = {name: periods for name, periods in old._adhoc.items() if name in kept}

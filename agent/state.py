"""Debouncing probe results into a confirmed health, and deriving a system's state from it.

Pure code: every method takes the time of the observation, so tests can walk through days of
probes in microseconds. The tracker only counts streaks; the engine decides (with the
dependencies, canaries and maintenance in view) what a confirmed change means.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.model import State, Status

# Health levels: worse is larger, so a "worsening" streak is one of results above the level.
UP, DEGRADED, DOWN = 0, 1, 2
LEVEL = {Status.UP: UP, Status.DEGRADED: DEGRADED, Status.DOWN: DOWN}


@dataclass(frozen=True)
class Change:
    """A confirmed change of health: `level` holds since `since`, the first probe of the streak."""

    level: int
    since: float


class Tracker:
    """Confirm a change of health only after a run of consecutive results that agree.

    Given a health level, a run of results worse than it confirms the least bad of them after
    `failure_threshold` results; a run of better results confirms the worst of them after
    `success_threshold`. A result equal to the current level breaks any run. With no verdict
    yet (just started), one good result is enough: being up is not an event.
    """

    def __init__(self, failure_threshold: int, success_threshold: int) -> None:
        self.failure_threshold = failure_threshold
        self.success_threshold = success_threshold
        self.health: int | None = None
        self._run: list[tuple[float, int]] = []  # the current run of results that differ
        self.last_seen: float | None = None  # time of the latest result
        self.before_run: float | None = None  # the result before the current run began

    def _direction(self, level: int) -> int:
        """+1 if `level` is worse than the health, -1 if better, 0 if the same."""
        if self.health is None:
            return 1 if level > UP else -1
        return (level > self.health) - (level < self.health)

    def observe(self, status: Status, at: float) -> None:
        """Count one probe result; call `candidate()` to see whether it confirms a change."""
        level = LEVEL[status]
        direction = self._direction(level)
        if direction == 0 or (self._run and self._direction(self._run[0][1]) != direction):
            self._run.clear()
        if direction:
            if not self._run:
                self.before_run = self.last_seen
            self._run.append((at, level))
        self.last_seen = at

    def candidate(self) -> Change | None:
        """Return the change the current run would confirm, if it is long enough."""
        if not self._run:
            return None
        levels = [level for _, level in self._run]
        worse = self._direction(levels[0]) > 0
        if worse:
            needed = self.failure_threshold
        else:
            needed = 1 if self.health is None else self.success_threshold
        if len(levels) < needed:
            return None
        level = min(levels) if worse else max(levels)
        return Change(level=level, since=self._run[0][0])

    def confirm(self, change: Change) -> None:
        """Adopt a change returned by `candidate()`."""
        self.health = change.level
        self._run.clear()

    @property
    def run_start(self) -> float | None:
        """Start of the current run of results that differ from the health, if any."""
        return self._run[0][0] if self._run else None

    @property
    def failing(self) -> bool:
        """True while a run towards down is in progress but not yet confirmed."""
        return bool(self._run) and self._direction(self._run[0][1]) > 0 and any(
            level == DOWN for _, level in self._run
        )

    def forget(self) -> None:
        """Drop the confirmed health and any run: the next results confirm a state afresh,
        by the thresholds (after planned maintenance, whose failures proved nothing)."""
        self.health = None
        self._run.clear()

    def restore(self, level: int, at: float) -> None:
        """Resume with a health recorded before a restart (the ledger's open window)."""
        self.health = level
        self._run.clear()
        self.last_seen = at


@dataclass(frozen=True)
class Situation:
    """What, besides its own health, decides a system's state at one moment."""

    maintenance: bool = False
    blind: bool = False  # a canary is down: the agent cannot see the estate
    root_cause: str | None = None  # the confirmed-down dependency this system is down behind
    # The dependency (or its own planned cause) in planned maintenance: failing behind it is
    # part of the planned change, not an outage.
    planned_cause: str | None = None


def derive_state(health: int | None, situation: Situation) -> tuple[State, str | None]:
    """Given a confirmed health and its situation, return the state and its cause.

    Planned maintenance wins over everything, the system's own or a dependency's (then named
    as the cause); a blind agent bills nobody (unknown); a system down behind a down
    dependency carries that root cause, so its users are costed with the root cause's.
    """
    if health is None:
        return State.UNKNOWN, None
    if health == UP:
        return State.UP, None
    if situation.maintenance:
        return State.MAINTENANCE, None
    if situation.planned_cause is not None:
        return State.MAINTENANCE, situation.planned_cause
    if situation.blind:
        return State.UNKNOWN, None
    if health == DEGRADED:
        return State.DEGRADED, None
    return State.DOWN, situation.root_cause

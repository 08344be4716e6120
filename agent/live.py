"""One system as the engine keeps it while it runs (`Live`), and its windows (`OpenWindow`):
plain data the engine's parts share, with the two rules about windows every part needs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from agent.accounts import Member
from agent.model import ProbeResult, State, System
from agent.records import Amounts, Basis, WindowRecord
from agent.state import UP, Tracker


@dataclass(eq=False)
class OpenWindow:
    """A window as the engine keeps it: open, or closed with its money not yet final."""

    system: str
    state: State
    cause: str | None
    start: float
    before_start: float | None
    basis: Basis
    new_incident: bool
    amounts: Amounts = field(default_factory=Amounts)
    last_observed: float | None = None
    resumed_until: float | None = None  # after a restart: where an immediate recovery ends it
    reason: str = ""
    end: float | None = None
    before_end: float | None = None
    member: Member | None = None  # its part in the books, if it costs anything
    incident_start: float | None = None  # the incident it belongs to


@dataclass
class Live:
    """One system's running state: its tracker, open window and counters."""

    system: System
    tracker: Tracker
    canary: bool = False
    state: State = State.UNKNOWN
    cause: str | None = None
    window: OpenWindow | None = None
    totals: Amounts = field(default_factory=Amounts)
    incidents: int = 0
    days: dict[str, Amounts] = field(default_factory=dict)
    dirty_days: set[str] = field(default_factory=set)
    held: bool = False  # a confirmed outage waits for a dependency's verdict
    last_result: ProbeResult | None = None
    last_probe_at: float | None = None
    incident_start: float | None = None  # the open incident's start; None while there is none
    incident_cost: float = 0.0
    # The last incident to end: its start, when the agent knew it had ended (its end may be
    # dated back before then), and what its windows cost. Their money is credited up to the
    # horizon, so some may land after the end; a "resolved" message reports the whole.
    ended_start: float | None = None
    ended_at: float = 0.0
    ended_cost: float = 0.0
    in_maintenance: bool = False
    recoveries: list[float] = field(default_factory=list)  # starts of runs towards recovery
    maintenance_end: float | None = None
    faults: int = 0  # probes in a row the agent could not make (its own fault)
    # Down behind a root cause that has since recovered: failures seen since. Until it has
    # had as many probes as would confirm its own recovery, it stays behind that cause.
    grace: int | None = None
    # Its state and cause before the latest change, and where that change is recorded: what
    # a service reads it as at an earlier moment (agent.verdicts.derive_service).
    before: tuple[State, str | None] = (State.UNKNOWN, None)
    changed_at: float = float("-inf")
    followed: float = float("-inf")  # a service: the latest moment its members were read at

    def next_delay(self) -> float:
        """Seconds until the next probe: `retry_interval` while a change is in doubt,
        `down_interval` while failing with the outage confirmed, else `interval`."""
        if self.tracker.run_start is not None or self.grace is not None:
            return self.system.retry_interval
        if self.last_result is not None and not self.last_result.ok:
            return self.system.down_interval or self.system.interval
        return self.system.interval


def closed_after_gap(
    record: WindowRecord, last_seen: float, now: float, configured: bool
) -> list[WindowRecord]:
    """Close a window left open by an agent that was away too long (or a removed system);
    the unobserved time is recorded as unknown, which costs nothing."""
    closed = dataclasses.replace(record, end=last_seen, before_end=last_seen)
    if not configured or now <= last_seen:
        return [closed]
    gap_start = max(last_seen, record.start + 0.001)  # (system, start) is the window's key
    gap = dataclasses.replace(
        record, state=State.UNKNOWN.value, cause=None, start=gap_start, end=now,
        before_start=gap_start, before_end=now, last_observed=None, accounted_until=now,
        amounts=Amounts(), new_incident=False, reason="agent not running",
    )
    return [closed, gap]


def window_open(state: State, health: int | None) -> bool:
    """Whether a state is recorded as a window: anything but up, once health is known."""
    return state is not State.UP and health is not None and health != UP

"""What decides a system's state besides its own probes: dependencies, canaries, planned
work, flapping, the agent's own blindness; and a service's, which has no probes (its
members'). Functions of the engine's running state (lives), read by `Engine`, which makes
the transitions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from agent.live import Live
from agent.model import State
from agent.services import ServiceSpec, as_result, is_service, judge, members_of, within
from agent.state import DOWN, UP, Change, Situation

VERDICT_SLACK = 1.0  # seconds a suspect's probe may run late before it no longer holds anyone


def flapping_hold(live: Live, change: Change, at: float) -> bool:
    """Hold back the recovery of a flapping system until it has lasted half the flap
    window; count the recoveries that do go through."""
    health = live.tracker.health
    if health is None or change.level >= health or health == UP:
        return False
    system = live.system
    live.recoveries = [t for t in live.recoveries if t > at - system.flap_window]
    flapping = 0 < system.flap_threshold <= len(live.recoveries)
    if not live.recoveries or live.recoveries[-1] != change.since:
        live.recoveries.append(change.since)  # held recoveries count too: hysteresis
    if flapping and at - change.since < system.flap_window / 2:
        if live.window is not None and not live.window.reason.startswith("flapping"):
            live.window.reason = (f"flapping: {len(live.recoveries)} recoveries in "
                                  f"{system.flap_window:g}s")
        return True
    return False

def awaiting_verdict(live: Live, lives: Mapping[str, Live], canaries: Sequence[Live],
                     at: float) -> bool:
    """True while a dependency or canary may yet be found the cause of this system's
    failure: it is failing but not yet confirmed down, or it has not been probed since this
    system began to fail (they failed together and this one happened to be probed first) and
    its next probe is due. The outage, once confirmed, still starts at its first failure."""
    if live.canary:
        return False
    since = live.tracker.run_start
    suspects = probed_behind(live.system.depends_on, lives) + list(canaries)
    return any(s.tracker.health != DOWN and (
        s.tracker.failing or s.held or (since is not None and _unseen_since(s, since, at)))
        for s in suspects)


def probed_behind(names: Sequence[str], lives: Mapping[str, Live]) -> list[Live]:
    """The probed systems whose verdicts decide `names`: a service (agent.services) stands
    for its members, through services of services."""
    found = [lives[name] for name in within(names, lambda name: members_of(lives[name].system))]
    return [live for live in found if not is_service(live.system)]


def _unseen_since(suspect: Live, since: float, at: float) -> bool:
    """Not probed since `since`, and a probe is due before long (bounded: a suspect whose
    probes stopped holds nobody for ever)."""
    if suspect.in_maintenance:  # whatever it says, failing behind it is planned
        return False
    seen = suspect.last_probe_at
    due = since + suspect.system.interval + suspect.system.check.timeout + VERDICT_SLACK
    return (seen is None or seen < since) and at < due


def situation(live: Live, lives: Mapping[str, Live], canaries: Sequence[Live]) -> Situation:
    """What, besides its own health, decides the system's state now."""
    blind = not live.canary and (
        live.faults >= live.system.failure_threshold
        or any(c.tracker.health == DOWN for c in canaries))
    root = planned = None
    for dep in live.system.depends_on:
        other = lives[dep]
        if planned is None and (other.in_maintenance or other.state is State.MAINTENANCE):
            planned = other.cause or other.system.name
        if root is None and other.state is State.DOWN:
            root = other.cause or other.system.name
    if root is None and live.grace is not None and live.state is State.DOWN:
        root = live.cause  # its root cause recovered; it has yet to show its own verdict
    return Situation(maintenance=live.in_maintenance, blind=blind, root_cause=root,
                   planned_cause=planned)

def track_incident(live: Live, state: State, boundary: float, at: float) -> None:
    """An incident begins with the first down or degraded state and ends with any other
    (decided at `at`); the one that ended goes on collecting what its windows are still
    credited."""
    if state in (State.DOWN, State.DEGRADED):
        if live.incident_start is None:
            live.incident_start, live.incident_cost = boundary, 0.0
    elif live.incident_start is not None:
        end_incident(live, at)


def end_incident(live: Live, at: float) -> None:
    """The open incident has ended, as the agent knows at `at`."""
    live.ended_start, live.ended_at, live.ended_cost = (live.incident_start, at,
                                                        live.incident_cost)
    live.incident_start, live.incident_cost = None, 0.0


def planned_behind(live: Live, lives: Iterable[Live]) -> list[Live]:
    """The system and every system in maintenance because of its planned work."""
    name = live.system.name
    return [live, *(other for other in lives if other is not live
                    and other.state is State.MAINTENANCE and other.cause == name)]


def derive_service(live: Live, lives: Mapping[str, Live], found: Situation, moment: float,
                   at: float) -> Situation:
    """Read a service's health off its members' states as of `moment` (agent.services), as
    decided at `at`; return its situation with the root cause or planned work its members
    are down behind."""
    spec = live.system.check.spec
    assert isinstance(spec, ServiceSpec)
    members = [lives[name] for name in spec.members]
    verdict = judge(spec, [(m.system.name, *_as_of(m, moment)) for m in members])
    live.tracker.health, live.grace = verdict.health, None
    live.last_result, live.last_probe_at = as_result(verdict), at
    live.followed = max(live.followed, moment)
    return dataclasses.replace(
        found, root_cause=found.root_cause or verdict.root_cause,
        planned_cause=found.planned_cause or verdict.planned_cause)


def changed_after(live: Live, lives: Mapping[str, Live], moment: float) -> list[float]:
    """When the service's members changed after `moment`, in time order, each once."""
    spec = live.system.check.spec
    assert isinstance(spec, ServiceSpec)
    return sorted({lives[name].changed_at for name in spec.members
                   if lives[name].changed_at > moment})


def unseen_members(live: Live, lives: Mapping[str, Live]) -> bool:
    """True while a service resumed after a restart has a member not yet seen since: one
    whose open window may still end where it was last seen, or (the service's own window
    open) one not probed at all yet. Until then its members' changes are not all known."""
    spec = live.system.check.spec
    assert isinstance(spec, ServiceSpec)
    members = [lives[name] for name in spec.members]
    return any(m.window is not None and m.window.resumed_until is not None for m in members) or (
        live.window is not None and any(m.tracker.last_seen is None for m in members))


def unfollowed(live: Live, lives: Mapping[str, Live], moment: float) -> float:
    """Where a service must be read from: `moment`, or the earliest change of a member it
    has not followed yet (taken in while it waited for the rest)."""
    spec = live.system.check.spec
    assert isinstance(spec, ServiceSpec)
    return min([moment, *(lives[name].changed_at for name in spec.members
                          if lives[name].changed_at > live.followed)])


def _as_of(member: Live, moment: float) -> tuple[State, str | None]:
    """A member's state and cause at `moment`: before its latest change if that came later
    (a change dated back, taken in after a later one)."""
    return (member.state, member.cause) if member.changed_at <= moment else member.before


def waiting_on(name: str, dependants: Mapping[str, Sequence[str]],
               containers: Mapping[str, Sequence[str]]) -> list[str]:
    """The systems whose confirmation may wait for `name`: its dependants, and the dependants
    of each service it is (through other services) a member of."""
    names, pending, seen = list(dependants[name]), list(containers[name]), set()
    while pending:  # each service once
        service = pending.pop()
        if service not in seen:
            seen.add(service)
            names.extend(dependants[service])
            pending.extend(containers[service])
    return names

"""Root causes given by a person: which systems can be one, and whether one was down.

A cause must be one of the system's dependencies (directly or through others) and be down over
the whole window, for an import and for `outage-agent annotate --cause` alike; an imported
window without one is cut where its dependencies were down, as live.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.ledger import StoredWindow
from agent.model import System
from agent.report.windows import effective_cause, window_span
from agent.spans import Span, clip, merge, subtract
from agent.text import local


def dependencies(systems: dict[str, System], name: str) -> list[str]:
    """Every system `name` depends on, directly or through others, nearest first."""
    found: list[str] = []
    frontier = list(systems[name].depends_on)
    while frontier:
        dep = frontier.pop(0)
        if dep not in found and dep in systems:
            found.append(dep)
            frontier.extend(systems[dep].depends_on)
    return found


def not_a_dependency(systems: dict[str, System], system: str, cause: str) -> str | None:
    """Why `cause` cannot be the root cause of `system`'s outage, or None if it can."""
    if cause in dependencies(systems, system):
        return None
    direct = ", ".join(systems[system].depends_on) or "none"
    return (f"{cause!r} is not a dependency of {system!r}, directly or through others (its "
            f"depends_on: {direct})")


def uncovered(span: Span, down: Iterable[Span], timezone: str) -> str | None:
    """Why a cause down over `down` cannot be the cause of an outage over `span` (it was not
    down for all of it), or None if it was."""
    gaps = subtract(span, merge(down))
    if not gaps:
        return None
    a, b = gaps[0]
    return (f"was not down over the whole window: nothing recorded or imported from "
            f"{local(a, timezone, seconds=True)} to {local(b, timezone, seconds=True)}")


Cover = tuple[float, float, str]  # a span in which a system was down, and its root cause


def down_cover(windows: Iterable[StoredWindow], stop: float) -> dict[str, list[Cover]]:
    """When each system was down (voided windows aside), with the root cause of each span."""
    cover: dict[str, list[Cover]] = {}
    for w in windows:
        if w.record.state != "down" or w.annotations.voided_reason is not None:
            continue
        a, b = window_span(w, stop)
        cover.setdefault(w.record.system, []).append(
            (a, b, effective_cause(w) or w.record.system))
    return cover


def split_by_cause(system: System, span: Span, cover: dict[str, list[Cover]]
                   ) -> list[tuple[Span, str | None]]:
    """A span of a system down with no cause given, cut where a dependency was down: there,
    as live, the first dependency (in depends_on order) down is the way to its root cause."""
    pieces: list[tuple[Span, str | None]] = [(span, None)]
    for dep in system.depends_on:
        out: list[tuple[Span, str | None]] = []
        for piece, cause in pieces:
            if cause is not None:
                out.append((piece, cause))
                continue
            hits = [(part, root) for a, b, root in cover.get(dep, [])
                    if (part := clip(piece, a, b))]
            out += hits
            out += [(part, None) for part in subtract(piece, [p for p, _ in hits])]
        pieces = sorted(out)
    return pieces



def depth(systems: dict[str, System], name: str) -> int:
    """How many levels of dependencies lie under a system (0: it depends on nothing)."""
    deps = [d for d in systems[name].depends_on if d in systems]
    return 1 + max((depth(systems, d) for d in deps), default=-1)

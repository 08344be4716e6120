"""How much of a report's staff cost rests on measured users (agent.users) rather than on
the users schedules: for its method section."""

from __future__ import annotations

from collections.abc import Iterable

from agent.report.windows import Costed


def measured_share(costed: Iterable[Costed]) -> float | None:
    """Given the costed windows, return the share of their staff cost costed with measured
    users; None where none was (no reading in force over them)."""
    found = list(costed)
    measured = sum(c.measured for c in found)
    staff = sum(c.staff for c in found)
    if measured <= 0.0 or staff <= 0.0:
        return None
    return min(1.0, measured / staff)

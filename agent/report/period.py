"""The edges of a report and of imported windows: ISO 8601 text read in the cost timezone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def parse_moment(text: str, zone: ZoneInfo) -> float:
    """Given ISO 8601 text, return POSIX seconds.

    A date alone is its local midnight; a time without an offset is a wall-clock time in
    `zone`, and a time in the repeated hour of an autumn change is its first occurrence.
    Raise ValueError if the text is not ISO 8601, or names a wall-clock time the change to
    summer time skipped (it never happened there, so it cannot be what was meant).
    """
    stripped = text.strip()
    try:
        moment = dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2026-11-03 or 2026-11-03T09:30)"
        ) from None
    if moment.tzinfo is not None:
        return moment.timestamp()
    aware = moment.replace(tzinfo=zone, fold=0)
    back = dt.datetime.fromtimestamp(aware.timestamp(), zone).replace(tzinfo=None)
    if back != moment:
        raise ValueError(f"{stripped} did not happen in {zone.key}: the clocks went forward")
    return aware.timestamp()

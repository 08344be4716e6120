"""The edges of a report and of imported windows: ISO 8601 text read in the cost timezone,
within the one range of times the agent takes."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from zoneinfo import ZoneInfo

# The times the agent takes, in reports, imports and the API's queries: 1970-01-01 to
# 2100-01-01 UTC. No outage lies outside, a window stored outside could never be listed or
# reported, and a span of centuries would cost each request for the organisation's windows
# (site=all) seconds of work.
EARLIEST, LATEST = 0.0, 4102444800.0
RANGE_TEXT = "times run from 1970-01-01 to 2100-01-01 UTC"
# ISO 8601's extended calendar form: a date, then perhaps a time after a T or a space, to
# any fraction of a second, and an offset. Python reads any character as the separator (a
# NUL, a letter, a digit) and ignores a trailing NUL; this shape admits neither.
ISO_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2}(?:[.,][0-9]+)?)?)?)?)?")


def parse_iso(text: str) -> dt.datetime:
    """Given ISO 8601 text (a date, or a date and time, with or without an offset), return
    it, naive or aware; raise ValueError for anything else."""
    stripped = text.strip()
    if ISO_SHAPE.fullmatch(stripped):
        with contextlib.suppress(ValueError):  # a shape of no real time: month 13, hour 25
            return dt.datetime.fromisoformat(stripped)
    raise ValueError(
        f"not an ISO 8601 date or time: {text!r} (e.g. 2026-11-03 or 2026-11-03T09:30)")


def in_range(moment: dt.datetime, text: str) -> float:
    """Given an aware time and the text it was read from, return its POSIX seconds; raise
    ValueError if it lies outside EARLIEST..LATEST."""
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError):  # beyond what a timestamp holds
        seconds = -1.0
    if not EARLIEST <= seconds <= LATEST:
        raise ValueError(f"{text.strip()} is out of range: {RANGE_TEXT}")
    return seconds


def parse_moment(text: str, zone: ZoneInfo) -> float:
    """Given ISO 8601 text, return POSIX seconds.

    A date alone is its local midnight; a time without an offset is a wall-clock time in
    `zone`, and a time in the repeated hour of an autumn change is its first occurrence.
    Raise ValueError if the text is not ISO 8601, lies outside EARLIEST..LATEST, or names a
    wall-clock time the change to summer time skipped (it never happened there, so it
    cannot be what was meant).
    """
    moment = parse_iso(text)
    if moment.tzinfo is not None:
        return in_range(moment, text)
    aware = moment.replace(tzinfo=zone, fold=0)
    seconds = in_range(aware, text)
    back = dt.datetime.fromtimestamp(seconds, zone).replace(tzinfo=None)
    if back != moment:
        raise ValueError(f"{text.strip()} did not happen in {zone.key}: the clocks went forward")
    return seconds

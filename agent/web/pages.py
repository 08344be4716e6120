"""Pages of `/api/v1/outages`: with `limit`, a page of the list and, while more follow, a
cursor to the next in a `Link` header (RFC 8288), the body staying a plain JSON list.

A cursor names the last window of its page by its place in the list's order (start, then
id), not by an offset, so it still points at the same place when windows are added.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

from agent.web.query import BadRequest

MAX_LIMIT = 10_000
_CURSOR = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)_(-?[0-9]+)", re.ASCII)

Place = tuple[float, int]  # (start, id): the list's order


def parse_limit(text: str) -> int:
    """`limit`: a whole number from 1 to MAX_LIMIT; raise BadRequest otherwise."""
    if not re.fullmatch(r"[0-9]{1,5}", text, re.ASCII) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit: a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    return int(text)


def cursor_of(place: Place) -> str:
    """The cursor after the window at `place`."""
    start, wid = place
    return f"{start!r}_{wid}"  # repr: the exact float, so the place is exact too


def parse_cursor(text: str) -> Place:
    """`cursor`, as a `Link` header gave it; raise BadRequest for anything else."""
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise BadRequest(f"cursor: not a cursor this API gave: {text!r}")
    return float(match.group(1)), int(match.group(2))


def page(rows: Sequence[dict[str, Any]], places: Sequence[Place], after: Place | None,
         limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Given the whole list and each row's place (in order), return the `limit` rows after
    the cursor's place, and the cursor of the next page (None on the last)."""
    first = 0 if after is None else bisect.bisect_right(places, after)
    chosen = list(rows[first:first + limit])
    more = first + limit < len(rows)
    return chosen, cursor_of(places[first + limit - 1]) if more else None

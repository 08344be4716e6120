"""The API's query parameters, checked before anything is read: an unknown, repeated or
malformed one is a BadRequest (400 with a JSON error), never a guess."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

from aiohttp import web

from agent.report.period import EARLIEST, LATEST, parse_iso
from agent.text import iso

NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
NAME = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)  # a system's name, as config requires


class BadRequest(ValueError):
    """A query parameter the API cannot use; answered with 400 and a JSON error."""


def query_params(request: web.Request, allowed: Sequence[str]) -> dict[str, str]:
    """The query's parameters by name; raise BadRequest for an unknown or repeated one."""
    query = request.rel_url.query
    unknown = set(query) - set(allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    repeated = sorted(name for name in set(query) if len(query.getall(name)) > 1)
    if repeated:
        raise BadRequest(f"given more than once: {', '.join(repeated)}")
    return dict(query)


def parse_number(text: str, name: str, low: float, high: float) -> float:
    """A decimal number from `low` to `high`; raise BadRequest for anything else (nan, inf,
    1_000, non-ASCII digits...)."""
    value = float(text) if NUMBER.fullmatch(text) else math.nan
    if not low <= value <= high:  # false for nan
        raise BadRequest(f"{name}: a number from {low:g} to {high:g}, not {text!r}")
    return value


def parse_time(text: str, name: str) -> float:
    """Accept ISO 8601 (a naive time is UTC) or POSIX seconds, from 1970 to 2100; raise
    BadRequest otherwise."""
    if NUMBER.fullmatch(text):
        value = float(text)
    else:
        try:
            parsed = parse_iso(text)  # as reports and imports read it
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            value = parsed.timestamp()
        except (ValueError, OverflowError) as exc:
            raise BadRequest(f"{name}: not an ISO 8601 time or POSIX seconds: {text!r}") from exc
    if not EARLIEST <= value <= LATEST:  # false for nan
        raise BadRequest(f"{name}: a time from {iso(EARLIEST)} to {iso(LATEST)}, not {text!r}")
    return value


def parse_name(text: str, name: str) -> str:
    """`text` if it can be a system's name; raise BadRequest otherwise."""
    if not NAME.fullmatch(text):
        raise BadRequest(f"{name}: not a system name ([A-Za-z0-9_.-]+): {text!r}")
    return text

"""What a users source type's module declares (its spec, config keys and reader), and the
outcome of one reading: a failed reading is data, never an exception."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.config.tree import Context, Node
    from agent.config.values import Parser


@dataclass(frozen=True)
class Outcome:
    """What one reading gave: a number of users, or why there is none."""

    value: float | None
    reason: str = ""


# async def read(spec, timeout) -> Outcome; the spec is the type's own dataclass.
ReadFn = Callable[[Any, float], Awaitable[Outcome]]


@dataclass(frozen=True)
class SourceType:
    """One source type: `type: <name>` reads into `spec(**values)`, read by `read`."""

    name: str
    spec: Callable[..., Any]
    required: tuple[str, ...]
    fields: Mapping[str, Parser]
    read: ReadFn
    # What one key says about another, given the keys' nodes and parsed values.
    check: Callable[[Context, dict[str, Node], dict[str, Any]], None] | None = None


# A number as text, as strictly as the config reads one: ASCII digits, an optional point
# and exponent, no '_' or '+'; NaN and infinities as Prometheus writes them (refused later,
# as not finite). A minus sign is read, so a negative reading is refused as negative.
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf",
                     re.ASCII)


def number_of(value: object, what: str) -> Outcome:
    """Given what a source answered, return it as a number of users, or why it is none."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return Outcome(None, f"{what} is not a number")
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        return Outcome(None, f"{what} is not a number: {value[:40]!r}")
    try:
        return Outcome(float(value))
    except OverflowError:  # an integer too large for a float: as good as infinite
        return Outcome(math.inf)

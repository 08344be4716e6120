"""What a users source type's module declares (its spec, config keys and reader), and the
outcome of one reading: a failed reading is data, never an exception."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def number_of(value: object, what: str) -> Outcome:
    """Given what a source answered, return it as a number of users, or why it is none."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return Outcome(None, f"{what} is not a number")
    try:
        return Outcome(float(value))
    except (ValueError, OverflowError):
        return Outcome(None, f"{what} is not a number: {str(value)[:40]!r}")

"""Check single values: each check reads one node, reports what is wrong with it at its line,
and returns the value, or None when it is unusable (so one mistake is reported once)."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from agent.config.tree import Context, Node, kind

T = TypeVar("T")  # an entry of a registry read by `type_of`

MAX_DURATION = 366 * 86400.0  # longer would overflow schedulers and mean a typo

Parser = Callable[[Context, Node], Any]


# --- durations --------------------------------------------------------------------------------

_DURATION = re.compile(
    r"(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+(?:\.\d+)?)ms)?"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str | int | float) -> float:
    """Given "1h30m", "500ms", "30s" or a number of seconds, return seconds.

    Units run from largest to smallest, each at most once (as in Prometheus). Raise
    ValueError saying what is accepted if the text is not a duration or is negative.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a duration such as 30s, got {kind(text)}")
    if isinstance(text, str):
        return _parse_duration_text(text)
    try:
        seconds = float(text)
    except OverflowError:
        raise ValueError("the duration is too large") from None
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, got {text}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {text}")
    return seconds


def _parse_duration_text(text: str) -> float:
    """Given duration text, return seconds; raise ValueError if it is not one."""
    stripped = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return parse_duration(float(stripped))
    match = _DURATION.fullmatch(stripped)
    if not stripped or match is None:
        raise ValueError(
            f"not a valid duration: {text!r} (use seconds or units ms, s, m, h, d "
            "from largest to smallest, e.g. 30s, 5m, 1h30m)"
        )
    seconds = sum(float(v) * _UNIT_SECONDS[unit] for unit, v in match.groupdict().items() if v)
    return parse_duration(seconds)


def format_duration(seconds: float) -> str:
    """Given seconds, return the short form used in the config ("1m30s", "500ms")."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    parts, rest = [], seconds
    for unit in ("d", "h", "m"):
        count, rest = divmod(rest, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{int(count)}{unit}")
    if rest or not parts:
        parts.append(f"{round(rest, 3):g}s")
    return "".join(parts)


# --- checking values ------------------------------------------------------------------------------


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def expect(ctx: Context, node: Node, types: tuple[type, ...], what: str) -> Any:
    """Return the node's value if it is one of `types` (a bool is no number), else report."""
    if node.broken:
        return None
    value = node.value
    if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
        return value
    ctx.bad(node, f"expected {what}, got {kind(value)}")
    return None


def as_mapping(ctx: Context, node: Node) -> dict[str, Node] | None:
    result: dict[str, Node] | None = expect(ctx, node, (dict,), "a mapping")
    return result


def typed_mapping(ctx: Context, node: Node, types: Iterable[str]) -> dict[str, Node] | None:
    """Given a node that must be a mapping with a `type` (one of `types`), return the
    mapping; None after reporting if it is not one or has no `type`."""
    mapping = as_mapping(ctx, node)
    if mapping is None:
        return None
    if "type" not in mapping:
        ctx.missing(node, "type", f" (one of {', '.join(types)})")
        return None
    return mapping


def type_of(ctx: Context, node: Node, types: Mapping[str, T], what: str) -> T | None:
    """Given a node that must be a mapping whose `type` names one of `types` (a registry of
    `what`: "probe type"), return that entry; None after reporting why not."""
    mapping = typed_mapping(ctx, node, types)
    if mapping is None:
        return None
    name = string(ctx, mapping["type"])
    if name is not None and name not in types:
        hint = did_you_mean(name, types) or f" (known: {', '.join(types)})"
        ctx.bad(mapping["type"], f"unknown {what} {name!r}{hint}")
        return None
    return types[name] if name is not None else None


def as_list(ctx: Context, node: Node) -> list[Node] | None:
    result: list[Node] | None = expect(ctx, node, (list,), "a list")
    return result


def known_fields(
    ctx: Context,
    node: Node,
    required: Iterable[str],
    optional: Iterable[str],
    what: str = "",
) -> dict[str, Node] | None:
    """Given a mapping node, report unknown and missing keys; return the known ones."""
    mapping = as_mapping(ctx, node)
    if mapping is None:
        return None
    required = list(required)
    allowed = list(dict.fromkeys([*required, *optional]))
    for key, child in mapping.items():
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f" (known: {', '.join(sorted(allowed))})"
            ctx.report(node.key_lines[key], child.path, f"unknown key{what}{hint}")
    for key in required:
        if key not in mapping:
            ctx.missing(node, key)
    return {key: child for key, child in mapping.items() if key in allowed}


_QUOTE_IT = "expected a string, got a boolean (quote it: YAML reads bare yes/no/on/off as booleans)"


def string(ctx: Context, node: Node) -> str | None:
    if isinstance(node.value, bool) and not node.broken:  # `holidays: NO` is Norway, or false
        ctx.bad(node, _QUOTE_IT)
        return None
    result: str | None = expect(ctx, node, (str,), "a string")
    return result


def non_empty(ctx: Context, node: Node) -> str | None:
    """A non-empty string."""
    text = string(ctx, node)
    if text is not None and not text.strip():
        ctx.bad(node, "must not be empty")
        return None
    return text


def boolean(ctx: Context, node: Node) -> bool | None:
    result: bool | None = expect(ctx, node, (bool,), "true or false")
    return result


LARGEST = 1e15  # no figure in a config needs more; money times time stays far from overflow


def number(ctx: Context, node: Node) -> float | None:
    """Return the node's number; report one that is not finite or is larger than LARGEST,
    and text that Python would read as a number but YAML 1.2 reads as text ("25000" quoted,
    or 25_000), saying how to write it. (010, 0o10 and 0x10 are refused as they are read, in
    agent.config.core_schema; 1:30:00 and 0b11 are text, refused as any other.)"""
    if isinstance(node.value, str) and not node.broken and _looks_numeric(node.value):
        ctx.bad(node, f"expected a number, got text: YAML reads {node.value.strip()!r} as "
                      f"text (quoted, or with '_'); write it bare: {_bare(node.value)}")
        return None
    value = expect(ctx, node, (int, float), "a number")
    if value is None:
        return None
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        ctx.bad(node, "must be a finite number")
        return None
    if abs(result) > LARGEST:
        ctx.bad(node, f"must be at most {LARGEST:.0e} in size")
        return None
    return result


def _bare(text: str) -> str:
    """Given text Python reads as a number, return it as a bare YAML 1.2 number."""
    cleaned = text.strip().replace("_", "")
    try:
        return str(int(cleaned))
    except ValueError:
        return cleaned


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


def ranged(check: Callable[[float], bool], message: str) -> Callable[[Context, Node], float | None]:
    """Return a number parser that reports `message` when `check` fails."""

    def parse(ctx: Context, node: Node) -> float | None:
        value = number(ctx, node)
        if value is not None and not check(value):
            ctx.bad(node, message)
            return None
        return value

    return parse


non_negative = ranged(lambda n: n >= 0, "must not be negative")


def integer(ctx: Context, node: Node, low: int, high: int) -> int | None:
    value: int | None = expect(ctx, node, (int, float), "a whole number")
    if value is None:
        return None
    if isinstance(value, float) or not low <= value <= high:
        ctx.bad(node, f"must be a whole number from {low} to {high}")
        return None
    return value


def choice(ctx: Context, node: Node, choices: Iterable[str], fold: bool = False) -> str | None:
    """A string from a fixed set (compared upper-cased when `fold`)."""
    text = string(ctx, node)
    choices = list(choices)
    if text is None:
        return None
    if fold:
        text = text.upper()
    if text not in choices:
        ctx.bad(node, f"must be one of {', '.join(choices)}{did_you_mean(text, choices)}")
        return None
    return text


def duration(ctx: Context, node: Node) -> float | None:
    if node.broken:
        return None
    try:
        seconds = parse_duration(node.value)
    except ValueError as err:
        ctx.bad(node, str(err))
        return None
    if seconds > MAX_DURATION:
        ctx.bad(node, f"must not be longer than {format_duration(MAX_DURATION)}")
        return None
    return seconds


def positive_duration(ctx: Context, node: Node) -> float | None:
    seconds = duration(ctx, node)
    if seconds == 0:
        ctx.bad(node, "must be greater than zero")
        return None
    return seconds


def validated(
    parse: Callable[[Context, Node], str | None], why: Callable[[str], str | None]
) -> Callable[[Context, Node], str | None]:
    """Return a parser that reads a string with `parse`, then reports `why` it is invalid."""

    def check(ctx: Context, node: Node) -> str | None:
        text = parse(ctx, node)
        error = why(text) if text is not None else None
        if error:
            ctx.bad(node, error)
            return None
        return text

    return check


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def name_error(name: str) -> str | None:
    """Why `name` cannot name a system or a group of users, or None if it can."""
    if _NAME.fullmatch(name):
        return None
    return "a name may only contain ASCII letters, digits, '_', '.' and '-'"


def _nul_error(text: str) -> str | None:
    return "a path cannot contain a NUL character" if "\0" in text else None


path = validated(non_empty, _nul_error)


def existing_file(ctx: Context, node: Node) -> str | None:
    """Given a path node, return the absolute path of the existing file it names (a relative
    one is against `ctx`'s folder: the config file's own); None after reporting."""
    text = path(ctx, node)
    if text is None:
        return None
    absolute = os.path.abspath(ctx.config_dir / text)
    if not os.path.isfile(absolute):
        ctx.bad(node, f"no such file: {absolute}")
        return None
    return absolute

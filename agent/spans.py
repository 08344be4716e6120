"""Arithmetic on half-open time spans [start, end) in POSIX seconds."""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[float, float]


def merge(spans: Iterable[Span]) -> list[Span]:
    """Given spans, return them merged where they overlap or touch, in order; drop empties."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clip(span: Span, start: float, end: float) -> Span | None:
    """Given a span, return its part inside [start, end), or None if there is none."""
    a, b = max(span[0], start), min(span[1], end)
    return (a, b) if a < b else None


def subtract(span: Span, holes: Iterable[Span]) -> list[Span]:
    """Given a span and spans to cut out of it, return what is left, in order."""
    left: list[Span] = []
    cursor, end = span
    for a, b in merge(holes):
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            left.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        left.append((cursor, end))
    return left


def total(spans: Iterable[Span]) -> float:
    """Given spans, return the seconds they cover, counting overlaps once."""
    return sum((b - a for a, b in merge(spans)), 0.0)

"""A trouble that repeats (accept() out of descriptors, a ledger that cannot be read, a flood
of malformed requests) logged at most once per interval, with how often it happened since:
one line a minute, not one per occurrence, and never silence."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

LOG_INTERVAL = 60.0


class QuietLog:
    """`message` logged at the first occurrence and then at most once per `interval`,
    formatted with `count` (occurrences since the last line, this one included), `more`
    (those before this one), `interval` and `detail` (this one's). `alone`, if given, is
    logged instead when nothing happened since the last line."""

    def __init__(self, logger: logging.Logger, message: str, interval: float = LOG_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, alone: str | None = None) -> None:
        self.logger = logger
        self.message = message
        self.alone = alone or message
        self.interval = interval
        self.clock = clock
        self.count = 0  # since the last line
        self.total = 0  # since the start, or the last settle()
        self._next = float("-inf")

    def add(self, detail: object) -> None:
        self.count += 1
        self.total += 1
        now = self.clock()
        if now >= self._next:
            text = self.alone if self.count == 1 else self.message
            self.logger.warning(text, {"count": self.count, "more": self.count - 1,
                                       "interval": self.interval, "detail": detail})
            self.count, self._next = 0, now + self.interval

    def settle(self) -> int:
        """The trouble is over: return how many times it happened in all, and start again
        (its next occurrence is news, logged at once)."""
        total = self.total
        self.count, self.total, self._next = 0, 0, float("-inf")
        return total

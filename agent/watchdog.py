"""systemd's watchdog, fed only while probing makes progress: a wedged event loop never
feeds it, and a scheduler that stops completing probes feeds it no more, so systemd restarts
the agent either way (WatchdogSec in the unit)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from agent import systemd
from agent.model import System
from agent.services import is_service

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, interval: float, clock: Callable[[], float],
                 notify: Callable[[str], bool]) -> None:
        self.interval = interval  # seconds between pings
        self._clock = clock
        self._notify = notify
        self.completed = 0  # probes completed: the progress looked for
        self._completed_at_ping = 0
        self._last_progress = clock()

    def progress(self) -> None:
        self.completed += 1

    def restart(self) -> None:
        """Count from now (a start, or a reload whose new systems have yet to get a slot)."""
        self._last_progress = self._clock()

    def feed(self, systems: Iterable[System]) -> bool:
        """Ping if probing is making progress; return True if pinged.

        Progress: a probe completed since the last ping, or none can have been due yet (a
        healthy agent is never quiet for longer than its shortest interval plus that probe's
        timeout, and a ping interval of slack for a late scheduler)."""
        now = self._clock()
        if self.completed != self._completed_at_ping:
            self._completed_at_ping = self.completed
            self._last_progress = now
        else:
            allowance = self._quiet_allowance(systems)
            if allowance is not None and now - self._last_progress > allowance:
                log.warning("no probe has completed for %.0fs: not pinging systemd's watchdog",
                            now - self._last_progress)
                return False
        return self._notify(systemd.WATCHDOG)

    def _quiet_allowance(self, systems: Iterable[System]) -> float | None:
        """The longest a healthy agent goes without completing a probe, in seconds (None:
        nothing to probe)."""
        shortest = min((s.interval + s.check.timeout for s in systems if not is_service(s)),
                       default=None)
        return None if shortest is None else shortest + self.interval

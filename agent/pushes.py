"""The running agent's heartbeat systems: their tokens, their `Beat`s, and a rate limit per
token. The verdicts are agent.heartbeats'; this keeps them per system, finds a ping's system
by its token, and says what the ledger is to keep."""

from __future__ import annotations

import dataclasses
import hmac
import logging
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from agent import heartbeats
from agent.heartbeats import Beat
from agent.model import Config, ProbeResult, System
from agent.probes.heartbeat import HeartbeatProbe
from agent.records import BeatRecord

log = logging.getLogger(__name__)

# A token bucket per system: a ping a second, sustained, is always taken; a burst of this many
# more too (a job that pings start and success in the same second).
BURST = 5.0
CAPACITY = 1.0 + BURST


def heartbeat_spec(system: System) -> HeartbeatProbe | None:
    spec = system.check.spec
    return spec if isinstance(spec, HeartbeatProbe) else None


class Heartbeats:
    """Every heartbeat system of one configuration, by name."""

    def __init__(self, config: Config, now: float, elsewhere: Iterable[System] = ()) -> None:
        """The heartbeat systems of `config`; `elsewhere` has every system of the site (other
        shards' too), so a ping meant for another agent is known as such."""
        self.zone = ZoneInfo(config.cost.timezone)
        self.specs = {s.name: spec for s in config.systems
                      if (spec := heartbeat_spec(s)) is not None}
        self.intervals = {s.name: s.interval for s in config.systems if s.name in self.specs}
        self.beats = {name: heartbeats.first_beat(spec, self.zone, now)
                      for name, spec in self.specs.items()}
        others = {s.name: spec for s in elsewhere if (spec := heartbeat_spec(s)) is not None}
        self._tokens = [(spec.token.encode(), name)
                        for name, spec in {**others, **self.specs}.items()]
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    def __contains__(self, name: str) -> bool:
        return name in self.specs

    def find(self, token: str) -> str | None:
        """The system whose token this is, or None; the same work whatever the answer (every
        token compared in full), so timing tells nothing about the tokens."""
        given, found = token.encode(), None
        for known, name in self._tokens:
            if hmac.compare_digest(given, known):
                found = name
        return found

    def allow(self, name: str, now: float) -> bool:
        """Whether to take one more ping for `name` now (a bucket of one ping and BURST more,
        refilled one a second)."""
        tokens, at = self._buckets.get(name, (CAPACITY, now))
        tokens = min(CAPACITY, tokens + max(0.0, now - at))
        if tokens < 1.0:
            self._buckets[name] = (tokens, now)
            return False
        self._buckets[name] = (tokens - 1.0, now)
        return True

    def ping(self, name: str, kind: str, at: float, body: str = "") -> list[ProbeResult]:
        return heartbeats.ping(self.beats[name], self.specs[name], self.zone, kind, at, body)

    def judge(self, name: str, at: float) -> list[ProbeResult]:
        return heartbeats.judge(self.beats[name], self.specs[name], at)

    def next_check(self, name: str, at: float) -> float:
        return heartbeats.next_check(self.beats[name], self.specs[name], at,
                                     self.intervals[name])

    def restore(self, records: list[BeatRecord], away_from: float,
                at: float) -> dict[str, list[ProbeResult]]:
        """Take up the positions the ledger kept (the agent away from `away_from`); return
        the results to feed the engine now, by system."""
        found = {}
        for record in records:
            if record.system not in self.specs:
                continue
            fields = dataclasses.asdict(record)
            del fields["system"]
            self.beats[record.system] = Beat(**fields)
            found[record.system] = heartbeats.resume(self.beats[record.system],
                                                     self.specs[record.system], self.zone,
                                                     away_from, at)
            if self.beats[record.system].verdict == heartbeats.UNKNOWN:
                log.warning("system=%s: a heartbeat deadline passed while the agent was not "
                            "running: unknown until its job next reports", record.system)
        return found

    def adopt(self, old: Heartbeats) -> None:
        """After a reload: a system whose heartbeat settings are unchanged keeps its beat."""
        for name, spec in self.specs.items():
            if old.specs.get(name) == spec:
                self.beats[name] = old.beats[name]
        self._buckets = {n: b for n, b in old._buckets.items() if n in self.specs}

    def record(self, name: str) -> BeatRecord:
        return BeatRecord(name, **dataclasses.asdict(self.beats[name]))

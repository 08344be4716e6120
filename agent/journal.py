"""The journal: what the ledger could not commit yet, kept on local disk so that a crash while
the ledger is unwritable (locked, full, unreachable) loses nothing the agent already served.

One file beside the ledger (or, for a database elsewhere, in the agent's state folder), written
whole each time (to a temporary file, fsynced, renamed over the old one, the folder fsynced),
so it always holds the latest of every record held back: the records are absolute rows, so the
latest of each is all a replay needs. It is removed once the ledger has them, and replayed into
the ledger at the next start.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from agent.records import (
    AlertState,
    Amounts,
    Basis,
    Batch,
    BeatRecord,
    DayRecord,
    GroupDayRecord,
    NotificationRecord,
    OutboxRecord,
    PingRecord,
    TransitionRecord,
    UsersReading,
    WindowRecord,
)


def journal_path(ledger_file: Path | None, identity: str) -> Path:
    """Where the journal of a ledger lives: beside a SQLite file; for a database elsewhere,
    in $STATE_DIRECTORY (systemd's) or ~/.local/state/outage-agent, named by `identity` (the
    store without its password, the site and the shard)."""
    if ledger_file is not None:
        return ledger_file.with_name(ledger_file.name + ".journal")
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    folder = Path(state) if state else Path(
        os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "outage-agent"
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return folder / f"ledger-{name}.journal"


class Journal:
    """The records held back from the ledger, on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def keep(self, batch: Batch) -> None:
        """Make `batch` what the journal holds, durably; raise OSError if the disk will not."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".new")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(_batch_json(batch), file, separators=(",", ":"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def read(self) -> Batch | None:
        """What the journal holds, or None if there is no journal; raise ValueError if it
        cannot be read back (then it is left for a person to look at)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return _batch_of(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.path}: not a journal the agent can read ({exc})") from exc

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _batch_json(batch: Batch) -> dict[str, Any]:
    return dataclasses.asdict(batch)


def _batch_of(body: dict[str, Any]) -> Batch:
    return Batch(
        windows=[_window(w) for w in body["windows"]],
        days=[DayRecord(d["system"], d["day"], Amounts(**d["amounts"])) for d in body["days"]],
        group_days=[GroupDayRecord(**d) for d in body["group_days"]],
        transitions=[TransitionRecord(**t) for t in body["transitions"]],
        heartbeat=body["heartbeat"],
        alerts=[AlertState(**a) for a in body["alerts"]],
        alerts_cleared=[(rule, key) for rule, key in body["alerts_cleared"]],
        notifications=[NotificationRecord(**{**n, "notifiers": tuple(n["notifiers"])})
                       for n in body["notifications"]],
        outbox=[OutboxRecord(**o) for o in body["outbox"]],
        prune_before=body["prune_before"],
        beats=[BeatRecord(**b) for b in body.get("beats", [])],  # none before heartbeats
        pings=[PingRecord(**p) for p in body.get("pings", [])],
        readings=[UsersReading(**r) for r in body.get("readings", [])],
    )


def _window(body: dict[str, Any]) -> WindowRecord:
    return WindowRecord(**{**body, "amounts": Amounts(**body["amounts"]),
                           "basis": Basis(**body["basis"])})

"""The statements a batch is written with: upserts in each store's own words (both say
ON CONFLICT), plain inserts, retention's deletes and the run's heartbeat."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from agent.ledger.rows import (
    alert_row,
    day_row,
    group_day_row,
    notification_row,
    outbox_row,
    transition_row,
    window_row,
)
from agent.ledger.schema import (
    WINDOW_KEY,
    alert_state,
    days,
    group_days,
    heartbeat_pings,
    heartbeats,
    notifications,
    outbox,
    runs,
    transitions,
    users_readings,
    watched,
    windows,
)
from agent.records import Batch, NotificationRecord, TransitionRecord

INSERTS: dict[str, Callable[[sa.Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}
# What a later look at a window changes: the rest (its start, basis, who caused it to open,
# and what people added) stays as first written.
WINDOW_CHANGES = ("state", "cause", "end_ts", "before_end", "last_observed", "accounted_until",
                  "downtime_seconds", "degraded_seconds", "cost", "staff_cost", "direct_cost",
                  "reason")


def upsert(dialect: str, table: sa.Table, changes: Iterable[str] | None = None,
           key: Iterable[str] | None = None) -> sa.Insert:
    """INSERT into `table`; a row whose `key` (default: the primary key) is there already
    sets its `changes` (default: every other column) instead, or is left alone if `changes`
    is empty."""
    insert = INSERTS[dialect](table)
    key = [c.name for c in table.primary_key] if key is None else list(key)
    if changes is None:
        changes = [c.name for c in table.columns if c.name not in key]
    updates = {name: insert.excluded[name] for name in changes}
    if not updates:
        return insert.on_conflict_do_nothing(index_elements=key)
    return insert.on_conflict_do_update(index_elements=key, set_=updates)


def later_heartbeat(at: float) -> sa.Case[Any]:
    """The later of a run's heartbeat and `at`: SQLite's MAX(a, b), in words PostgreSQL
    reads too."""
    return sa.case((runs.c.heartbeat > at, runs.c.heartbeat), else_=at)


def execute_many(conn: sa.Connection, statement: sa.Executable,
                 rows: Sequence[Mapping[str, Any]]) -> None:
    """Run `statement` once per row, in one round of the driver (none for no rows)."""
    if rows:
        conn.execute(statement, rows)


class Writes:
    """How one site's batches are written to a store of one dialect."""

    def __init__(self, dialect: str, site: str) -> None:
        self.site = site
        self.run_id: int | None = None  # the run whose heartbeat a batch moves on
        self.windows = upsert(dialect, windows, WINDOW_CHANGES, key=WINDOW_KEY)
        self.days = upsert(dialect, days)
        self.group_days = upsert(dialect, group_days)
        self.alerts = upsert(dialect, alert_state, ("fired_at", "last_sent", "acked"))
        self.outbox = upsert(dialect, outbox, ("state", "updated"))
        self.watched = upsert(dialect, watched, ())
        self.beats = upsert(dialect, heartbeats)
        self.pings = upsert(dialect, heartbeat_pings, ())  # a journal replay adds none twice
        self.readings = upsert(dialect, users_readings)  # the later of two at one instant
        self.transitions = sa.insert(transitions)
        self.notifications = sa.insert(notifications)
        self.alerts_cleared = sa.delete(alert_state).where(
            alert_state.c.site == sa.bindparam("site"),
            alert_state.c.rule == sa.bindparam("rule"), alert_state.c.key == sa.bindparam("key"))

    def write(self, conn: sa.Connection, batch: Batch) -> None:
        """Write `batch` in the transaction `conn` is in."""
        site = self.site
        latest = {(w.system, w.start): w for w in batch.windows}  # a batch may repeat a window
        execute_many(conn, self.windows, [window_row(site, w) for w in latest.values()])
        execute_many(conn, self.days, [day_row(site, d) for d in batch.days])
        execute_many(conn, self.group_days, [group_day_row(site, d) for d in batch.group_days])
        execute_many(conn, self.transitions, [transition_row(site, t)
                                              for t in batch.transitions])
        execute_many(conn, self.alerts, [alert_row(site, a) for a in batch.alerts])
        execute_many(conn, self.alerts_cleared, [
            {"site": site, "rule": rule, "key": key} for rule, key in batch.alerts_cleared])
        execute_many(conn, self.outbox, [outbox_row(site, o) for o in batch.outbox])
        execute_many(conn, self.notifications, [notification_row(site, n)
                                                for n in batch.notifications])
        latest_beats = {b.system: b for b in batch.beats}
        execute_many(conn, self.beats, [{"site": site, **dataclasses.asdict(b)}
                                        for b in latest_beats.values()])
        execute_many(conn, self.pings, [{"site": site, **dataclasses.asdict(p)}
                                        for p in batch.pings])
        execute_many(conn, self.readings, [{"site": site, "grp": r.group, "at": r.at,
                                            "value": r.value, "source": r.source,
                                            "period": r.period} for r in batch.readings])
        if batch.prune_before is not None:  # retention: raw history only, never windows
            for column in (transitions.c.at, notifications.c.at, outbox.c.updated,
                           heartbeat_pings.c.at):
                conn.execute(sa.delete(column.table).where(
                    column.table.c.site == site, column < batch.prune_before))
        if batch.heartbeat is not None and self.run_id is not None:
            conn.execute(sa.update(runs).where(runs.c.id == self.run_id)
                         .values(heartbeat=later_heartbeat(batch.heartbeat)))

    def drop_recorded(self, conn: sa.Connection, batch: Batch) -> None:
        """Drop from `batch` the transitions and notifications the store already has (from a
        journal kept by a run whose commit went through after all): they are not upserts."""
        batch.transitions = [t for t in batch.transitions if not self._has_transition(conn, t)]
        batch.notifications = [n for n in batch.notifications
                               if not self._has_notification(conn, n)]

    def _has_transition(self, conn: sa.Connection, t: TransitionRecord) -> bool:
        return _exists(conn, transitions, site=self.site, system=t.system, at=t.at,
                       new_state=t.new_state)

    def _has_notification(self, conn: sa.Connection, n: NotificationRecord) -> bool:
        return _exists(conn, notifications, site=self.site, at=n.at, rule=n.rule,
                       status=n.status, title=n.title)


def _exists(conn: sa.Connection, table: sa.Table, **values: object) -> bool:
    """Whether `table` has a row with these values."""
    where = [table.c[name] == value for name, value in values.items()]
    return conn.execute(sa.select(sa.literal(1)).where(*where)).first() is not None

"""The ledger's schema, declared once: every table of schema SCHEMA_VERSION as SQLAlchemy
metadata, for a SQLite file and a PostgreSQL database alike.

Each table, column and index that came after the first schema says which numbered migration
added it (`info={"migration": n}`): migrations.py reads the migrations off this metadata, and a
new column is declared here, once, with the next number.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

SCHEMA_VERSION = 9

# A 64-bit float: PostgreSQL's REAL is 32 bits, too coarse for a timestamp. SQLite's REAL is
# 64 bits, and every SQLite ledger has always declared it so.
Real: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")
# An auto-numbered id: SQLite numbers the rows of an INTEGER primary key (its rowid) itself,
# and PostgreSQL an identity.
RowId: sa.types.TypeEngine[int] = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def added_by(item: sa.Table | sa.Column[Any] | sa.Index) -> int:
    """The number of the migration that added a table, column or index (1: the first)."""
    return int(item.info.get("migration", 1))


def _row_id() -> sa.Column[int]:
    return sa.Column("id", RowId, sa.Identity(), primary_key=True)


def _site() -> sa.Column[str]:
    return sa.Column("site", sa.Text, nullable=False, server_default=sa.text("''"))


def _text(name: str, default: str | None = None) -> sa.Column[str]:
    """A TEXT NOT NULL column, with a default if given."""
    return sa.Column(name, sa.Text, nullable=False,
                     server_default=None if default is None else sa.text(f"'{default}'"))


def _real(name: str, default: float | None = None) -> sa.Column[float]:
    """A 64-bit float NOT NULL column, with a default if given."""
    return sa.Column(name, Real, nullable=False,
                     server_default=None if default is None else sa.text(f"{default:g}"))


metadata = sa.MetaData()

# The key a window is known by: what the daemon's upsert of a window conflicts on.
WINDOW_KEY = ("site", "system", "start_ts")
windows = sa.Table(
    "windows", metadata,
    _row_id(), _site(), _text("system"), _text("state"),
    sa.Column("cause", sa.Text),
    _real("start_ts"),
    sa.Column("end_ts", Real),
    sa.Column("before_start", Real),
    sa.Column("before_end", Real),
    sa.Column("last_observed", Real),
    _real("accounted_until"),
    _real("downtime_seconds", 0), _real("degraded_seconds", 0),
    _real("cost", 0), _real("staff_cost", 0), _real("direct_cost", 0),
    _real("hourly_cost_per_user"), _real("users_share"), _real("impact"),
    _real("direct_cost_per_hour"), _real("users_at_start"),
    sa.Column("new_incident", sa.Integer, nullable=False, server_default=sa.text("0")),
    _text("reason", ""), _text("source", "live"),
    # What people add afterwards (outage-agent annotate / void / import), never written by the
    # daemon: its upsert (writes.py) leaves these columns alone. voided_reason NULL = counted.
    *(sa.Column(name, sa.Text, info={"migration": 3})
      for name in ("note", "ticket", "voided_reason", "annotated_cause")),
    # An imported window's own impact (NULL: the system's configured one).
    sa.Column("impact_override", Real, info={"migration": 5}),
    sa.UniqueConstraint(*WINDOW_KEY),
    sa.Index("windows_open", "site", "end_ts"),
    sa.Index("windows_start", "start_ts"),
    sa.Index("windows_system", "site", "system", "start_ts", info={"migration": 3}),
    # The latest record at a start (Reads.latest_record), without a scan of history.
    sa.Index("windows_accounted", "site", "accounted_until", info={"migration": 9}),
    sa.Index("windows_observed", "site", "last_observed", info={"migration": 9}),
    # Each system's live totals at a start (Reads.totals) from this index alone, in system
    # order: 0.45 s rather than 4.5 s on a million windows (issue 20). `system` before
    # `source`: led by (site, source), SQLite took it for the open windows' query too.
    sa.Index("windows_totals", "site", "system", "source", "cost", "staff_cost", "direct_cost",
             "downtime_seconds", "degraded_seconds", "new_incident", info={"migration": 9}),
)
days = sa.Table(
    "days", metadata,
    _site(), _text("system"), _text("day"),
    _real("cost"), _real("staff_cost"), _real("direct_cost"),
    _real("downtime_seconds"), _real("degraded_seconds"),
    sa.PrimaryKeyConstraint("site", "system", "day"),
)

transitions = sa.Table(
    "transitions", metadata,
    _row_id(), _site(), _text("system"), _real("at"), _text("old_state"), _text("new_state"),
    sa.Column("cause", sa.Text), _text("reason", ""),
    sa.Index("transitions_at", "at"),
)

runs = sa.Table(
    "runs", metadata,
    _row_id(), _site(), _text("version"), _real("started"), _real("heartbeat"),
    sa.Column("stopped", Real),
    # Many agents on one database: each run says which shard of its site it was.
    sa.Column("shard", sa.Text, nullable=False, server_default=sa.text("''"),
              info={"migration": 4}),
)

alert_state = sa.Table(
    "alert_state", metadata,
    _site(), _text("rule"), _text("key"), sa.Column("system", sa.Text), _real("since"),
    sa.Column("fired_at", Real), sa.Column("last_sent", Real),
    sa.Column("acked", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.PrimaryKeyConstraint("site", "rule", "key"),
    info={"migration": 2},
)

notifications = sa.Table(
    "notifications", metadata,
    _row_id(), _site(), _real("at"), _text("rule"), _text("status"), _text("title"),
    _text("notifiers"),
    info={"migration": 2},
)

actions = sa.Table(
    "actions", metadata,
    _row_id(), _site(), _text("kind"), _text("system"), _real("at"), sa.Column("until", Real),
    _text("who"), _text("note", ""),
    info={"migration": 2},
)

audit = sa.Table(
    "audit", metadata,
    _row_id(), _site(), sa.Column("window_id", sa.Integer, nullable=False), _real("at"),
    _text("who"), _text("field"), sa.Column("before", sa.Text), sa.Column("after", sa.Text),
    sa.Index("audit_window", "site", "window_id"),
    info={"migration": 3},
)

# Each agent records the systems it watches, so a report knows which sites could see each one.
watched = sa.Table(
    "watched", metadata,
    _text("site"), _text("system"), _real("since"),
    sa.PrimaryKeyConstraint("site", "system"),
    info={"migration": 4},
)

# Cost model 2: what each group of people lost per day (outage_group_cost_total), and every
# distinct cost basis with the time it came into force.
group_days = sa.Table(
    "group_days", metadata,
    _site(), _text("grp"), _text("day"), _real("cost"),
    sa.PrimaryKeyConstraint("site", "grp", "day"),
    info={"migration": 5},
)

cost_basis = sa.Table(
    "cost_basis", metadata,
    _row_id(), _site(), _real("since"), _text("digest"), _text("body"),
    sa.Index("cost_basis_since", "site", "since"),
    info={"migration": 5},
)

# The notification outbox, so a restart delivers what was queued, and a message is known by
# its id however often it is retried.
outbox = sa.Table(
    "outbox", metadata,
    _site(), _text("notifier"), _text("message_id"), _text("message"), _text("state"),
    _real("created"), _real("updated"),
    sa.PrimaryKeyConstraint("site", "notifier", "message_id"),
    sa.Index("outbox_queued", "site", "state"),
    info={"migration": 7},
)

# Heartbeat (push) systems: each one's last ping and when its next success is due
# (agent.heartbeats.Beat), so a restart goes on from them.
heartbeats = sa.Table(
    "heartbeats", metadata,
    _site(), _text("system"), _real("due"),
    sa.Column("last_ping", Real), _text("last_kind", ""), sa.Column("last_success", Real),
    sa.Column("started", Real), sa.Column("duration", Real), _text("verdict", "new"),
    _text("reason", ""),
    sa.PrimaryKeyConstraint("site", "system"),
    info={"migration": 8},
)
# Each heartbeat ping that carried a body (the job's output, redacted, at most 10 kB): the
# evidence of the windows it opened or closed, found by time.
heartbeat_pings = sa.Table(
    "heartbeat_pings", metadata,
    _site(), _text("system"), _real("at"), _text("kind"), _text("body"),
    sa.PrimaryKeyConstraint("site", "system", "at"),
    info={"migration": 8},
)

# Each reading of a measured group's concurrent users (agent.users): the evidence reports
# cost that group's time with, in force from `at` until the next or three periods on. A NULL
# value is a failed reading (source 'fallback'): the group's schedule was in force.
users_readings = sa.Table(
    "users_readings", metadata,
    _site(), _text("grp"), _real("at"), sa.Column("value", Real), _text("source"),
    _real("period"),
    sa.PrimaryKeyConstraint("site", "grp", "at"),
    info={"migration": 9},
)

# The migrations applied, each once (migrations.py): made before the first is applied, never
# by one.
ledger_schema = sa.Table(
    "ledger_schema", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied", Real),
)

# A window never ends before it starts, nor counts more downtime than it lasts (a millisecond
# of rounding allowed): what a wall clock behind the ledger once produced. Enforced since
# migration 6 (migrations.repair_windows): a CHECK on PostgreSQL; SQLite cannot add a CHECK to
# a table, so triggers enforce the same there.
SANE_WINDOW = ("(end_ts IS NULL OR end_ts >= start_ts) AND (end_ts IS NULL OR "
               "downtime_seconds <= end_ts - start_ts + 0.001)")
_NEW_ROW_SANE = (SANE_WINDOW.replace("end_ts", "NEW.end_ts").replace("start_ts", "NEW.start_ts")
                 .replace("downtime_seconds", "NEW.downtime_seconds"))
SANE_WINDOW_DDL = {
    "postgresql": [f"ALTER TABLE windows ADD CONSTRAINT windows_sane CHECK ({SANE_WINDOW})"],
    "sqlite": [f"CREATE TRIGGER windows_sane_{when.lower()} BEFORE {when} ON windows "
               f"WHEN NOT ({_NEW_ROW_SANE}) BEGIN SELECT RAISE(ABORT, 'a window must not end "
               "before it starts, nor count more downtime than it lasts'); END"
               for when in ("INSERT", "UPDATE")],
}
for _dialect, _statements in SANE_WINDOW_DDL.items():  # a fresh ledger has them from the start
    for _statement in _statements:
        event.listen(windows, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect))

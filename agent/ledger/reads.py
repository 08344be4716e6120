"""What the ledger tells the daemon, the API and the reports: each question one query on a
short reading connection (WAL, or PostgreSQL, lets it read while the daemon writes), its rows
read by column name."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from agent.basis import CostBasis
from agent.ledger import schema as tables
from agent.ledger.connections import Connections
from agent.ledger.readings import reading_of, readings_query, step_functions
from agent.ledger.rows import (
    AMOUNT_COLUMNS,
    Action,
    Row,
    StoredWindow,
    SystemTotals,
    action_of,
    alert_of,
    amounts_of,
    day_of,
    group_day_of,
    outbox_of,
    stored_window,
    stored_windows,
)
from agent.records import (
    AlertState,
    BeatRecord,
    DayRecord,
    GroupDayRecord,
    OutboxRecord,
    PingRecord,
    UsersReading,
)
from agent.users.inforce import Readings

STATES = ("down", "degraded", "maintenance", "unknown")


def overlapping(site: str, start: float, end: float, system: str | None = None) -> sa.Select:
    """The windows of `site` overlapping [start, end) (of one system, if given), oldest
    first."""
    w = tables.windows
    query = sa.select(w).where(w.c.site == site, w.c.start_ts < end,
                               sa.or_(w.c.end_ts.is_(None), w.c.end_ts > start))
    if system is not None:
        query = query.where(w.c.system == system)
    return query.order_by(w.c.start_ts, w.c.id)


def bases_query(site: str) -> sa.Select:
    """Every cost basis recorded for `site`, oldest first (read with `bases_of`)."""
    b = tables.cost_basis
    return sa.select(b.c.since, b.c.body).where(b.c.site == site).order_by(b.c.since, b.c.id)


def bases_of(rows: Sequence[Row]) -> list[tuple[float, CostBasis]]:
    return [(float(row["since"]), CostBasis.from_json(row["body"])) for row in rows]


class Reads(Connections):
    """The ledger's queries, for one site unless they say otherwise."""

    def open_windows(self) -> list[StoredWindow]:
        """The site's windows still open (every shard's: the caller keeps its own)."""
        w = tables.windows
        rows = self._read(sa.select(w).where(w.c.site == self.site, w.c.end_ts.is_(None),
                                             w.c.source == "live").order_by(w.c.start_ts))
        return [stored_window(row) for row in rows]

    def windows(
        self, start: float, end: float, system: str | None = None,
        states: tuple[str, ...] = STATES,
    ) -> list[StoredWindow]:
        """Windows overlapping [start, end), oldest first, with what people added to them
        (a voided window is included: see `StoredWindow.annotations`)."""
        query = overlapping(self.site, start, end, system)
        return self._windows_of(query.where(tables.windows.c.state.in_(states)))

    def report_windows(
        self, start: float, end: float, system: str | None = None
    ) -> list[StoredWindow]:
        """Every window overlapping [start, end), in any state and from any source, voided
        ones included, with what people added to it; oldest first."""
        return self._windows_of(overlapping(self.site, start, end, system))

    def _windows_of(self, query: sa.Select) -> list[StoredWindow]:
        """The windows a query finds, read whole first: converting each row while the cursor
        is still open holds the read snapshot longer (and so the daemon's WAL from being
        reset) for no memory to speak of (5 MB of a year's 100,000, issue 20). Read as
        tuples, not mappings: a third of the time."""
        with self._reader() as conn:
            result = conn.execute(query)
            keys, rows = list(result.keys()), result.all()
        return stored_windows(rows, keys)

    def window(self, window_id: int) -> StoredWindow | None:
        w = tables.windows
        rows = self._read(sa.select(w).where(w.c.site == self.site, w.c.id == window_id))
        return stored_window(rows[0]) if rows else None

    def first_seen(self, imported: bool = True) -> dict[str, float]:
        """When each system was first watched: its earliest transition or window (with
        `imported` False, a live one: an agent saw it), or when an agent of this site first
        said it watches it."""
        w = tables.windows
        live = () if imported else (w.c.source == "live",)
        seen = sa.union_all(*(
            sa.select(column.table.c.system, column.label("t"))
            .where(column.table.c.site == self.site, *(live if column is w.c.start_ts else ()))
            for column in (tables.transitions.c.at, w.c.start_ts,
                           tables.watched.c.since))).subquery("seen")
        rows = self._read(sa.select(seen.c.system, sa.func.min(seen.c.t).label("first"))
                          .group_by(seen.c.system))
        return {row["system"]: float(row["first"]) for row in rows}

    def totals(self) -> dict[str, SystemTotals]:
        """Per-system sums of live-recorded windows: where counters resume after a restart."""
        w = tables.windows
        sums = [sa.func.sum(w.c[name]).label(name) for name in AMOUNT_COLUMNS.values()]
        rows = self._read(
            sa.select(w.c.system, *sums, sa.func.sum(w.c.new_incident).label("incidents"))
            .where(w.c.site == self.site, w.c.source == "live").group_by(w.c.system))
        return {row["system"]: SystemTotals(amounts_of(row), int(row["incidents"]))
                for row in rows}

    def days_since(self, first_day: str) -> list[DayRecord]:
        d = tables.days
        rows = self._read(sa.select(d).where(d.c.site == self.site, d.c.day >= first_day)
                          .order_by(d.c.day))
        return [day_of(row) for row in rows]

    def group_days_since(self, first_day: str) -> list[GroupDayRecord]:
        """What each group lost per day, from `first_day` on: where the day rows continue."""
        g = tables.group_days
        rows = self._read(sa.select(g).where(g.c.site == self.site, g.c.day >= first_day)
                          .order_by(g.c.day))
        return [group_day_of(row) for row in rows]

    def latest_record(self) -> float:
        """The latest time anything of the site was recorded at: a window's end or last
        observation, a transition, a run's heartbeat (0 for an empty ledger)."""
        w = tables.windows
        seen = sa.union_all(*(
            sa.select(sa.func.max(column).label("t")).where(column.table.c.site == self.site)
            for column in (w.c.start_ts, w.c.end_ts, w.c.accounted_until, w.c.last_observed,
                           tables.transitions.c.at, tables.runs.c.heartbeat))).subquery("seen")
        rows = self._read(sa.select(sa.func.max(seen.c.t).label("latest")))
        return float(rows[0]["latest"] or 0.0)

    def beats(self) -> list[BeatRecord]:
        """Every heartbeat system's last position recorded by the site."""
        rows = self._read(sa.select(tables.heartbeats).where(
            tables.heartbeats.c.site == self.site))
        return [BeatRecord(**{k: v for k, v in row.items() if k != "site"}) for row in rows]

    def pings(self, system: str, start: float, end: float) -> list[PingRecord]:
        """The bodies a heartbeat system's job sent from `start` to `end` (both included),
        in order: the evidence of a window."""
        p = tables.heartbeat_pings
        rows = self._read(sa.select(p).where(p.c.site == self.site, p.c.system == system,
                                             p.c.at >= start, p.c.at <= end).order_by(p.c.at))
        return [PingRecord(row["system"], row["at"], row["kind"], row["body"]) for row in rows]

    def group_totals(self) -> dict[str, float]:
        """What each group of people has lost, over the site's whole history."""
        g = tables.group_days
        rows = self._read(sa.select(g.c.grp, sa.func.sum(g.c.cost).label("cost"))
                          .where(g.c.site == self.site).group_by(g.c.grp))
        return {row["grp"]: float(row["cost"]) for row in rows}

    def bases(self) -> list[tuple[float, CostBasis]]:
        """Every cost basis recorded for the site, with the time it came into force, oldest
        first; with the site's users readings laid over each, if any (agent.users)."""
        bases = bases_of(self._read(bases_query(self.site)))
        measured = self.measured()
        return [(since, basis.measured(measured)) for since, basis in bases] if measured else bases

    def measured(self) -> dict[str, Readings]:
        """The site's users readings, each group's as its step function (agent.users): the
        evidence laid over any basis, recorded or today's (report --basis current)."""
        return step_functions(self._read(readings_query(self.site)))

    def users_readings(self, start: float, end: float) -> list[UsersReading]:
        """The site's users readings from `start` to before `end`, oldest first."""
        return [reading_of(row) for row in self._read(readings_query(self.site, start, end))]

    def outbox_queued(self) -> list[OutboxRecord]:
        """Messages queued and not yet delivered or given up on, oldest first: a restart
        sends them again."""
        o = tables.outbox
        rows = self._read(sa.select(o).where(o.c.site == self.site, o.c.state == "queued")
                          .order_by(o.c.created, o.c.message_id))
        return [outbox_of(row) for row in rows]

    def alert_states(self) -> list[AlertState]:
        a = tables.alert_state
        return [alert_of(row) for row in self._read(sa.select(a).where(a.c.site == self.site))]

    def actions_since(self, after_id: int) -> list[Action]:
        a = tables.actions
        rows = self._read(sa.select(a).where(a.c.site == self.site, a.c.id > after_id)
                          .order_by(a.c.id))
        return [action_of(row) for row in rows]

    def sites(self) -> list[str]:
        """Every site with something in the store, in name order."""
        rows = self._read(sa.union(sa.select(tables.watched.c.site),
                                   sa.select(tables.windows.c.site)).order_by("site"))
        return [row["site"] for row in rows]

    def watchers(self) -> dict[str, dict[str, float]]:
        """For each system, the sites that watch it and since when (for quorum)."""
        found: dict[str, dict[str, float]] = {}
        for row in self._read(sa.select(tables.watched)):
            found.setdefault(row["system"], {})[row["site"]] = float(row["since"])
        return found

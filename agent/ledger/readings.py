"""The measured users' readings kept in the ledger (users_readings), read back as each
group's step function (agent.users.inforce), so reports cost with what was measured."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from agent.ledger import schema as tables
from agent.records import UsersReading
from agent.users.inforce import Readings


def readings_query(site: str, start: float | None = None, end: float | None = None
                   ) -> sa.Select:
    """The site's readings (from `start` to before `end`, if given), oldest first."""
    r = tables.users_readings
    query = sa.select(r).where(r.c.site == site)
    if start is not None:
        query = query.where(r.c.at >= start)
    if end is not None:
        query = query.where(r.c.at < end)
    return query.order_by(r.c.at, r.c.grp)


def reading_of(row: RowMapping) -> UsersReading:
    value = row["value"]
    return UsersReading(row["grp"], float(row["at"]), None if value is None else float(value),
                        row["source"], float(row["period"]))


def step_functions(rows: Sequence[RowMapping]) -> dict[str, Readings]:
    """Given reading rows oldest first, return each group's readings."""
    found: dict[str, Readings] = {}
    for row in rows:
        found.setdefault(row["grp"], Readings()).add(
            float(row["at"]), None if row["value"] is None else float(row["value"]),
            float(row["period"]))
    return found

"""What the ledger hands back, and each record as a row by column name, both ways: the one
place a record's fields meet the columns of schema.py."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from agent.basis import CostBasis
from agent.records import (
    AlertState,
    Amounts,
    Annotations,
    AuditEntry,
    Basis,
    DayRecord,
    GroupDayRecord,
    NotificationRecord,
    OutboxRecord,
    TransitionRecord,
    WindowRecord,
)

Row = sa.RowMapping  # a row read by column name

# What people add to a window (migration 3), by the name the audit trail gives each field.
ANNOTATION_FIELDS = {"note": "note", "ticket": "ticket", "voided": "voided_reason",
                     "cause": "annotated_cause"}


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """A window as read back, with the ledger's id (slots: a year's report holds 100,000)."""

    id: int
    record: WindowRecord
    annotations: Annotations = field(default_factory=Annotations)
    impact_override: float | None = None  # an imported window's own impact
    recorded: Amounts | None = None  # the ledger's figures, where `record` shows a report's


@dataclass(frozen=True)
class ImportScope:
    """What an import plans against, read in its transaction: each imported system's
    windows touching the file's span, every window overlapping it, and the cost bases."""

    existing: dict[str, list[StoredWindow]]
    around: list[StoredWindow]
    bases: list[tuple[float, CostBasis]]


@dataclass(frozen=True)
class Action:
    """Something a person did while the daemon runs: `ack`, `maintenance` (from `at` until
    `until`) or `maintenance_end`."""

    kind: str
    system: str
    at: float
    until: float | None
    who: str
    note: str = ""
    id: int = 0


@dataclass(frozen=True)
class SystemTotals:
    amounts: Amounts
    incidents: int


# The columns of Amounts' fields, in the windows and days tables alike.
AMOUNT_COLUMNS = {"cost": "cost", "staff": "staff_cost", "direct": "direct_cost",
                  "downtime": "downtime_seconds", "degraded": "degraded_seconds"}


def amounts_row(a: Amounts) -> dict[str, float]:
    return {"cost": a.cost, "staff_cost": a.staff, "direct_cost": a.direct,
            "downtime_seconds": a.downtime, "degraded_seconds": a.degraded}


def amounts_of(row: Row) -> Amounts:
    """The amounts of a windows or days row, or of their sums under the same names."""
    return Amounts(**{name: row[column] for name, column in AMOUNT_COLUMNS.items()})


# --- windows -------------------------------------------------------------------------------


def window_row(site: str, r: WindowRecord) -> dict[str, object]:
    """The columns of `r` (its amounts spelled out too: the writer's hot path)."""
    a, b = r.amounts, r.basis
    return {
        "site": site, "system": r.system, "state": r.state, "cause": r.cause,
        "start_ts": r.start, "end_ts": r.end, "before_start": r.before_start,
        "before_end": r.before_end, "last_observed": r.last_observed,
        "accounted_until": r.accounted_until, "downtime_seconds": a.downtime,
        "degraded_seconds": a.degraded, "cost": a.cost, "staff_cost": a.staff,
        "direct_cost": a.direct, "hourly_cost_per_user": b.hourly_cost_per_user,
        "users_share": b.users_share, "impact": b.impact,
        "direct_cost_per_hour": b.direct_cost_per_hour, "users_at_start": b.users_at_start,
        "new_incident": int(r.new_incident), "reason": r.reason, "source": r.source,
    }


def annotations_row(notes: Annotations) -> dict[str, str | None]:
    return {"note": notes.note, "ticket": notes.ticket, "voided_reason": notes.voided_reason,
            "annotated_cause": notes.cause}


def stored_window(row: Row) -> StoredWindow:
    """Given a whole windows row, return the window with what people added to it."""
    record = WindowRecord(
        system=row["system"], state=row["state"], cause=row["cause"], start=row["start_ts"],
        end=row["end_ts"], before_start=row["before_start"], before_end=row["before_end"],
        last_observed=row["last_observed"], accounted_until=row["accounted_until"],
        amounts=amounts_of(row),
        basis=Basis(hourly_cost_per_user=row["hourly_cost_per_user"],
                    users_share=row["users_share"], impact=row["impact"],
                    direct_cost_per_hour=row["direct_cost_per_hour"],
                    users_at_start=row["users_at_start"]),
        new_incident=bool(row["new_incident"]), reason=row["reason"], source=row["source"],
    )
    notes = Annotations(note=row["note"], ticket=row["ticket"],
                        voided_reason=row["voided_reason"], cause=row["annotated_cause"])
    return StoredWindow(id=row["id"], record=record, annotations=notes,
                        impact_override=row["impact_override"])


def stored_windows(rows: Iterable[Sequence[Any]], keys: Sequence[str]) -> list[StoredWindow]:
    """`stored_window` of each of whole windows rows read as tuples, their columns named by
    `keys`: a year's 100,000 rows in a third of the time (no mapping, no look-up by name per
    field; issue 20)."""
    at = {key: i for i, key in enumerate(keys)}
    fields = itemgetter(*(at[name] for name in _STORED_COLUMNS))
    out: list[StoredWindow] = []
    append = out.append
    for row in rows:
        (wid, system, state, cause, start, end, before_start, before_end, last_observed,
         accounted_until, cost, staff, direct, downtime, degraded, hourly, share, impact,
         direct_rate, users, new_incident, reason, source, note, ticket, voided, annotated,
         override) = fields(row)
        append(StoredWindow(wid, WindowRecord(
            system, state, cause, start, end, before_start, before_end, last_observed,
            accounted_until, Amounts(cost, staff, direct, downtime, degraded),
            Basis(hourly, share, impact, direct_rate, users), bool(new_incident), reason,
            source), Annotations(note, ticket, voided, annotated), override))
    return out


# The columns `stored_windows` reads, in the order it unpacks them.
_STORED_COLUMNS = (
    "id", "system", "state", "cause", "start_ts", "end_ts", "before_start", "before_end",
    "last_observed", "accounted_until", *AMOUNT_COLUMNS.values(), "hourly_cost_per_user",
    "users_share", "impact", "direct_cost_per_hour", "users_at_start", "new_incident",
    "reason", "source", "note", "ticket", "voided_reason", "annotated_cause",
    "impact_override")


# --- days, and what each group lost per day ----------------------------------------------


def day_row(site: str, r: DayRecord) -> dict[str, object]:
    return {"site": site, "system": r.system, "day": r.day, **amounts_row(r.amounts)}


def day_of(row: Row) -> DayRecord:
    return DayRecord(row["system"], row["day"], amounts_of(row))


def group_day_row(site: str, r: GroupDayRecord) -> dict[str, object]:
    return {"site": site, "grp": r.group, "day": r.day, "cost": r.cost}


def group_day_of(row: Row) -> GroupDayRecord:
    return GroupDayRecord(row["grp"], row["day"], float(row["cost"]))


# --- the raw history, alerting and what people did ----------------------------------------


def transition_row(site: str, t: TransitionRecord) -> dict[str, object]:
    return {"site": site, "system": t.system, "at": t.at, "old_state": t.old_state,
            "new_state": t.new_state, "cause": t.cause, "reason": t.reason}


def alert_row(site: str, a: AlertState) -> dict[str, object]:
    return {"site": site, "rule": a.rule, "key": a.key, "system": a.system, "since": a.since,
            "fired_at": a.fired_at, "last_sent": a.last_sent, "acked": int(a.acked)}


def alert_of(row: Row) -> AlertState:
    return AlertState(row["rule"], row["key"], row["system"], row["since"], row["fired_at"],
                      row["last_sent"], bool(row["acked"]))


def notification_row(site: str, n: NotificationRecord) -> dict[str, object]:
    return {"site": site, "at": n.at, "rule": n.rule, "status": n.status, "title": n.title,
            "notifiers": ",".join(n.notifiers)}


def outbox_row(site: str, o: OutboxRecord) -> dict[str, object]:
    """A message as the outbox keeps it, `created` when first written (the upsert leaves
    that alone)."""
    return {"site": site, "notifier": o.notifier, "message_id": o.message_id,
            "message": json.dumps(o.message, sort_keys=True), "state": o.state,
            "created": o.at, "updated": o.at}


def outbox_of(row: Row) -> OutboxRecord:
    return OutboxRecord(row["message_id"], row["notifier"], json.loads(row["message"]),
                        row["state"], float(row["updated"]))


def action_row(site: str, a: Action) -> dict[str, object]:
    return {"site": site, "kind": a.kind, "system": a.system, "at": a.at, "until": a.until,
            "who": a.who, "note": a.note}


def action_of(row: Row) -> Action:
    return Action(row["kind"], row["system"], row["at"], row["until"], row["who"],
                  row["note"], id=row["id"])


def audit_row(site: str, e: AuditEntry) -> dict[str, object]:
    return {"site": site, "window_id": e.window_id, "at": e.at, "who": e.who,
            "field": e.field, "before": e.before, "after": e.after}

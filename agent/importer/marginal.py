"""The money of imported windows: the loss they add to what is recorded, shared among them as
a report attributes it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from agent.ledger import ImportScope, StoredWindow
from agent.model import Config
from agent.records import ImportChanges
from agent.report.costing import Money
from agent.report.windows import amounts_of, cost_together
from agent.spans import Span


def cost_added(changes: ImportChanges, scope: ImportScope, config: Config,
               planned: Mapping[str, Sequence[Span]]) -> None:
    """Cost what is written as what it adds to every window it overlaps: the loss with it
    less the loss without it, day by day, shared among the new windows as a report
    would attribute it. So what the ledger stores never adds up to more than everyone's
    time, and windows recorded before keep their figures."""
    if not changes.windows:
        return
    replaced = {item.id for item in changes.windows} | set(changes.delete)
    written = [StoredWindow(id=item.id if item.id is not None else -1 - k,
                            record=item.record, annotations=item.annotations,
                            impact_override=item.impact_override)
               for k, item in enumerate(changes.windows)]
    kept = [w for w in scope.around if w.id not in replaced]
    start = min(w.record.start for w in written)
    stop = max(w.record.end or w.record.start for w in written)
    with_them = cost_together([*kept, *written], config, start, stop, scope.bases, planned)
    without = cost_together(kept, config, start, stop, scope.bases, planned)
    added = _added_by_day(with_them, without, [w.id for w in written])
    changes.windows = [
        dataclasses.replace(item, record=dataclasses.replace(item.record, amounts=amounts_of(
            w, with_them[w.id][0], dataclasses.replace(with_them[w.id][1],
                                                       staff=added[w.id]))))
        for item, w in zip(changes.windows, written, strict=True)]


def _added_by_day(with_them: dict[int, tuple[list[Span], Money]],
                  without: dict[int, tuple[list[Span], Money]], new: list[int]
                  ) -> dict[int, float]:
    """Each new window's staff cost: on each day, the loss the new windows add (the staff
    cost of everything with them, less without them), in proportion to what a report
    attributes to each of them that day."""
    gross, before = _staff_by_day(with_them), _staff_by_day(without)
    added = dict.fromkeys(new, 0.0)
    shares: dict[str, dict[int, float]] = {}  # day -> window -> its staff cost that day
    for i in new:  # each window's own days: not every window on every day (quadratic)
        for day, staff in with_them[i][1].staff_days.items():
            shares.setdefault(day, {})[i] = staff
    for day, total in gross.items():
        extra = max(0.0, total - before.get(day, 0.0))
        found = shares.get(day, {})
        weight = math.fsum(found.values())
        for i, share in found.items() if weight > 0 else ():
            added[i] += extra * share / weight
    return added


def _staff_by_day(money: dict[int, tuple[list[Span], Money]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for _, m in money.values():
        for day, staff in m.staff_days.items():
            totals[day] = totals.get(day, 0.0) + staff
    return totals

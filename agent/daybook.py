"""Money by local calendar day: each system's days (the calendar gauges, the alerts' periods)
and each group of people's (`outage_group_cost_total`), kept in memory for the days a period
still needs, and handed to the ledger as they change, so they survive restarts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from agent.days import day_bounds, local_date, local_days
from agent.live import Live
from agent.records import Amounts, Batch, DayRecord, GroupDayRecord

Periods = dict[str, tuple[str, dict[str, float]]]  # period -> (its id, system -> cost)


class DayBook:
    def __init__(self, timezone: str, groups: Sequence[str], now: float) -> None:
        self.tz = ZoneInfo(timezone)
        self.group_days: dict[str, dict[str, float]] = {g: {} for g in groups}
        self.group_totals: dict[str, float] = dict.fromkeys(groups, 0.0)
        self._dirty_groups: set[tuple[str, str]] = set()
        self._dirty_lives: dict[str, Live] = {}
        self._day = self.today(now).isoformat()
        self._span = (0.0, 0.0, "")  # [start, end) and date of the local day seen last

    # --- days ---------------------------------------------------------------------------------

    def pieces(self, start: float, end: float) -> list[tuple[float, float, str]]:
        """Split [start, end) at local midnights: (a, b, "YYYY-MM-DD") pieces."""
        first, last, day = self._span
        if first <= start and end <= last:  # the usual case, for every accruing system at once
            return [(start, end, day)]
        days = local_days(start, end, self.tz)
        if days:
            day = days[-1][0]
            self._span = (*day_bounds(dt.date.fromisoformat(day), self.tz), day)
        return [(a, b, name) for name, a, b in days]

    def today(self, at: float) -> dt.date:
        return local_date(at, self.tz)

    def first_day_kept(self, at: float) -> str:
        """Day buckets from here on are kept in memory: this month's and the last week's."""
        today = self.today(at)
        return min(today.replace(day=1), today - dt.timedelta(days=6)).isoformat()

    # --- what lands in them -------------------------------------------------------------------

    def add(self, live: Live, day: str, amounts: Amounts) -> None:
        live.days.setdefault(day, Amounts()).add(amounts)
        live.dirty_days.add(day)
        self._dirty_lives[live.system.name] = live

    def lost(self, names: Sequence[str], day: str, lost: tuple[float, ...]) -> None:
        """What each group (in the order of `names`) lost on `day`."""
        for name, money in zip(names, lost, strict=True):
            if money:
                days = self.group_days[name]
                days[day] = days.get(day, 0.0) + money
                self.group_totals[name] += money
                self._dirty_groups.add((name, day))

    def restore(self, totals: Mapping[str, float], days: Iterable[GroupDayRecord]) -> None:
        """Go on from the ledger: each group's total, and the rows of the days kept."""
        for name, total in totals.items():
            if name in self.group_totals:
                self.group_totals[name] = total
        for row in days:
            if row.group in self.group_days:
                self.group_days[row.group][row.day] = row.cost

    def carry(self, old: DayBook) -> None:
        """Go on from the day book of the previous configuration (a reload)."""
        for name, total in old.group_totals.items():
            if name in self.group_totals:
                self.group_totals[name] = total
                self.group_days[name] = old.group_days[name]

    def flush(self, batch: Batch) -> None:
        """Add every changed system day and group day to the batch."""
        for name in sorted(self._dirty_lives):
            live = self._dirty_lives[name]
            for day in sorted(live.dirty_days):
                batch.days.append(DayRecord(name, day, live.days[day].copy()))
            live.dirty_days.clear()
        self._dirty_lives.clear()
        batch.group_days.extend(GroupDayRecord(g, day, self.group_days[g][day])
                                for g, day in sorted(self._dirty_groups))
        self._dirty_groups.clear()

    def prune(self, lives: Iterable[Live], at: float) -> None:
        """Once a day, forget day buckets no calendar period needs (they are committed)."""
        today = self.today(at).isoformat()
        if today == self._day:
            return
        self._day = today
        first = self.first_day_kept(at)
        for live in lives:
            for day in [d for d in live.days if d < first and d not in live.dirty_days]:
                del live.days[day]
        dirty = {day for _, day in self._dirty_groups}
        for days in self.group_days.values():
            for day in [d for d in days if d < first and d not in dirty]:
                del days[day]

    # --- what they say ------------------------------------------------------------------------

    def period_costs(self, lives: Iterable[Live], at: float) -> Periods:
        """Cost per system in the current calendar day, ISO week and month of the cost
        timezone: period -> (period id, system -> cost)."""
        today = self.today(at)
        year, week, _ = today.isocalendar()
        monday = (today - dt.timedelta(days=today.weekday())).isoformat()
        periods = {
            "day": (today.isoformat(), lambda d: d == today.isoformat()),
            "week": (f"{year}-W{week:02d}", lambda d: d >= monday),
            "month": (today.isoformat()[:7], lambda d: d[:7] == today.isoformat()[:7]),
        }
        shown = [live for live in lives if not live.canary]
        return {
            period: (ident, {live.system.name: sum((a.cost for d, a in live.days.items()
                                                    if within(d)), 0.0) for live in shown})
            for period, (ident, within) in periods.items()
        }

    @staticmethod
    def day_and_month(live: Live, today: str) -> tuple[float, float]:
        """A system's cost today and this month (`today` as "YYYY-MM-DD")."""
        day = live.days.get(today)
        month = today[:7]
        month_cost = sum((a.cost for d, a in live.days.items() if d[:7] == month), 0.0) if (
            live.days) else 0.0  # most systems have no outage this month: no generator
        return (day.cost if day else 0.0), month_cost

"""The engine's money: windows of systems down or degraded join the books (agent.accounts)
with their weights under the cost basis, the horizon is held by every change still in doubt,
and what the books credit lands on windows, systems, incidents and days.

Who is charged: a window's own time and direct costs are its own; its users' lost time is
charged to its root cause's window while that is open (a dependant down behind it), and to
itself once that has ended, as a report charges it.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping

from agent.accounts import Accounts, Member
from agent.basis import CostBasis, window_basis
from agent.daybook import DayBook
from agent.live import Live, OpenWindow
from agent.model import State
from agent.records import Amounts


class Charges:
    def __init__(self, basis: CostBasis, lives: Mapping[str, Live], days: DayBook,
                 start: float) -> None:
        self.basis = basis
        self.lives = lives
        self.days = days
        self.groups = [group.name for group in basis.groups]
        self.accounts = self._books(start)
        self.touched: dict[int, OpenWindow] = {}  # windows whose records changed
        self._holds: list[tuple[float, str]] = []  # (time, system): changes still in doubt
        self._behind: dict[str, set[str]] = {}  # root cause -> systems with a window behind it
        # When the agent last read what people recorded (`outage-agent maintenance`): one
        # not yet read may be dated back to then, so the books wait there. None: not held.
        self.unread: float | None = None

    def _books(self, start: float) -> Accounts:
        return Accounts(self.basis.calendars, start, self.days.pieces, self._credit,
                        lambda day, lost: self.days.lost(self.groups, day, lost))

    def restart(self, start: float) -> None:
        """Start the books afresh at `start` (after a restore, a reload, a clock realigned)."""
        self.accounts = self._books(start)

    @property
    def horizon(self) -> float:
        return self.accounts.horizon

    def touch(self, window: OpenWindow) -> None:
        self.touched[id(window)] = window

    # --- windows opening and closing -----------------------------------------------------------

    def open(self, live: Live, state: State, cause: str | None, start: float, at: float,
             new_incident: bool) -> None:
        """Open a window for `live` from `start` (probes decided it at `at`), costed under
        the basis in force, and join it to the books."""
        if new_incident:
            live.incidents += 1
        name = live.system.name
        window = OpenWindow(
            system=name, state=state, cause=cause, start=start,
            before_start=live.tracker.before_run if start < at else at,
            basis=window_basis(self.basis, name, self.basis.impact(name, state.value), start),
            new_incident=new_incident, last_observed=live.last_probe_at,
            reason=live.last_result.reason if live.last_result else "",
            incident_start=live.incident_start,
        )
        live.window = window
        self.join(live, window, start)
        self.touch(window)

    def close(self, live: Live, end: float) -> None:
        """Close the system's open window at `end` (no earlier than its start or the
        horizon; for a window resumed after a restart, where it was last seen)."""
        window = live.window
        assert window is not None
        if window.resumed_until is not None:  # recovered while the agent was away
            end = min(end, window.resumed_until)
        end = max(end, window.start, self.horizon)
        window.end = end
        window.before_end = live.tracker.before_run if end < (live.last_probe_at or end) else end
        self.leave(live, window, end)
        self.touch(window)
        live.window = None

    # --- windows in the books -----------------------------------------------------------------

    def join(self, live: Live, window: OpenWindow, start: float) -> None:
        """Make a window of a system that is down or degraded a member of the books from
        `start`: its users' time is lost, and its root cause's window is charged for it."""
        if window.cause is not None:
            self._behind.setdefault(window.cause, set()).add(live.system.name)
        if live.canary or window.state not in (State.DOWN, State.DEGRADED):
            window.member = None
            return
        down = window.state is State.DOWN
        name = live.system.name
        payee = window
        if window.cause is not None:
            root = self.lives.get(window.cause)
            if root is not None and root.window is not None:
                payee = root.window
        member = Member(
            window=window, payee=window,
            weights=self.basis.weights(name, self.basis.impact(name, window.state.value)),
            direct=self.basis.direct_rate(name) if down else 0.0,
            down=down, degraded=not down, start=start)
        if payee is not window and payee.start > start:
            # It failed before its root cause was seen failing (probed first in a
            # simultaneous failure): until the root cause's window starts, the time is its
            # own, as a report splits it where the root cause's windows begin.
            self.accounts.open(member)
            self.accounts.close(member, payee.start)
            member = dataclasses.replace(member, start=payee.start, end=None)
        window.member = dataclasses.replace(member, payee=payee)
        self.accounts.open(window.member)

    def leave(self, live: Live, window: OpenWindow, end: float) -> None:
        """The window stops counting at `end`; systems still down behind it are charged for
        themselves from then."""
        if window.member is not None:
            self.accounts.close(window.member, end)
        if window.cause is not None:
            self._behind.get(window.cause, set()).discard(live.system.name)
        for name in self._behind.get(live.system.name, ()):
            self._repay(self.lives[name], end)

    def behind(self, root: str) -> set[str]:
        """The systems with a window down behind `root`."""
        return self._behind.get(root, set())

    def _repay(self, live: Live, at: float) -> None:
        window = live.window
        member = window.member if window is not None else None
        if window is None or member is None or member.payee is window:
            return
        self.accounts.close(member, at)
        window.member = dataclasses.replace(member, payee=window, start=max(at, member.start))
        self.accounts.open(window.member)

    # --- the horizon --------------------------------------------------------------------------

    def doubt(self, live: Live) -> None:
        """The system has a change in doubt (a run of probes, a window resumed after a
        restart): hold the horizon at it until it is settled."""
        at = _doubt(live)
        if at is not None:
            heapq.heappush(self._holds, (at, live.system.name))

    def hold(self) -> float | None:
        """The earliest time a change still in doubt may be dated back to, if any: a run of
        probes, a window resumed after a restart, a maintenance command not yet read."""
        doubt = self._doubted()
        if doubt is None or self.unread is None:
            return doubt if self.unread is None else self.unread
        return min(doubt, self.unread)

    def _doubted(self) -> float | None:
        while self._holds:
            at, name = self._holds[0]
            live = self.lives.get(name)
            if live is not None and _doubt(live) == at:
                return at
            heapq.heappop(self._holds)
        return None

    def advance(self, at: float) -> None:
        self.accounts.advance(at, self.hold())

    # --- credits ------------------------------------------------------------------------------

    def _credit(self, member: Member, day: str, staff: float, direct: float,
                seconds: float) -> None:
        """Money of one member in one local day: its time and direct cost to its own window,
        its staff cost to its root cause's."""
        own = Amounts(cost=direct, direct=direct, downtime=seconds if member.down else 0.0,
                      degraded=seconds if member.degraded else 0.0)
        if member.payee is member.window:
            own.cost += staff
            own.staff = staff
        elif staff:
            self._add(member.payee, day, Amounts(cost=staff, staff=staff))
        self._add(member.window, day, own)

    def _add(self, window: OpenWindow, day: str, amounts: Amounts) -> None:
        live = self.lives.get(window.system)
        window.amounts.add(amounts)
        self.touch(window)
        if live is None:
            return
        live.totals.add(amounts)
        self.days.add(live, day, amounts)
        if window.incident_start is None:
            return
        if window.incident_start == live.incident_start:
            live.incident_cost += amounts.cost
        elif window.incident_start == live.ended_start:  # its tail, credited after its end
            live.ended_cost += amounts.cost

    # --- the present --------------------------------------------------------------------------

    def rate(self, live: Live, at: float) -> float:
        """The current burn rate of one system, per hour: the staff time attributed to it
        now (as a root cause, with its dependants'), and its own direct cost."""
        window = live.window
        if window is None or window.member is None:
            return 0.0
        staff = sum(share * calendar.cost_rate_at(at) for share, calendar in
                    zip(self.accounts.shares(window), self.basis.calendars, strict=True))
        return staff + window.member.direct

    def affected(self, live: Live, at: float) -> float:
        """The concurrent users whose lost time is attributed to the system now."""
        if live.window is None:
            return 0.0
        return sum(share * calendar.users_at(at) for share, calendar in
                   zip(self.accounts.shares(live.window), self.basis.calendars, strict=True))


def _doubt(live: Live) -> float | None:
    """When the system's change in doubt began: its run of probes, or for a window resumed
    after a restart and not yet seen again, where it was last seen."""
    window = live.window
    resumed = window.resumed_until if window is not None else None
    run = live.tracker.run_start
    if run is None or resumed is None:
        return run if resumed is None else resumed
    return min(run, resumed)

"""Alert rules over the engine's views: when to tell people, with hold times, reminders and
acknowledgements. Pure: `evaluate(facts)` returns what to send and what state to store.

Each rule kind turns the facts into a set of active conditions, keyed so that "fires once per
threshold per incident" falls out of the keys: a key that is new starts pending, one that has
held for `for:` fires, one that keeps firing is reminded every `repeat:` unless acknowledged,
and one that disappears resolves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.engine import SystemView
from agent.model import AlertRule, State
from agent.notify import Message
from agent.records import AlertState
from agent.text import duration, money

RESOLVES = {"state", "cost_rate"}  # kinds whose end is news; cost thresholds fire once


@dataclass(frozen=True)
class Condition:
    """One active instance of a rule's condition, with what a message about it says."""

    key: str
    system: str | None
    title: str
    view: SystemView | None = None
    value: float = 0.0  # the money figure the rule compares


@dataclass(frozen=True)
class Facts:
    at: float
    views: list[SystemView]
    period_costs: dict[str, tuple[str, dict[str, float]]]  # period -> (its id, system -> cost)


@dataclass
class Evaluation:
    notifications: list[tuple[tuple[str, ...], Message]] = field(default_factory=list)
    changed: list[AlertState] = field(default_factory=list)
    cleared: list[tuple[str, str]] = field(default_factory=list)  # (rule, key)


Conditions = Callable[[AlertRule, Facts, str], dict[str, Condition]]


def _chosen(rule: AlertRule, views: list[SystemView]) -> list[SystemView]:
    return [v for v in views if not rule.systems or v.name in rule.systems]


def state_conditions(rule: AlertRule, facts: Facts, currency: str) -> dict[str, Condition]:
    out = {}
    for view in _chosen(rule, facts.views):
        if view.state.value in rule.states:
            cause = f" (cause: {view.cause})" if view.cause else ""
            title = f"{view.name} is {view.state.value.upper()}{cause}"
            if view.incident_start is not None:
                title += (f": {money(view.incident_cost, currency)} so far, "
                          f"{money(view.cost_per_hour, currency)}/h")
            out[view.name] = Condition(view.name, view.name, title, view, view.incident_cost)
    return out


def incident_conditions(rule: AlertRule, facts: Facts, currency: str) -> dict[str, Condition]:
    out = {}
    for view in _chosen(rule, facts.views):
        if view.incident_start is None:
            continue
        for threshold in rule.thresholds:
            if view.incident_cost >= threshold:
                key = f"{view.name}@{view.incident_start:.3f}>={threshold:g}"
                title = (f"{view.name} outage has cost {money(view.incident_cost, currency)} "
                         f"(threshold {money(threshold, currency, pence=False)})")
                out[key] = Condition(key, view.name, title, view, view.incident_cost)
    return out


def period_conditions(rule: AlertRule, facts: Facts, currency: str) -> dict[str, Condition]:
    period_id, costs = facts.period_costs[rule.period]
    total = sum(c for name, c in costs.items() if not rule.systems or name in rule.systems)
    out = {}
    for threshold in rule.thresholds:
        if total >= threshold:
            key = f"{period_id}>={threshold:g}"
            title = (f"Outages have cost {money(total, currency)} this {rule.period} "
                     f"({period_id}; budget {money(threshold, currency, pence=False)})")
            out[key] = Condition(key, None, title, None, total)
    return out


def rate_conditions(rule: AlertRule, facts: Facts, currency: str) -> dict[str, Condition]:
    rate = sum(v.cost_per_hour for v in _chosen(rule, facts.views))
    out = {}
    for threshold in rule.thresholds:
        if rate >= threshold:
            key = f">={threshold:g}"
            title = (f"Outages are costing {money(rate, currency)} per hour "
                     f"(threshold {money(threshold, currency, pence=False)}/h)")
            out[key] = Condition(key, None, title, None, rate)
    return out


CONDITIONS: dict[str, Conditions] = {
    "state": state_conditions, "incident_cost": incident_conditions,
    "period_cost": period_conditions, "cost_rate": rate_conditions,
}


def incident_figure(view: SystemView | None, since: float) -> float | None:
    """Given a system's view and when a state alert about it was first seen, return what
    the incident open then has cost, as far as the books have got: the sum of its windows, as
    a report costs them, and restored from the ledger after a restart. It is the open
    incident, or the last to end; None if neither was open at `since` (an alert on unknown
    or maintenance alone), or without a view (the system is no longer configured)."""
    if view is None:
        return None
    if view.incident_start is not None and view.incident_start <= since:
        return view.incident_cost
    start = view.ended_incident_start
    if start is not None and start <= since < view.ended_incident_at:
        return view.ended_incident_cost
    return None


WORSE = {"maintenance": 1, "degraded": 2, "down": 3}  # a state rule tells of each step up


class Alerting:
    def __init__(self, rules: tuple[AlertRule, ...], currency: str, url: str = "") -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.currency = currency
        self.url = url or None
        self.states: dict[tuple[str, str], AlertState] = {}
        self._last: dict[tuple[str, str], Condition] = {}
        # A state rule's firing alerts: the state the last message told of, so that getting
        # worse (a service from degraded to down) is told too, not only the first state.
        self._told: dict[tuple[str, str], str] = {}

    def restore(self, states: list[AlertState]) -> None:
        """Resume what was pending or firing before a restart (nothing is re-sent)."""
        self.states = {(s.rule, s.key): s for s in states if s.rule in self.rules}

    def take_over(self, old: Alerting) -> None:
        """After a reload, go on from `old` for the rules that still exist, with the last
        condition seen of each: a system the reload removed has no view left, and its
        resolved message says what its incident had cost at the last evaluation."""
        self.restore(list(old.states.values()))
        self._last = {ident: c for ident, c in old._last.items() if ident in self.states}
        self._told = {ident: t for ident, t in old._told.items() if ident in self.states}

    def firing(self) -> dict[str, int]:
        counts = dict.fromkeys(self.rules, 0)
        for state in self.states.values():
            if state.fired_at is not None:
                counts[state.rule] += 1
        return counts

    def acknowledge(self, system: str) -> list[AlertState]:
        """Stop reminders about `system`'s current incident; return the states changed."""
        changed = []
        for state in self.states.values():
            if state.system == system and not state.acked:
                state.acked = True
                changed.append(state)
        return changed

    def evaluate(self, facts: Facts) -> Evaluation:
        outcome = Evaluation()
        for rule in self.rules.values():
            active = CONDITIONS[rule.kind](rule, facts, self.currency)
            for condition in active.values():
                self._active(rule, condition, facts.at, outcome)
            for (name, key), state in list(self.states.items()):
                if name == rule.name and key not in active:
                    self._cleared(rule, state, facts, outcome)
        return outcome

    def _active(self, rule: AlertRule, condition: Condition, at: float, out: Evaluation) -> None:
        ident = (rule.name, condition.key)
        self._last[ident] = condition
        state = self.states.get(ident)
        if state is None:
            state = self.states[ident] = AlertState(rule.name, condition.key, condition.system,
                                                    since=at)
            out.changed.append(state)
        now = condition.view.state.value if rule.kind == "state" and condition.view else ""
        told = self._told.get(ident)
        worse = told is not None and WORSE.get(now, 0) > WORSE.get(told, 0)
        if (state.fired_at is None and at - state.since >= rule.hold) or (
                state.fired_at is not None and worse):
            state.fired_at = state.fired_at or at
            state.last_sent = at
            out.notifications.append((rule.notify, self._message(rule, condition, "firing", at)))
            out.changed.append(state)
            self._told[ident] = now
        elif (state.fired_at is not None and rule.repeat and not state.acked
              and state.last_sent is not None and at - state.last_sent >= rule.repeat):
            state.last_sent = at
            reminder = self._message(rule, condition, "reminder", at)
            out.notifications.append((rule.notify, reminder))
            out.changed.append(state)

    def _cleared(self, rule: AlertRule, state: AlertState, facts: Facts, out: Evaluation) -> None:
        ident = (rule.name, state.key)
        del self.states[ident]
        self._told.pop(ident, None)
        last = self._last.pop(ident, None)
        out.cleared.append(ident)
        if state.fired_at is not None and rule.send_resolved and rule.kind in RESOLVES:
            now = next((v for v in facts.views if v.name == state.system), None)
            message = self._resolved(rule, state, last, now, facts.at)
            out.notifications.append((rule.notify, message))

    def _message(self, rule: AlertRule, condition: Condition, status: str, at: float) -> Message:
        view = condition.view
        if view is None:  # an organisation-wide figure: money so far, or money per hour
            rate = condition.value if rule.kind == "cost_rate" else 0.0
            accrued = 0.0 if rule.kind == "cost_rate" else condition.value
            return Message(rule.name, status, condition.title, at, self.currency, url=self.url,
                           cost_per_hour=rate, accrued_cost=accrued)
        title = condition.title
        if status == "reminder" and view.incident_start is not None:
            title = f"Still {view.state.value.upper()} after " \
                    f"{duration(at - view.incident_start)}: {title}"
        return Message(
            alert=rule.name, status=status, title=title, at=at, currency=self.currency,
            system=condition.system, url=self.url, state=view.state.value, cause=view.cause,
            since=view.incident_start, affected_users=view.affected_users,
            cost_per_hour=view.cost_per_hour, accrued_cost=view.incident_cost,
        )

    def _resolved(self, rule: AlertRule, state: AlertState, last: Condition | None,
                  now: SystemView | None, at: float) -> Message:
        if rule.kind == "state" and state.system:
            cost = incident_figure(now, state.since)
            if now is None and last is not None and last.view is not None:  # removed by a reload
                cost = last.view.incident_cost
            current = now.state.value if now else State.UNKNOWN.value
            title = f"{state.system} is {current.upper()} again after {duration(at - state.since)}"
            if cost is not None:
                title += f"; the outage cost {money(cost, self.currency)}"
            return Message(rule.name, "resolved", title, at, self.currency, system=state.system,
                           state=current, since=state.since, accrued_cost=cost or 0.0,
                           url=self.url)
        title = f"Burn rate back below {state.key.lstrip('>=')} {self.currency} per hour"
        return Message(rule.name, "resolved", title, at, self.currency, url=self.url)

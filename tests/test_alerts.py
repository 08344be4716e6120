"""Alert rules walked through with the engine and an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import DOWN, HOURLY, UP, config, system

from agent.alerts import Alerting, Facts
from agent.engine import Engine
from agent.model import AlertRule

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()


class Walk:
    """An engine and its alert rules, evaluated at chosen times."""

    def __init__(self, *rules: AlertRule, systems=None) -> None:
        self.engine = Engine(config(*(systems or [system("email"), system("web")])), T0)
        self.alerting = Alerting(rules, "GBP", "https://status.example.gov.uk/")

    def probe(self, name: str, result, at: float) -> None:
        self.engine.observe(name, result, at)

    def evaluate(self, at: float):
        self.engine.account(at)
        return self.alerting.evaluate(
            Facts(at, self.engine.view(at), self.engine.period_costs(at)))

    def take_down(self, name: str, at: float) -> None:
        for k, result in enumerate([UP, DOWN, DOWN, DOWN]):
            self.probe(name, result, at + 5 * k)  # confirmed at at+15, window from at+5


def statuses(outcome) -> list[tuple[str, str]]:
    return [(m.alert, m.status) for _, m in outcome.notifications]


def test_state_alert_holds_fires_reminds_and_resolves():
    walk = Walk(AlertRule("down", "state", ("ops",), hold=60, repeat=3600))
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 20)) == []  # pending: held for 60 s
    fired = walk.evaluate(T0 + 80)
    assert statuses(fired) == [("down", "firing")]
    [(notify, message)] = fired.notifications
    assert notify == ("ops",)
    assert message.system == "email" and message.url == "https://status.example.gov.uk/"
    assert message.accrued_cost == walk.engine.view(T0 + 80)[0].incident_cost > 0
    assert statuses(walk.evaluate(T0 + 1000)) == []  # no repeat before an hour
    assert statuses(walk.evaluate(T0 + 80 + 3600)) == [("down", "reminder")]
    walk.probe("email", UP, T0 + 3700)
    walk.probe("email", UP, T0 + 3705)
    resolved = walk.evaluate(T0 + 3710)
    assert statuses(resolved) == [("down", "resolved")]
    assert "UP again" in resolved.notifications[0][1].title
    assert walk.alerting.states == {}


def test_a_blip_shorter_than_the_hold_sends_nothing():
    walk = Walk(AlertRule("down", "state", ("ops",), hold=300))
    walk.take_down("email", T0)
    walk.evaluate(T0 + 20)
    walk.probe("email", UP, T0 + 30)
    walk.probe("email", UP, T0 + 35)
    outcome = walk.evaluate(T0 + 40)
    assert statuses(outcome) == [] and outcome.cleared == [("down", "email")]


def test_acknowledged_incident_gets_no_reminders():
    walk = Walk(AlertRule("down", "state", ("ops",), repeat=600))
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 20)) == [("down", "firing")]
    changed = walk.alerting.acknowledge("email")
    assert [s.acked for s in changed] == [True]
    assert statuses(walk.evaluate(T0 + 20 + 1200)) == []


def test_incident_cost_fires_once_per_threshold_per_incident():
    rule = AlertRule("expensive", "incident_cost", ("finance",), thresholds=(100, 1000))
    walk = Walk(rule)
    walk.take_down("email", T0)
    # 2,000 users at £12.99/h: £100 after 100 / (2000 * HOURLY) hours
    first = T0 + 5 + 100 / (2000 * HOURLY) * 3600 + 1
    assert statuses(walk.evaluate(first - 2)) == []
    assert statuses(walk.evaluate(first)) == [("expensive", "firing")]
    assert statuses(walk.evaluate(first + 60)) == []  # once
    second = T0 + 5 + 1000 / (2000 * HOURLY) * 3600 + 1
    outcome = walk.evaluate(second)
    assert statuses(outcome) == [("expensive", "firing")]
    assert "£1,000" in outcome.notifications[0][1].title
    walk.probe("email", UP, second + 1)
    walk.probe("email", UP, second + 2)
    assert statuses(walk.evaluate(second + 3)) == []  # a cost threshold does not "resolve"
    walk.take_down("email", second + 100)  # a new incident starts counting again
    assert statuses(walk.evaluate(second + 100 + 15 + 3600)) == [("expensive", "firing")] * 2


def test_period_cost_uses_the_calendar_day_and_systems_filter():
    rule = AlertRule("budget", "period_cost", ("finance",), thresholds=(500,), period="day",
                     systems=("web",))
    walk = Walk(rule)
    walk.take_down("email", T0)  # not in the filter: costs nothing towards this budget
    assert statuses(walk.evaluate(T0 + 7200)) == []
    walk.take_down("web", T0 + 7200)
    hours_to_500 = 500 / (HOURLY * 2000 * 0.5)  # email and web share the cap now
    outcome = walk.evaluate(T0 + 7200 + 5 + hours_to_500 * 3600 + 10)
    assert statuses(outcome) == [("budget", "firing")]
    assert "2026-11-02" in outcome.notifications[0][1].title


def test_cost_rate_fires_above_the_threshold_and_resolves_below():
    rule = AlertRule("burn", "cost_rate", ("ops",), thresholds=(19000,))
    walk = Walk(rule, systems=[system("email", users_share=0.5), system("web", users_share=0.5)])
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 30)) == []  # 2000 x 0.5 x £12.99 = £12,993.76/h
    walk.take_down("web", T0 + 30)
    fired = walk.evaluate(T0 + 60)
    assert statuses(fired) == [("burn", "firing")]
    # the same people: 1 - 0.5 x 0.5 = 0.75 of their time, £19,490.64 an hour
    assert fired.notifications[0][1].cost_per_hour == pytest.approx(2000 * HOURLY * 0.75)
    walk.probe("web", UP, T0 + 70)
    walk.probe("web", UP, T0 + 75)
    assert statuses(walk.evaluate(T0 + 80)) == [("burn", "resolved")]


def test_restored_firing_alert_is_not_sent_again():
    rule = AlertRule("down", "state", ("ops",))
    walk = Walk(rule)
    walk.take_down("email", T0)
    walk.evaluate(T0 + 20)
    saved = list(walk.alerting.states.values())
    again = Walk(rule)
    again.take_down("email", T0)
    again.alerting.restore(saved)
    assert statuses(again.evaluate(T0 + 30)) == []
    assert again.alerting.firing() == {"down": 1}


@pytest.mark.fault('A target flips up and down 4,000 times',
                   'At most six windows and twelve messages: flapping is held as one'
                   ' outage until it settles')
def test_thousands_of_flips_make_one_outage_and_a_handful_of_messages():
    flappy = system("flappy", failure_threshold=1, success_threshold=1, flap_threshold=5,
                    flap_window=600)
    walk = Walk(AlertRule("down", "state", ("ops",)), systems=[flappy])
    windows, sent = set(), []
    at = T0
    for flip in range(4000):  # up and down every 2 seconds for over two hours
        batch = walk.engine.observe("flappy", DOWN if flip % 2 else UP, at)
        windows.update((w.system, w.start) for w in batch.windows)
        if flip % 10 == 0:
            sent += walk.evaluate(at).notifications
        at += 2
    # the first five recoveries go through; after that it is one outage until it settles
    assert len(windows) <= 6, len(windows)
    assert len(sent) <= 12, len(sent)
    assert walk.engine.lives["flappy"].window.reason.startswith("flapping")
    for step in range(200):  # stable for ten minutes: the recovery holds after five
        walk.engine.observe("flappy", UP, at + step * 5)
    assert walk.engine.lives["flappy"].window is None

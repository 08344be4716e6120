"""Alert rules walked through with the engine and an injected clock; a restart through a
real ledger file."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from support.helpers import DOWN, HOURLY, SLOW, UP, config, system

from agent.alerts import Alerting, Facts
from agent.engine import Engine
from agent.ledger import Ledger
from agent.model import AlertRule, Config, ProbeResult, Status, TcpProbe
from agent.records import Batch
from agent.report import build_report
from agent.resume import read_recorded, resume

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()
AGENT_FAULT = ProbeResult(Status.UNKNOWN, 0.0, "the agent's own fault: Too many open files")
URL = "https://status.example.gov.uk/"


class Walk:
    """An engine and its alert rules, evaluated at chosen times; `batches` holds what the
    daemon would commit."""

    def __init__(self, *rules: AlertRule, systems=None, cfg: Config | None = None,
                 start: float = T0) -> None:
        self.rules = rules
        self.engine = Engine(cfg or config(*(systems or [system("email"), system("web")])),
                             start)
        self.alerting = Alerting(rules, "GBP", URL)
        self.batches: list[Batch] = []

    def probe(self, name: str, result, at: float) -> None:
        self.batches.append(self.engine.observe(name, result, at))

    def evaluate(self, at: float):
        self.batches.append(self.engine.account(at))
        outcome = self.alerting.evaluate(
            Facts(at, self.engine.view(at), self.engine.period_costs(at)))
        self.batches.append(Batch(alerts=list(outcome.changed),
                                  alerts_cleared=list(outcome.cleared)))
        return outcome

    def reload(self, cfg: Config, at: float, *rules: AlertRule) -> None:
        """A SIGHUP at `at`, as agent.daemon.Agent.reload applies it: a new engine and new
        alert rules take over from the old."""
        engine = Engine(cfg, at)
        self.batches.append(engine.adopt(self.engine, at).batch)
        self.rules = rules or self.rules
        alerting = Alerting(self.rules, "GBP", URL)
        alerting.take_over(self.alerting)
        self.engine, self.alerting = engine, alerting

    def commit(self, ledger: Ledger) -> None:
        for batch in filter(None, self.batches):
            ledger.submit(batch).result(timeout=10)
        self.batches.clear()

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


def test_a_state_alert_tells_when_things_get_worse_not_only_when_they_start():
    """Found by review: a service went degraded, then down, and only "DEGRADED" was sent."""
    walk = Walk(AlertRule("bad", "state", ("ops",), states=("down", "degraded")),
                systems=[system("email")])
    walk.probe("email", UP, T0)
    for k in range(3):
        walk.probe("email", SLOW, T0 + 5 + 5 * k)
    fired = walk.evaluate(T0 + 20)
    assert statuses(fired) == [("bad", "firing")]
    assert "email is DEGRADED" in fired.notifications[0][1].title
    assert statuses(walk.evaluate(T0 + 25)) == []  # told already
    for k in range(3):
        walk.probe("email", DOWN, T0 + 30 + 5 * k)
    worse = walk.evaluate(T0 + 50)
    assert statuses(worse) == [("bad", "firing")]
    assert "email is DOWN" in worse.notifications[0][1].title
    for k in range(2):
        walk.probe("email", SLOW, T0 + 55 + 5 * k)  # better again: not told until resolved
    assert statuses(walk.evaluate(T0 + 70)) == []
    for k in range(2):
        walk.probe("email", UP, T0 + 75 + 5 * k)
    assert statuses(walk.evaluate(T0 + 90)) == [("bad", "resolved")]


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


# --- what a resolved message says an incident cost, across reloads and restarts ------------
# By hand: 2,000 people at £25,000 / 1,924 h lose £25,987.53 an hour while email is down.
AN_HOUR = "£25,987.53"
HALF_AN_HOUR = "£12,993.76"


def resolved_message(outcome):
    [(_, message)] = outcome.notifications
    assert message.status == "resolved"
    return message


@pytest.mark.fault("SIGHUP re-creates the alert rules while a state alert fires",
                   "the resolved message says what the whole incident cost, not £0.00",
                   area="Alerting")
def test_a_resolved_message_after_a_reload_says_what_the_whole_incident_cost():
    walk = Walk(AlertRule("down", "state", ("ops",), repeat=3600))
    walk.take_down("email", T0)  # down from T0 + 5
    assert statuses(walk.evaluate(T0 + 20)) == [("down", "firing")]
    walk.reload(config(system("email"), system("web")), T0 + 1800,
                AlertRule("down", "state", ("ops",), repeat=600))
    walk.probe("email", UP, T0 + 3605)
    walk.probe("email", UP, T0 + 3610)
    message = resolved_message(walk.evaluate(T0 + 3615))  # the first since the reload
    assert round(message.accrued_cost, 2) == 25987.53  # an hour: T0 + 5 to T0 + 3605
    assert message.title == f"email is UP again after 59m 55s; the outage cost {AN_HOUR}"


def test_a_resolved_message_after_a_reload_repointed_the_system_says_what_it_cost():
    walk = Walk(AlertRule("down", "state", ("ops",)))
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 20)) == [("down", "firing")]
    check = dataclasses.replace(system("email").check, spec=TcpProbe(target="127.0.0.1:10"))
    walk.reload(config(system("email", check=check), system("web")), T0 + 1805)
    message = resolved_message(walk.evaluate(T0 + 1810))  # unknown until probed again
    # its window closed at the reload: half an hour, T0 + 5 to T0 + 1805
    assert round(message.accrued_cost, 2) == 12993.76
    assert message.title == f"email is UNKNOWN again after 29m 50s; the outage cost {HALF_AN_HOUR}"


def test_a_resolved_message_for_a_system_a_reload_removed_says_what_it_had_cost():
    walk = Walk(AlertRule("down", "state", ("ops",)))
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 20)) == [("down", "firing")]
    walk.evaluate(T0 + 1805)  # the last evaluation, just before the reload
    walk.reload(config(system("web")), T0 + 1805)
    message = resolved_message(walk.evaluate(T0 + 1810))
    assert round(message.accrued_cost, 2) == 12993.76
    assert message.title.endswith(f"the outage cost {HALF_AN_HOUR}")


@pytest.mark.fault("The agent is killed while a state alert fires, and restarted before the "
                   "outage ends, or after longer than max_unobserved_gap",
                   "the resolved message says what the whole incident cost, as the report of "
                   "its windows does, not £0.00", area="Alerting")
@pytest.mark.parametrize(("restart", "probes", "resolved_at", "cost"), [
    pytest.param(T0 + 1900, [(DOWN, T0 + 1900), (UP, T0 + 3605), (UP, T0 + 3610)], T0 + 3615,
                 25987.53, id="an hour: still failing after the restart, up at T0 + 3605"),
    pytest.param(T0 + 2400, [], T0 + 2415, 12993.76,
                 id="half an hour: away too long, the window closes where it was last seen"),
])
def test_a_resolved_message_after_a_restart_says_what_the_report_says_it_cost(
        tmp_path, restart, probes, resolved_at, cost):
    cfg = config(system("email"), ledger=tmp_path / "ledger.db")
    rule = AlertRule("down", "state", ("ops",))
    ledger = Ledger(cfg.agent.ledger, "shire-hall")
    ledger.open()
    walk = Walk(rule, cfg=cfg)
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 20)) == [("down", "firing")]
    walk.evaluate(T0 + 1805)  # last seen failing
    walk.commit(ledger)
    ledger.close()  # killed, then restarted as agent.daemon.Agent.start does it
    ledger.dispose()
    ledger = Ledger(cfg.agent.ledger, "shire-hall")
    ledger.open()
    again = Walk(rule, cfg=cfg, start=restart)
    recorded = read_recorded(ledger, ["email"], again.engine.days.first_day_kept(restart),
                             restart)
    again.batches.append(resume(again.engine, recorded, {"email"}, cfg, restart, "ledger"))
    again.alerting.restore(ledger.alert_states())
    for result, at in probes:
        again.probe("email", result, at)
    message = resolved_message(again.evaluate(resolved_at))  # the first since the restart
    assert round(message.accrued_cost, 2) == cost
    assert message.title.endswith(f"the outage cost £{cost:,.2f}")
    again.commit(ledger)
    report = build_report(ledger.report_windows(T0, T0 + 7200), cfg, T0, T0 + 7200, T0 + 7200)
    [incident] = [s.most_expensive for s in report.systems]
    assert round(incident.cost, 2) == round(message.accrued_cost, 2)
    ledger.close()
    ledger.dispose()


def test_a_resolved_message_while_the_incident_goes_on_says_what_it_has_cost_so_far():
    walk = Walk(AlertRule("down", "state", ("ops",)),
                systems=[system("email", degraded_impact=0.5)])
    walk.take_down("email", T0)
    assert statuses(walk.evaluate(T0 + 20)) == [("down", "firing")]
    for k in range(3):  # slow from T0 + 1805: degraded, the same incident
        walk.probe("email", SLOW, T0 + 1805 + 5 * k)
    message = resolved_message(walk.evaluate(T0 + 1820))
    # by hand: down for half an hour, then degraded (half its users' time) for 15 s:
    # 2,000 x 25,000 / 1,924 x (1,800 + 0.5 x 15) / 3,600
    assert round(message.accrued_cost, 2) == 13047.90
    assert message.title.endswith("the outage cost £13,047.90")


def test_a_resolved_alert_on_unknown_alone_reports_no_outage_it_did_not_cover():
    walk = Walk(AlertRule("blind", "state", ("ops",), states=("unknown",)),
                systems=[system("email")])
    walk.take_down("email", T0)  # an outage from T0 + 5...
    for k in range(3):  # ...ended when the agent could no longer probe: unknown at T0 + 30
        walk.probe("email", AGENT_FAULT, T0 + 20 + 5 * k)
    assert statuses(walk.evaluate(T0 + 40)) == [("blind", "firing")]
    walk.probe("email", DOWN, T0 + 50)  # seen again: a new outage, from T0 + 50
    message = resolved_message(walk.evaluate(T0 + 60))
    assert (message.title, message.accrued_cost) == ("email is DOWN again after 20s", 0.0)


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

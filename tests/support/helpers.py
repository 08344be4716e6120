"""Small builders shared by tests: configs made in code, probe results, a steppable clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from agent.model import (
    AgentConfig,
    Check,
    Config,
    CostConfig,
    ProbeResult,
    Status,
    System,
    TcpProbe,
    UsersSchedule,
)

# The secrets config/example.yaml takes from the environment, as a deployment would set them.
EXAMPLE_ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.example/T0/B0/x",
               "TEAMS_WORKFLOW_URL": "https://teams.example/workflows/1",
               "WEBHOOK_SECRET": "s3cret", "SMTP_PASSWORD": "pa55"}

HOURLY = 25000 / 1924  # the council's figure: £25,000 a year over 1,924 working hours


def english_working_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Given two dates, return the weekdays from first to last (both included) that are not
    bank holidays in England by the holidays package's own list. A test that needs an ordinary
    working day takes it from here, so a one-off holiday a new release adds (a coronation, a
    state funeral) moves the test's day instead of breaking it."""
    import holidays

    bank = holidays.country_holidays("GB", subdiv="ENG", years=range(first.year, last.year + 1))
    days = (first + dt.timedelta(days=k) for k in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5 and day not in bank]


def system(name: str, **overrides: object) -> System:
    """A TCP-probed system with short, test-friendly timing."""
    base = System(
        name=name,
        check=Check(spec=TcpProbe(target="127.0.0.1:9"), timeout=1.0),
        interval=30.0,
        retry_interval=5.0,
        failure_threshold=3,
        success_threshold=2,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def config(
    *systems: System,
    users: float | UsersSchedule = 2000,
    timezone: str = "UTC",
    canaries: tuple[System, ...] = (),
    ledger: Path | str = "/nonexistent/ledger.db",
    hourly: float = HOURLY,
) -> Config:
    schedule = users if isinstance(users, UsersSchedule) else UsersSchedule(default=users)
    return Config(
        agent=AgentConfig(ledger=str(ledger), canaries=canaries),
        cost=CostConfig(currency="GBP", timezone=timezone, hourly_cost_per_user=hourly,
                        users=schedule),
        systems=tuple(systems),
    )


UP = ProbeResult(Status.UP, 0.01)
DOWN = ProbeResult(Status.DOWN, 0.5, "connection refused")
SLOW = ProbeResult(Status.DEGRADED, 2.5, "slow")


def series_nobody_makes(rules: list[dict]) -> list[tuple[str, str]]:
    """(rule, series) for each outage series a rule reads that the agent does not export and
    no rule records: a renamed metric would otherwise leave an alert with nothing to read."""
    import re

    from agent.metrics import Metrics

    exported = set(re.findall(r"^# TYPE (\S+)", Metrics("GBP", "site").render().decode(),
                              re.MULTILINE))
    known = exported | {rule["record"] for rule in rules if "record" in rule}
    return [(rule.get("alert") or rule["record"], name) for rule in rules
            for name in re.findall(r"\b(outage[_:][a-z0-9_:]*)",
                                   rule["expr"] + " ".join(rule.get("annotations", {}).values()))
            if name not in known]


def load_rules(path: Path) -> list[dict]:
    """Every rule (recording and alerting) of a Prometheus rule file, across its groups."""
    import yaml

    return [rule for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana's variables ($name and ${name}), longest names first."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr

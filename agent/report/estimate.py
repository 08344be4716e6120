"""`outage-agent estimate`: the council's arithmetic as a calculator, with its working shown.

2,000 users x £25,000 a year / 1,924 working hours = £25,987.53 an hour of full outage;
21.55 hours of it = £560,031. The money uses the same functions as the agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.config import parse_duration
from agent.cost import cost_of, hourly_cost_per_user, staff_cost_rate
from agent.report.words import TIMES, count
from agent.text import duration, money


@dataclass(frozen=True)
class Estimate:
    users: float
    annual_cost: float  # per user, including on-costs
    hours_per_year: float
    outage: float  # seconds

    @property
    def hourly_per_user(self) -> float:
        return hourly_cost_per_user(self.annual_cost, self.hours_per_year)

    @property
    def per_hour(self) -> float:
        return staff_cost_rate(self.users, self.hourly_per_user, users_share=1.0, impact=1.0)

    @property
    def total(self) -> float:
        return cost_of(self.users * self.outage, self.hourly_per_user, weight=1.0)


def parse_outage(text: str) -> float:
    """Given "21.55h", "21h33m" or "90m", return seconds; raise ValueError for a bare number,
    which could mean hours or seconds, or for anything that is not a duration."""
    if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text):
        raise ValueError(f"give the outage with a unit, e.g. {text.strip()}h or 21h33m")
    return parse_duration(text)


def derivation(estimate: Estimate, currency: str) -> list[str]:
    """The lines `estimate` prints: each figure and how it was reached."""
    users = count(estimate.users)
    annual = money(estimate.annual_cost, currency, pence=False)
    hours_a_year = count(estimate.hours_per_year)
    per_hour = money(estimate.per_hour, currency)
    hours = f"{estimate.outage / 3600:,.4f}".rstrip("0").rstrip(".")
    return [
        f"Hourly cost of a full outage: {users} users {TIMES} {annual} / {hours_a_year} h = "
        f"{per_hour} per hour",
        f"  ({money(estimate.hourly_per_user, currency)} per user-hour: {annual} a year / "
        f"{hours_a_year} working hours)",
        f"Outage: {hours} h ({duration(estimate.outage)})",
        f"Cost: {hours} h {TIMES} {per_hour} per hour = "
        f"{money(estimate.total, currency, pence=False)}",
        "An estimate of productivity cost: the staff time lost while nobody can work, "
        "not a measured loss.",
    ]

"""The summary `outage-agent check` prints (agent.config.summary): systems, cost basis and
the peak cost of a full outage, with and without groups and shift rates."""

from __future__ import annotations

from pathlib import Path

from agent.config import load_config, summary
from agent.model import Config

from .conftest import GROUPS_EXAMPLE, MINIMAL, SYSTEMS, load


def test_summary_shows_systems_cost_basis_and_peak_cost(example: Config) -> None:
    assert summary(example).splitlines() == [
        "Systems: 9, services: 1 (and 2 canaries)",
        "Currency: GBP; time zone: Europe/London",
        "Cost per user-hour: £25,000 / 1,924 h = £12.99 per user-hour",
        # the example's users are measured, up to max 3,000
        "Peak concurrent users: 3,000 (measured, up to max 3,000; the fallback's peak is 2,000)",
        "Peak cost of a full outage: 3,000 \N{MULTIPLICATION SIGN} £12.9938 = £38,981.29 per hour "
        "(measured users, up to max 3,000)",
    ]


def test_summary_with_a_given_hourly_cost_and_a_currency_without_symbol(tmp_path: Path) -> None:
    text = MINIMAL.replace("annual_cost_per_user: 25000", "currency: CHF, hourly_cost_per_user: 40")
    lines = summary(load(tmp_path, text)).splitlines()
    assert lines[0] == "Systems: 1"
    assert lines[2] == "Cost per user-hour: CHF 40.00 per user-hour (given)"
    assert (
        lines[4]
        == "Peak cost of a full outage: 100 \N{MULTIPLICATION SIGN} CHF 40 = CHF 4,000.00 per hour"
    )


TIMES = "\N{MULTIPLICATION SIGN}"


def test_summary_with_groups_shows_each_groups_peak_and_their_sum() -> None:
    # office-staff 1,500 x 25000/1924 = 19,490.644; care-workers 300 x 24000/1950 = 3,692.308
    # (the night shift's 90 x 16.40 = 1,476 is less); contact-centre 80 x 14.20 = 1,136.
    assert summary(load_config(GROUPS_EXAMPLE, env={})).splitlines() == [
        "Systems: 5",
        "Currency: GBP; time zone: Europe/London",
        f"Group office-staff: peak 1,500 users {TIMES} £12.9938 = £19,490.64 per hour; "
        "£25,000 / 1,924 h = £12.99 per user-hour",
        f"Group care-workers: peak 300 users {TIMES} £12.3077 = £3,692.31 per hour; "
        "£24,000 / 1,950 h = £12.31 per user-hour",
        f"Group contact-centre: peak 80 users {TIMES} £14.2 = £1,136.00 per hour; "
        "£14.20 per user-hour (given)",
        "Peak cost of a full outage: £24,318.95 per hour (sum of the groups' peaks)",
    ]


SHIFT = '{default: 10, windows: [{days: mon-sun, hours: "22:00-07:00", users: 8, ' \
        "hourly_cost_per_user: 20}]}"


def test_summary_peak_uses_a_shift_rate_where_it_costs_most(tmp_path: Path) -> None:
    # 10 users x £10 = £100 by day, 8 x £20 = £160 at night: the night is the peak
    text = f"cost: {{hourly_cost_per_user: 10, concurrent_users: {SHIFT}}}\n{SYSTEMS}"
    assert summary(load(tmp_path, text)).splitlines()[2:] == [
        "Cost per user-hour: £10.00 per user-hour (given)",
        "Peak concurrent users: 10",
        f"Peak cost of a full outage: 8 {TIMES} £20 = £160.00 per hour",
    ]
    groups = f"{{night: {{concurrent_users: {SHIFT}}}, day: {{concurrent_users: 5}}}}"
    grouped = f"cost: {{hourly_cost_per_user: 10, groups: {groups}}}\n{SYSTEMS}"
    assert summary(load(tmp_path, grouped)).splitlines()[2:] == [
        f"Group night: peak 8 users {TIMES} £20 = £160.00 per hour; £10.00 per user-hour "
        "(given)",
        f"Group day: peak 5 users {TIMES} £10 = £50.00 per hour; £10.00 per user-hour (given)",
        "Peak cost of a full outage: £210.00 per hour (sum of the groups' peaks)",
    ]

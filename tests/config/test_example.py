"""The shipped example configurations load to known values: config/example.yaml (with
helpers.EXAMPLE_ENV for its ${VAR}s) and config/groups.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.helpers import EXAMPLE_ENV

from agent.config import load_config
from agent.model import (
    CommandProbe,
    Config,
    DnsProbe,
    HttpProbe,
    IcmpProbe,
    Maintenance,
    TcpProbe,
    UsersWindow,
)

from .conftest import EXAMPLE, GROUPS_EXAMPLE


def test_example_hourly_cost_is_annual_cost_over_working_hours(example: Config) -> None:
    assert example.cost.hourly_cost_per_user == pytest.approx(25000 / 1924)
    assert example.cost.annual_cost_per_user == 25000
    assert (example.cost.currency, example.cost.timezone) == ("GBP", "Europe/London")


def test_example_users_schedule_has_windows_and_holidays(example: Config) -> None:
    users = example.cost.users
    assert (users.default, users.holidays) == (100, "GB-ENG")
    assert users.windows == (
        UsersWindow(frozenset({0, 1, 2, 3, 4}), dt.time(8), dt.time(18), 2000),
        UsersWindow(frozenset({5, 6}), dt.time(10), dt.time(16), 300),
        UsersWindow(frozenset(range(7)), dt.time(22), dt.time(6), 40),
    )


def test_example_ledger_resolves_next_to_the_config_without_state_directory(
    example: Config,
) -> None:
    assert example.agent.ledger == str(EXAMPLE.parent.resolve() / "outage-ledger.db")


def test_example_ledger_resolves_under_state_directory_when_set(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, env={**EXAMPLE_ENV,
                                       "STATE_DIRECTORY": f"{tmp_path}:/var/lib/other"})
    assert config.agent.ledger == str(tmp_path / "outage-ledger.db")
    explicit = load_config(EXAMPLE, env=EXAMPLE_ENV, state_directory="/var/lib/outage-agent")
    assert explicit.agent.ledger == "/var/lib/outage-agent/outage-ledger.db"


def test_example_agent_section(example: Config) -> None:
    agent = example.agent
    assert (agent.listen, agent.site, agent.log_level) == ("127.0.0.1:9321", "shire-hall", "info")
    assert agent.max_unobserved_gap == 300
    assert example.source == EXAMPLE.resolve()


def test_example_canaries_are_named_in_order_with_default_timing_and_no_cost(
    example: Config,
) -> None:
    first, second = example.agent.canaries
    assert (first.name, second.name) == ("canary-1", "canary-2")
    assert first.check.spec == TcpProbe(target="gateway.example.internal:53")
    assert second.check.spec == IcmpProbe(host="core-router.example.internal", count=3)
    assert (first.interval, first.retry_interval, first.check.timeout) == (30, 5, 10)
    assert (first.users_share, first.impact, first.direct_cost_per_hour) == (0, 0, 0)


def test_example_system_overrides_defaults(example: Config) -> None:
    core = example.system("network-core")
    assert (core.interval, core.retry_interval, core.check.timeout) == (15, 5, 5)
    assert (core.failure_threshold, core.success_threshold) == (2, 3)
    assert (core.sla, core.tier, core.owner) == (pytest.approx(0.9995), "1", "Infrastructure team")
    assert core.check.degraded_after == 3  # inherited from defaults


def test_example_http_probe_has_every_option(example: Config) -> None:
    email = example.system("email")
    assert email.check.spec == HttpProbe(
        url="https://mail.example.gov.uk/healthcheck",
        headers=(("Accept", "text/plain"),),
        expect_status=(200, 204),
        body_contains="OK",
        body_regex="status: (ok|green)",
        proxy="http://proxy.example.internal:3128",
        ip_version=6,
        max_redirects=5,
        tls_expiry_degraded=14 * 86400,
    )
    assert (email.check.timeout, email.check.degraded_after) == (8, 2)
    assert (email.users_share, email.impact, email.degraded_impact) == (0.9, 0.5, 0.1)
    assert email.depends_on == ("network-core",)


def test_example_other_probe_types(example: Config) -> None:
    assert example.system("dns").check.spec == DnsProbe(
        name="intranet.example.internal",
        expect=("192.0.2.10", "192.0.2.11"),
        server="ns1.example.internal:53",
    )
    backup = example.system("backup-disk")
    assert backup.check.spec == CommandProbe(
        command=("/usr/lib/nagios/plugins/check_disk", "-w", "10%", "-c", "5%", "-p", "/backup")
    )
    assert (backup.interval, backup.retry_interval, backup.check.timeout) == (300, 60, 20)
    assert backup.down_interval == 120
    assert example.system("network-core").down_interval == 30  # from defaults


def test_example_maintenance_times_are_aware_utc(example: Config) -> None:
    care = example.system("care-records")
    assert care.direct_cost_per_hour == 450
    recurring, christmas, summer = care.maintenance
    assert recurring == Maintenance(cron="0 22 * * sun", duration=7200)
    assert christmas.start == dt.datetime(2026, 12, 24, 18, tzinfo=dt.UTC)
    assert christmas.end == dt.datetime(2026, 12, 27, 8, tzinfo=dt.UTC)
    # a naive time is in cost.timezone: 07:00 BST is 06:00 UTC
    assert summer.start == dt.datetime(2026, 8, 1, 6, tzinfo=dt.UTC)
    assert summer.start is not None and summer.start.tzinfo is not None


def test_the_groups_example_loads_without_environment_variables() -> None:
    config = load_config(GROUPS_EXAMPLE, env={})
    assert [group.name for group in config.cost.groups] == [
        "office-staff", "care-workers", "contact-centre"]
    care = config.cost.groups[1]
    assert [window.hourly_cost_per_user for window in care.users.windows] == [16.4]
    assert config.shares(config.system("payments")) == {}
    assert config.shares(config.system("telephony")) == {"contact-centre": 1.0,
                                                         "office-staff": 0.2}

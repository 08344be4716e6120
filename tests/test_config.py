"""Tests for agent.config: every invalid file in testdata/config is paired with its exact
problem lines (NAME.yaml + NAME.errors, `{here}` standing for that folder), the example
config loads to known values, and no input makes the loader raise anything but ConfigError."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import EXAMPLE_ENV
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import (
    MAX_BYTES,
    ConfigError,
    Problem,
    format_duration,
    load_config,
    parse_duration,
    summary,
)
from agent.model import (
    CommandProbe,
    Config,
    DnsProbe,
    HttpProbe,
    IcmpProbe,
    Maintenance,
    TcpProbe,
    UserGroup,
    UsersSchedule,
    UsersWindow,
)

TESTDATA = Path(__file__).parent / "testdata" / "config"
EXAMPLE = Path(__file__).parents[1] / "config" / "example.yaml"
GROUPS_EXAMPLE = EXAMPLE.with_name("groups.yaml")
INVALID = sorted(path.stem for path in TESTDATA.glob("*.yaml"))

SYSTEMS = """\
systems:
  - name: core
    probe: {type: tcp, target: "core.example.internal:443"}
"""
MINIMAL = "cost: {annual_cost_per_user: 25000, concurrent_users: 100}\n" + SYSTEMS


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env=env or {})


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    """Return the problem lines for `text` saved as config.yaml, relative to tmp_path."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, env)
    prefix = str(tmp_path / "config.yaml")
    return [line.replace(prefix, "config.yaml") for line in str(caught.value).splitlines()]


def with_system(extra: str, probe: str = '{type: tcp, target: "core.example.internal:443"}') -> str:
    """A minimal config whose one system has `probe` and the extra (indented) lines."""
    return MINIMAL.replace(
        '    probe: {type: tcp, target: "core.example.internal:443"}\n',
        f"    probe: {probe}\n{extra}",
    )


# --- invalid files and their exact messages -----------------------------------------------------


@pytest.mark.parametrize("name", INVALID)
@pytest.mark.fault("each broken file in tests/testdata/config: YAML syntax, "
                   "wrong types, unknown keys, bad URLs, timings, alias bomb,"
                   " non-UTF-8, unsupported tags",
                   "every problem reported at once, exactly as in its .errors"
                   " file: file:line: key.path: message")
def test_invalid_config_reports_exactly_its_expected_problems(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TESTDATA)
    expected = (TESTDATA / f"{name}.errors").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(f"{name}.yaml", env={})
    assert str(caught.value).splitlines() == expected.replace("{here}", str(TESTDATA)).splitlines()


def test_every_invalid_config_file_has_an_errors_file_and_the_reverse() -> None:
    errors = sorted(path.stem for path in TESTDATA.glob("*.errors"))
    assert errors == INVALID


def test_a_file_with_five_mistakes_reports_five_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TESTDATA)
    with pytest.raises(ConfigError) as caught:
        load_config("five_mistakes.yaml", env={})
    assert len(caught.value.problems) == 5
    assert [problem.line for problem in caught.value.problems] == [6, 7, 9, 10, 11]


def test_problem_reads_as_file_line_path_message() -> None:
    problem = Problem("config.yaml", 14, "systems[1].probe.url", "not a valid URL")
    assert str(problem) == "config.yaml:14: systems[1].probe.url: not a valid URL"
    assert str(Problem("config.yaml", None, "", "cannot read")) == "config.yaml: cannot read"


def test_config_error_joins_its_problems_one_per_line() -> None:
    error = ConfigError([Problem("c.yaml", 1, "a", "x"), Problem("c.yaml", 2, "b", "y")])
    assert str(error) == "c.yaml:1: a: x\nc.yaml:2: b: y"


# --- the example configuration --------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(EXAMPLE, env=EXAMPLE_ENV)


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


def test_absolute_ledger_path_is_kept(tmp_path: Path) -> None:
    config = load(tmp_path, f"agent: {{ledger: /srv/ledger.db}}\n{MINIMAL}")
    assert config.agent.ledger == "/srv/ledger.db"


@pytest.mark.parametrize(("written", "resolved"), [
    ("sqlite:///ledgers/site.db", "{here}/ledgers/site.db"),  # relative, like a plain path
    ("sqlite:////srv/ledger.db", "/srv/ledger.db"),
    ("postgresql+psycopg://agent:${PGPASS}@db.example.internal:5432/outages",
     "postgresql+psycopg://agent:pw@db.example.internal:5432/outages"),
])
def test_ledger_accepts_sqlite_and_postgresql_urls(tmp_path: Path, written: str,
                                                    resolved: str) -> None:
    config = load(tmp_path, f'agent: {{ledger: "{written}"}}\n{MINIMAL}', env={"PGPASS": "pw"})
    assert config.agent.ledger == resolved.replace("{here}", str(tmp_path))
    if "${PGPASS}" in written:
        assert "pw" in config.secrets  # the password is scrubbed from logs and answers


@pytest.mark.parametrize(("written", "message"), [
    ("mysql://agent@db.example.internal/outages", "unsupported ledger store 'mysql'"),
    ("sqlite://", "a SQLite ledger needs a file"),
    ("postgresql+psycopg://agent@/outages", "a PostgreSQL ledger needs a host and a database"),
])
def test_ledger_url_errors_name_the_key(tmp_path: Path, written: str, message: str) -> None:
    [problem] = problems(tmp_path, f'agent: {{ledger: "{written}"}}\n{MINIMAL}')
    assert problem.startswith("config.yaml:1: agent.ledger: ")
    assert message in problem


BAD_PORT = ("config.yaml:1: agent.ledger: not a database URL: the port must be a number from 1 "
            "to 65535, and an IPv6 address goes in brackets: "
            "postgresql+psycopg://[::1]:5432/database")


@pytest.mark.parametrize("written", [
    "postgresql+psycopg://agent:s3cretpw@db.example.internal:abc/outages",
    "postgresql://agent:s3cretpw@[::1/outages",
    "postgresql://agent:s3cretpw@db.example.internal:/outages",
    "postgresql://agent:s3cretpw@db.example.internal:99999/outages",
    "postgresql://agent:s3cretpw@db.example.internal:s3cretpw/outages",
])
@pytest.mark.fault("a PostgreSQL ledger URL with a bad port (:abc, an unclosed [::1)",
                   "one file:line problem, which never shows the password")
def test_a_ledger_url_with_a_bad_port_is_a_problem_without_its_password(
    tmp_path: Path, written: str,
) -> None:
    assert problems(tmp_path, f'agent: {{ledger: "{written}"}}\n{MINIMAL}') == [BAD_PORT]


AUTHORIZATION = ("config.yaml:4: systems[0].probe.headers.{name}: the url's user:password@ is "
                 "sent as an Authorization header of its own: give one or the other")


@pytest.mark.parametrize(("url", "headers", "problem"), [
    ("https://monitor:s3cretpw@intranet.example.internal/", "{authorization: Bearer x}",
     AUTHORIZATION.format(name="authorization")),
    ("http://monitor@intranet.example.internal/", "{Authorization: Basic eA==}",
     AUTHORIZATION.format(name="Authorization")),
    ("https://monitor:s3cretpw@intranet.example.internal/", "{Accept: text/plain}", None),
    ("https://intranet.example.internal/", "{Authorization: Bearer x}", None),
])
@pytest.mark.fault("an http probe with user:password@ in its url and an Authorization header",
                   "a file:line problem at the header, not a probe that passes check and is "
                   "then down for ever with reason 'ValueError'")
def test_url_credentials_and_an_authorization_header_are_refused_together(
    tmp_path: Path, url: str, headers: str, problem: str | None,
) -> None:
    text = with_system("", f'{{type: http, url: "{url}", headers: {headers}}}')
    if problem is None:
        spec = load(tmp_path, text).systems[0].check.spec
        assert isinstance(spec, HttpProbe) and spec.url == url
    else:
        assert problems(tmp_path, text) == [problem]


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
    assert example.system("network-core").down_interval is None  # the same as its interval


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


def test_summary_shows_systems_cost_basis_and_peak_cost(example: Config) -> None:
    assert summary(example).splitlines() == [
        "Systems: 6 (and 2 canaries)",
        "Currency: GBP; time zone: Europe/London",
        "Cost per user-hour: £25,000 / 1,924 h = £12.99 per user-hour",
        "Peak concurrent users: 2,000",
        "Peak cost of a full outage: 2,000 \N{MULTIPLICATION SIGN} £12.9938 = £25,987.53 per hour",
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


# --- groups of users ------------------------------------------------------------------------------

TIMES = "\N{MULTIPLICATION SIGN}"
GROUPS = """\
cost:
  annual_cost_per_user: 25000
  working_hours_per_year: 1850
  groups:
    office-staff:
      concurrent_users: {default: 60, windows: [{days: mon-fri, hours: "08:00-18:00", users: 1500}]}
    part-time:
      working_hours_per_year: 1000
      concurrent_users: 200
    managers:
      annual_cost_per_user: 40000
      concurrent_users: 30
    care-workers:
      description: "Residential care"
      annual_cost_per_user: 24000
      working_hours_per_year: 1950
      concurrent_users:
        default: 300
        windows: [{days: mon-sun, hours: "22:00-07:00", users: 90, hourly_cost_per_user: 16.4}]
    contact-centre:
      hourly_cost_per_user: 14.2
      concurrent_users: 80
systems:
  - name: core
    probe: {type: tcp, target: "core.example.internal:443"}
    users: {contact-centre: 0.5, office-staff: 1}
  - name: payments
    probe: {type: tcp, target: "pay.example.internal:443"}
    direct_cost_per_hour: 1200
"""


def test_groups_inherit_the_cost_figures_they_do_not_give(tmp_path: Path) -> None:
    office_hours = UsersWindow(frozenset(range(5)), dt.time(8), dt.time(18), 1500)
    night = UsersWindow(frozenset(range(7)), dt.time(22), dt.time(7), 90, hourly_cost_per_user=16.4)
    assert load(tmp_path, GROUPS).cost.groups == (
        # nothing given: cost's annual cost over cost's working hours
        UserGroup("office-staff", UsersSchedule(60, (office_hours,)), 25000 / 1850, 25000, 1850),
        # its own working hours: cost's annual cost over them
        UserGroup("part-time", UsersSchedule(200), 25.0, 25000, 1000),
        # its own annual cost: over cost's working hours
        UserGroup("managers", UsersSchedule(30), 40000 / 1850, 40000, 1850),
        UserGroup("care-workers", UsersSchedule(300, (night,)), 24000 / 1950, 24000, 1950),
        # an hourly cost replaces cost's annual cost
        UserGroup("contact-centre", UsersSchedule(80), 14.2, None, 1924),
    )


def test_a_system_names_its_share_of_each_group_in_order(tmp_path: Path) -> None:
    config = load(tmp_path, GROUPS)
    core, payments = config.systems
    assert core.users == (("contact-centre", 0.5), ("office-staff", 1.0))
    assert config.shares(core) == {"contact-centre": 0.5, "office-staff": 1.0}
    assert (payments.users, config.shares(payments)) == ((), {})  # direct costs only


def test_with_groups_the_cost_section_keeps_its_figures_as_defaults(tmp_path: Path) -> None:
    cost = load(tmp_path, GROUPS).cost
    assert (cost.annual_cost_per_user, cost.working_hours_per_year) == (25000, 1850)
    assert cost.hourly_cost_per_user == 25000 / 1850
    assert cost.user_groups() == cost.groups


def test_without_groups_everyone_is_one_implicit_group(tmp_path: Path) -> None:
    cost = load(tmp_path, MINIMAL).cost
    assert cost.groups == ()
    assert cost.user_groups() == (
        UserGroup("everyone", UsersSchedule(100), 25000 / 1924, 25000, 1924),
    )


def test_a_window_without_groups_may_carry_a_shift_rate(tmp_path: Path) -> None:
    schedule = '{default: 1, windows: [{days: sat-sun, hours: "00:00-24:00", users: 50, ' \
               "hourly_cost_per_user: 19.5}]}"
    text = MINIMAL.replace("concurrent_users: 100", f"concurrent_users: {schedule}")
    [window] = load(tmp_path, text).cost.users.windows
    assert (window.users, window.hourly_cost_per_user) == (50, 19.5)


@pytest.mark.fault("A cost figure so large its money overflows (1.0e+308 an hour, or an annual "
                   "cost over 1e-300 working hours)", "check refuses it with file:line; the "
                   "API could never emit Infinity", area="Configuration")
@pytest.mark.parametrize(("cost", "where"), [
    pytest.param("{hourly_cost_per_user: 1.0e+16, concurrent_users: 100}",
                 "cost.hourly_cost_per_user", id="hourly"),
    pytest.param('{hourly_cost_per_user: 1, concurrent_users: {default: 1, windows: [{days: mon, '
                 'hours: "08:00-18:00", users: 1.0e+10, hourly_cost_per_user: 1.0e+300}]}}',
                 "cost.concurrent_users.windows[0].hourly_cost_per_user", id="shift-rate"),
])
def test_a_figure_too_large_to_integrate_is_refused(tmp_path: Path, cost: str,
                                                     where: str) -> None:
    # Found by review: 1.0e+308 an hour passed check, then made counters +Inf and the API
    # emit Infinity, which is not JSON.
    text = f"cost: {cost}\n{SYSTEMS}"
    assert problems(tmp_path, text) == [f"config.yaml:1: {where}: must be at most 1e+15 in size"]


def test_a_number_yaml_reads_as_text_gets_a_hint(tmp_path: Path) -> None:
    text = MINIMAL.replace("annual_cost_per_user: 25000", "annual_cost_per_user: 2.5e4")
    assert problems(tmp_path, text) == [
        "config.yaml:1: cost.annual_cost_per_user: expected a number, got text: YAML reads "
        "'2.5e4' as text; write it with a decimal point and a signed exponent (1.0e+5) or in "
        "full (100000)"]


def test_the_groups_example_loads_without_environment_variables() -> None:
    config = load_config(GROUPS_EXAMPLE, env={})
    assert [group.name for group in config.cost.groups] == [
        "office-staff", "care-workers", "contact-centre"]
    care = config.cost.groups[1]
    assert [window.hourly_cost_per_user for window in care.users.windows] == [16.4]
    assert config.shares(config.system("payments")) == {}
    assert config.shares(config.system("telephony")) == {"contact-centre": 1.0,
                                                         "office-staff": 0.2}


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


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("30s", 30, id="seconds"),
        pytest.param("5m", 300, id="minutes"),
        pytest.param("2h", 7200, id="hours"),
        pytest.param("1d", 86400, id="days"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1h30m", 5400, id="combined"),
        pytest.param("1m30s250ms", 90.25, id="three-units"),
        pytest.param("1.5h", 5400, id="fraction"),
        pytest.param(" 5m ", 300, id="spaces-around"),
        pytest.param("90", 90, id="number-as-text"),
        pytest.param(45, 45, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param("0s", 0, id="zero"),
    ],
)
def test_parse_duration_accepts(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("5 minutes", id="words"),
        pytest.param("30s1h", id="wrong-order"),
        pytest.param("1h1h", id="repeated-unit"),
        pytest.param("-5s", id="negative-text"),
        pytest.param(-1, id="negative-number"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="infinity"),
        pytest.param(10**400, id="huge"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="none"),
        pytest.param("1w", id="weeks"),
    ],
)
def test_parse_duration_rejects_with_a_clear_message(text: Any) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "500ms"), (30, "30s"), (90, "1m30s"), (3600, "1h"), (93784, "1d2h3m4s"), (0, "0ms")],
)
def test_format_duration_writes_the_short_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- environment variables ----------------------------------------------------------------------


def test_env_variables_are_substituted_in_any_string(tmp_path: Path) -> None:
    text = MINIMAL.replace('"core.example.internal:443"', '"${CORE_HOST}:${CORE_PORT}"')
    config = load(tmp_path, text, env={"CORE_HOST": "core.example.internal", "CORE_PORT": "8443"})
    assert config.systems[0].check.spec == TcpProbe(target="core.example.internal:8443")


def test_double_dollar_writes_a_literal_reference(tmp_path: Path) -> None:
    config = load(tmp_path, with_system('    description: "costs $${AMOUNT} ($5)"\n'))
    assert config.systems[0].description == "costs ${AMOUNT} ($5)"


def test_unset_env_variable_names_the_key_path_and_the_variable(tmp_path: Path) -> None:
    assert problems(tmp_path, with_system("    owner: ${TEAM}\n")) == [
        "config.yaml:5: systems[0].owner: environment variable TEAM is not set"
    ]


def test_a_plain_env_reference_reads_as_the_value_yaml_would_see(tmp_path: Path) -> None:
    text = "cost:\n  hourly_cost_per_user: 1\n  concurrent_users: ${USERS}\n" + SYSTEMS
    assert load(tmp_path, text, env={"USERS": "2000"}).cost.users.default == 2000


def test_a_quoted_env_reference_stays_a_string(tmp_path: Path) -> None:
    text = MINIMAL.replace("concurrent_users: 100", 'concurrent_users: "${USERS}"')
    assert problems(tmp_path, text, env={"USERS": "2000"}) == [
        "config.yaml:1: cost.concurrent_users: expected a number or a schedule "
        "(default, windows...), got a string"
    ]


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_TEAM", "Infrastructure")
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    config = load_config(write(tmp_path, with_system("    owner: ${CORE_TEAM}\n")))
    assert config.systems[0].owner == "Infrastructure"
    assert config.agent.ledger == str(tmp_path / "state" / "outage-ledger.db")


# --- values accepted in their several forms ------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param("mon-fri", {0, 1, 2, 3, 4}, id="range"),
        pytest.param('"sat,sun"', {5, 6}, id="comma-list"),
        pytest.param("mon", {0}, id="one-day"),
        pytest.param("mon-sun", set(range(7)), id="whole-week"),
        pytest.param('"tue-thu,sat"', {1, 2, 3, 5}, id="range-and-day"),
        pytest.param("fri-mon", {4, 5, 6, 0}, id="wrapping-range"),
        pytest.param("[mon, Wednesday]", {0, 2}, id="yaml-list-and-full-name"),
    ],
)
def test_users_window_days(tmp_path: Path, days: str, expected: set[int]) -> None:
    schedule = f'{{default: 1, windows: [{{days: {days}, hours: "08:00-18:00", users: 5}}]}}'
    text = MINIMAL.replace("concurrent_users: 100", f"concurrent_users: {schedule}")
    assert load(tmp_path, text).cost.users.windows[0].days == frozenset(expected)


@pytest.mark.parametrize(
    ("hours", "start", "end"),
    [
        pytest.param("08:00-18:00", dt.time(8), dt.time(18), id="daytime"),
        pytest.param("22:00-06:00", dt.time(22), dt.time(6), id="across-midnight"),
        pytest.param("00:00-24:00", dt.time(0), dt.time(0), id="whole-day"),
        pytest.param("18:30-24:00", dt.time(18, 30), dt.time(0), id="to-midnight"),
    ],
)
def test_users_window_hours(tmp_path: Path, hours: str, start: dt.time, end: dt.time) -> None:
    schedule = f'{{default: 1, windows: [{{days: mon, hours: "{hours}", users: 5}}]}}'
    text = MINIMAL.replace("concurrent_users: 100", f"concurrent_users: {schedule}")
    window = load(tmp_path, text).cost.users.windows[0]
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        pytest.param("US", None, id="country-only"),
        pytest.param("GB-SCT", None, id="subdivision"),
        pytest.param(
            "XX",
            "no bank holidays known for country 'XX' (use e.g. GB-ENG)",
            id="unknown-country",
        ),
    ],
)
def test_holidays_are_checked_against_the_holidays_package(
    tmp_path: Path, spec: str, error: str | None
) -> None:
    text = MINIMAL.replace(
        "concurrent_users: 100", f"concurrent_users: {{default: 1, holidays: {spec}}}"
    )
    if error is None:
        assert load(tmp_path, text).cost.users.holidays == spec
    else:
        assert problems(tmp_path, text) == [
            f"config.yaml:1: cost.concurrent_users.holidays: {error}"
        ]


@pytest.mark.parametrize(
    ("sla", "fraction"),
    [
        pytest.param('"99.9%"', 0.999, id="percent"),
        pytest.param("0.999", 0.999, id="fraction"),
        pytest.param("1", 1.0, id="hundred-percent"),
    ],
)
def test_sla_as_percent_or_fraction(tmp_path: Path, sla: str, fraction: float) -> None:
    assert load(tmp_path, with_system(f"    sla: {sla}\n")).systems[0].sla == pytest.approx(
        fraction
    )


def test_probe_values_in_their_short_forms(tmp_path: Path) -> None:
    probe = '{type: http, url: "https://mail.example.gov.uk/", expect_status: 200, method: head}'
    spec = load(tmp_path, with_system("", probe)).systems[0].check.spec
    assert isinstance(spec, HttpProbe)
    assert (spec.expect_status, spec.method) == ((200,), "HEAD")


def test_tls_expiry_degraded_is_a_duration(tmp_path: Path) -> None:
    probe = '{type: http, url: "https://mail.example.gov.uk/", tls_expiry_degraded: 14d}'
    spec = load(tmp_path, with_system("", probe)).systems[0].check.spec
    assert isinstance(spec, HttpProbe) and spec.tls_expiry_degraded == 14 * 86400


@pytest.mark.parametrize(
    ("value", "url", "message"),
    [
        pytest.param("14d", "http://mail.example.gov.uk/",
                     "needs an https:// url: there is no certificate", id="plain-http"),
        pytest.param("0s", "https://mail.example.gov.uk/", "must be greater than zero",
                     id="zero"),
        pytest.param("soon", "https://mail.example.gov.uk/", "not a valid duration: 'soon' "
                     "(use seconds or units ms, s, m, h, d from largest to smallest, e.g. 30s, "
                     "5m, 1h30m)", id="not-a-duration"),
    ],
)
def test_tls_expiry_degraded_problems(tmp_path: Path, value: str, url: str, message: str) -> None:
    probe = f'{{type: http, url: "{url}", tls_expiry_degraded: {value}}}'
    assert problems(tmp_path, with_system("", probe)) == [
        f"config.yaml:4: systems[0].probe.tls_expiry_degraded: {message}"]


def test_dns_expect_may_be_one_string_and_record_type_any_case(tmp_path: Path) -> None:
    probe = '{type: dns, name: "example.internal", record_type: aaaa, expect: "2001:db8::1"}'
    spec = load(tmp_path, with_system("", probe)).systems[0].check.spec
    assert spec == DnsProbe(name="example.internal", record_type="AAAA", expect=("2001:db8::1",))


def test_relative_tls_files_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    probe = '{type: http, url: "https://mail.example.gov.uk/", ca_file: certs/ca.pem}'
    spec = load(tmp_path, with_system("", probe)).systems[0].check.spec
    assert isinstance(spec, HttpProbe)
    assert spec.ca_file == str(tmp_path / "certs" / "ca.pem")


def test_ipv6_listen_address_in_brackets(tmp_path: Path) -> None:
    assert (
        load(tmp_path, f'agent: {{listen: "[::1]:9321"}}\n{MINIMAL}').agent.listen == "[::1]:9321"
    )


def test_yaml_merge_keys_share_settings_between_systems(tmp_path: Path) -> None:
    text = """\
cost: {hourly_cost_per_user: 10, concurrent_users: 100}
systems:
  - &base
    name: a
    probe: {type: tcp, target: "a.example.internal:443"}
    interval: 1m
    impact: 0.5
  - <<: *base
    name: b
"""
    a, b = load(tmp_path, text).systems
    assert (b.name, b.interval, b.impact, b.check) == ("b", 60, 0.5, a.check)


def test_commented_out_optional_sections_read_as_absent(tmp_path: Path) -> None:
    config = load(tmp_path, f"agent:\n  # listen: x\ndefaults:\n{MINIMAL}")
    assert config.agent.listen == "127.0.0.1:9321"


# --- problems the testdata files do not show -----------------------------------------------------


def test_a_bad_default_is_reported_once_not_once_per_system(tmp_path: Path) -> None:
    text = MINIMAL + '  - name: other\n    probe: {type: tcp, target: "o.example.internal:1"}\n'
    assert problems(tmp_path, f"defaults: {{timeout: 1m}}\n{text}") == [
        "config.yaml:1: defaults.timeout: timeout (1m) must be shorter than interval (30s)"
    ]


def test_a_long_dependency_chain_is_checked_without_recursion(tmp_path: Path) -> None:
    count = 1100  # deeper than Python's recursion limit
    lines = [
        f'  - {{name: s{i}, probe: {{type: tcp, target: "h:1"}}, depends_on: [s{(i + 1) % count}]}}'
        for i in range(count)
    ]
    text = "cost: {hourly_cost_per_user: 1, concurrent_users: 1}\nsystems:\n" + "\n".join(lines)
    cycle = " -> ".join(f"s{i}" for i in [*range(count), 0])
    assert problems(tmp_path, text) == [
        f"config.yaml:{count + 2}: systems[{count - 1}].depends_on[0]: dependency cycle: {cycle}"
    ]


@pytest.mark.fault("config file missing",
                   "one problem: \"cannot read the file: No such file or "
                   "directory\"")
def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml", env={})
    assert (
        str(caught.value)
        == f"{tmp_path / 'absent.yaml'}: cannot read the file: No such file or directory"
    )


@pytest.mark.fault("a directory given as the config",
                   "one problem: \"cannot read the file\"")
def test_a_directory_is_reported_not_raised(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path, env={})


@pytest.mark.fault("config file over 1 MiB",
                   "refused unread: \"the file is larger than 1 MiB\"")
def test_a_file_larger_than_one_mebibyte_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "#" * MAX_BYTES)
    with pytest.raises(ConfigError, match=r"larger than 1 MiB"):
        load_config(path, env={})


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 5000 + "]" * 5000, id="deep-flow-nesting"),
        pytest.param("a: " + "[" * 60 + "]" * 60, id="nesting-beyond-budget"),
        pytest.param("a: &a [*a, *a]", id="recursive-alias"),
        pytest.param("a: &a {b: 1, <<: *a}", id="recursive-merge"),
    ],
)
@pytest.mark.fault("deep nesting (5,000 levels), recursive aliases and merges",
                   "refused with a line number, without recursion errors")
def test_absurd_nesting_is_refused_with_a_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert all(problem.line is not None for problem in caught.value.problems)


def test_file_name_in_messages_is_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "systems: []\n", name="x.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config("x.yaml", env={})
    assert str(caught.value).splitlines()[0] == "x.yaml:1: cost: required key is missing"


# --- property: nothing but ConfigError, always with a line ---------------------------------------

_EXAMPLES = {path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
             for path in (EXAMPLE, GROUPS_EXAMPLE)}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["30s", "0s", "-1", "1h30m", "${X}", "$${", "mon-fri", "99%", "[::1]:0"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in nested dicts and lists."""
    found = [prefix] if prefix else []
    children = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in children:
        found += _paths(value, (*prefix, key))
    return found


_PATHS = [(name, path) for name, data in _EXAMPLES.items() for path in _paths(data)]


def _mutated(name: str, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    data = copy.deepcopy(_EXAMPLES[name])
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def _assert_loads_or_reports_lines(path: Path) -> None:
    try:
        load_config(path, env={"X": "1"})
    except ConfigError as err:
        assert err.problems
        assert all(problem.line is not None and problem.line >= 1 for problem in err.problems)


_PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_PROPERTY
@given(where=st.sampled_from(_PATHS), value=_values, delete=st.booleans())
@pytest.mark.fault("hypothesis: any value of the example config replaced by "
                   "random data, or deleted",
                   "a valid config or a ConfigError whose every problem has a"
                   " line; never a traceback")
def test_mutating_any_value_of_the_example_gives_a_config_or_config_error(
    tmp_path: Path, where: tuple[str, tuple[Any, ...]], value: Any, delete: bool
) -> None:
    data = _mutated(*where, value, delete)  # in config/example.yaml or config/groups.yaml
    _assert_loads_or_reports_lines(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))


@_PROPERTY
@given(
    text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`,?\n \t$.1é\x00")), max_size=80)
)
@pytest.mark.fault("hypothesis: random YAML-ish text",
                   "a valid config or a ConfigError with lines; never a "
                   "traceback")
def test_random_yaml_text_gives_a_config_or_config_error(tmp_path: Path, text: str) -> None:
    _assert_loads_or_reports_lines(write(tmp_path, text))


@_PROPERTY
@given(data=_values)
@pytest.mark.fault("hypothesis: random YAML documents",
                   "a valid config or a ConfigError with lines; never a "
                   "traceback")
def test_random_yaml_documents_give_a_config_or_config_error(tmp_path: Path, data: Any) -> None:
    _assert_loads_or_reports_lines(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))

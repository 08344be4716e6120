"""Measured concurrent users in the config (agent.users.sources via agent.config.cost): a
`source` with a `fallback`, for everyone or for a group; every problem named by file, line
and key path; the number and schedule forms unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.model import UsersSchedule
from agent.users.command import CommandSource
from agent.users.http_json import HttpJsonSource
from agent.users.prometheus import PrometheusSource

from .conftest import SYSTEMS, load, problems


def cost(users: str) -> str:
    return f"cost:\n  annual_cost_per_user: 25000\n  concurrent_users:\n{users}" + SYSTEMS


PROMETHEUS = """\
    source:
      type: prometheus
      url: http://127.0.0.1:9090
      query: sum(citrix_sessions_active)
      every: 30s
      max: 3000
      headers: {Authorization: "Bearer s3cret"}
    fallback: {default: 100, holidays: GB-ENG}
"""


def test_a_prometheus_source_with_a_fallback_schedule(tmp_path: Path) -> None:
    config = load(tmp_path, cost(PROMETHEUS))
    source = config.cost.users_source
    assert source is not None and isinstance(source.spec, PrometheusSource)
    assert (source.every, source.max, source.timeout) == (30.0, 3000.0, 10.0)
    assert source.spec.query == "sum(citrix_sessions_active)"
    assert source.spec.tls.headers == (("Authorization", "Bearer s3cret"),)
    assert config.cost.users == UsersSchedule(default=100, holidays="GB-ENG")
    assert config.cost.user_groups()[0].source == source
    assert "Bearer s3cret" in config.secrets  # never logged, as a probe's header


def test_a_group_measured_by_a_command_with_a_number_as_fallback(tmp_path: Path) -> None:
    text = ("cost:\n  annual_cost_per_user: 25000\n  groups:\n    desk:\n"
            "      concurrent_users:\n        source: {type: command, command: [/bin/echo, '7'],"
            " every: 1s}\n        fallback: 40\n" + SYSTEMS)
    [group] = load(tmp_path, text).cost.groups
    assert group.source is not None and group.source.spec == CommandSource(("/bin/echo", "7"))
    assert (group.source.every, group.source.timeout, group.users) == (
        1.0, 1.0, UsersSchedule(default=40))


def test_an_http_json_source_takes_a_dotted_path(tmp_path: Path) -> None:
    users = ("    source: {type: http_json, url: 'http://127.0.0.1:8080/s', path: data.sessions}\n"
             "    fallback: 5\n")
    source = load(tmp_path, cost(users)).cost.users_source
    assert source is not None and isinstance(source.spec, HttpJsonSource)
    assert (source.spec.path, source.every) == (("data", "sessions"), 60.0)


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        pytest.param("    source: {type: prometeus, url: 'http://p:9090', query: up}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.type: unknown users source "
                     "type 'prometeus'; did you mean 'prometheus'?", id="type-typo"),
        pytest.param("    source: {type: command, command: [/bin/true], every: 500ms}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.every: must be at least 1s",
                     id="every-under-a-second"),
        pytest.param("    source: {type: command, command: [/bin/true]}\n",
                     "config.yaml:4: cost.concurrent_users.fallback: required key is missing",
                     id="no-fallback"),
        pytest.param("    source: {type: http_json, url: 'http://h/', path: 'a..b'}\n"
                     "    fallback: 5\n",
                     'config.yaml:4: cost.concurrent_users.source.path: expected a dotted '
                     'path to a number, e.g. "data.sessions"', id="bad-path"),
        pytest.param("    source: {type: prometheus, url: 'http://p:9090', query: up, path: x}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.path: only for users source "
                     "type http_json, not prometheus", id="key-of-another-type"),
        pytest.param("    source: {type: http_json, url: 'http://h/s', path: n, query: up}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.query: only for users source "
                     "type prometheus, not http_json", id="query-on-http-json"),
        pytest.param("    source: {type: prometheus, url: 'http://p:9090/?x=1', query: up}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.url: the Prometheus server's "
                     "URL takes no query string or fragment (its /api/v1/query is asked)",
                     id="prometheus-url-with-a-query-string"),
        pytest.param("    source: {type: prometheus, url: 'http://p', query: up, hedaers: {}}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.hedaers: unknown key for users "
                     "source type prometheus; did you mean 'headers'?", id="unknown-key"),
        pytest.param("    source: {type: command, command: [/bin/true], max: -1}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.max: must not be negative",
                     id="negative-max"),
        pytest.param("    source: {type: command, command: [/bin/true], max: 0}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.max: must be greater than "
                     "zero", id="zero-max"),
        pytest.param("    source: {type: command, command: [/bin/true], max: 2e7}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.max: must be at most "
                     "10,000,000 (no source measures more users)", id="max-above-the-bound"),
        pytest.param("    source:\n      type: http_json\n      url: 'http://u:pw@h/s'\n"
                     "      path: n\n      headers: {Authorization: Bearer x}\n"
                     "    fallback: 5\n",
                     "config.yaml:8: cost.concurrent_users.source.headers.Authorization: the "
                     "url's user:password@ is sent as an Authorization header of its own: give "
                     "one or the other", id="credentials-twice"),
        pytest.param("    source: {type: command, command: [/bin/true], every: 1s, timeout: 5s}\n"
                     "    fallback: 5\n",
                     "config.yaml:4: cost.concurrent_users.source.timeout: must not be longer "
                     "than every (1s): a reading must end before the next is due",
                     id="timeout-over-every"),
    ],
)
def test_a_bad_source_is_reported_at_its_line_and_key_path(tmp_path: Path, users: str,
                                                             expected: str) -> None:
    assert problems(tmp_path, cost(users)) == [expected]

"""Heartbeat (push) systems in the config: `every` or `schedule`, `grace`, a strong `token`,
`max_runtime`; each mistake with its exact message at its line."""

from __future__ import annotations

import pytest

from agent.probes.heartbeat import HeartbeatProbe

from .conftest import load, problems, with_system

TOKEN = "0123456789abcdef0123456789abcdef"


def heartbeat(keys: str) -> str:
    return with_system("", probe="{type: heartbeat, " + keys + "}")


def test_a_heartbeat_reads_its_keys_and_ignores_the_failure_and_success_thresholds(tmp_path):
    text = heartbeat('every: 1d, grace: 90s, max_runtime: 30m, token: "${PAYROLL_TOKEN}"')
    text += "defaults: {failure_threshold: 5, success_threshold: 3}\n"
    config = load(tmp_path, text, env={"PAYROLL_TOKEN": TOKEN})
    system = config.systems[0]
    assert system.check.spec == HeartbeatProbe(grace=90.0, token=TOKEN, every=86400.0,
                                               max_runtime=1800.0)
    assert (system.failure_threshold, system.success_threshold, system.flap_threshold) == (
        2, 1, 0)
    assert TOKEN in config.secrets
    assert TOKEN not in repr(system)


def test_a_heartbeat_on_a_schedule_reads_its_cron_line(tmp_path):
    config = load(tmp_path, heartbeat(f'schedule: "30 2 * * mon-fri", grace: 1h, token: {TOKEN}'))
    assert config.systems[0].check.spec.schedule == "30 2 * * mon-fri"


@pytest.mark.parametrize("keys, message", [
    pytest.param('every: 1d, grace: 2h, token: "abc123"',
                 "config.yaml:4: systems[0].probe.token: too short: a hex token needs at least "
                 "32 digits (128 bits), got 6; make one with `openssl rand -hex 16`",
                 id="short-hex"),
    pytest.param('every: 1d, grace: 2h, token: "Zm9vYmFyYmF6cXV4"',
                 "config.yaml:4: systems[0].probe.token: too short: a token needs at least 22 "
                 "base64url characters (128 bits), got 16; make one with `openssl rand -hex 16`",
                 id="short-base64url"),
    pytest.param(f'every: 1d, grace: 2h, token: "{TOKEN[:-1]}/"',
                 "config.yaml:4: systems[0].probe.token: a token is letters, digits, '-' and '_' "
                 "only (it goes in a URL)", id="not-url-safe"),
    pytest.param(f"grace: 2h, token: {TOKEN}",
                 "config.yaml:4: systems[0].probe.type: a heartbeat needs every (e.g. 1d) or "
                 "schedule (a cron line)", id="no-every-or-schedule"),
    pytest.param(f'every: 1d, schedule: "0 2 * * *", grace: 2h, token: {TOKEN}',
                 "config.yaml:4: systems[0].probe.schedule: give either every or schedule, not "
                 "both", id="both"),
    pytest.param(f'schedule: "0 0 31 2 *", grace: 2h, token: {TOKEN}',
                 "config.yaml:4: systems[0].probe.schedule: never fires: no success could "
                 "ever be due", id="never-fires"),
    pytest.param(f"every: 1d, grace: 0s, token: {TOKEN}",
                 "config.yaml:4: systems[0].probe.grace: must be greater than zero",
                 id="no-grace"),
])
@pytest.mark.fault("a heartbeat with a weak token, no schedule, both kinds of schedule, a "
                   "cron line that never fires, or no grace",
                   "refused by check at its file:line, the token never quoted")
def test_a_heartbeat_mistake_is_reported_at_its_line(tmp_path, keys, message):
    assert message in problems(tmp_path, heartbeat(keys))


def test_a_heartbeat_cannot_be_a_canary(tmp_path):
    text = heartbeat(f"every: 1d, grace: 1h, token: {TOKEN}") + (
        f"agent:\n  canaries:\n    - {{type: heartbeat, every: 1d, grace: 1h, token: {TOKEN}}}\n")
    assert problems(tmp_path, text) == [
        "config.yaml:7: agent.canaries[0]: a canary is probed by the agent; a heartbeat "
        "cannot be one"]


def test_two_heartbeats_with_one_token_are_refused_at_the_second(tmp_path):
    text = heartbeat(f"every: 1d, grace: 1h, token: {TOKEN}") + (
        "  - name: backup\n"
        f"    probe: {{type: heartbeat, every: 1d, grace: 1h, token: {TOKEN}}}\n")
    assert problems(tmp_path, text) == [
        "config.yaml:6: systems[1].probe.token: the same token as system 'core': each "
        "heartbeat needs its own"]


def test_check_shows_when_a_heartbeat_is_due_and_never_its_token(tmp_path):
    from agent.config.summary import probe_text

    config = load(tmp_path, heartbeat(f'schedule: "30 2 * * *", grace: 90m, token: {TOKEN}'))
    assert probe_text(config.systems[0]) == "heartbeat schedule '30 2 * * *', grace 1h30m"

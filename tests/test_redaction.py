"""Secrets (passwords, tokens, webhook URLs, credentials in URLs) never appear in logs,
metrics, API answers, the ledger or error messages."""

from __future__ import annotations

import copy
import io
import logging
import secrets
import string
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.helpers import EXAMPLE_ENV
from support.realparts import AgentProcess, Receiver, free_port, get, wait_for

from agent.config import ConfigError, load_config
from agent.service import install_redaction
from agent.text import redact

EXAMPLE = Path(__file__).parents[1] / "config" / "example.yaml"


# --- redact() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secrets_", "expected"),
    [
        pytest.param("GET http://alice:pw@host/x failed", (), "GET http://host/x failed",
                     id="url-credentials"),
        pytest.param("proxy https://bob@proxy:3128", (), "proxy https://proxy:3128",
                     id="url-user-only"),
        pytest.param("login hunter22 refused", ("hunter22",), "login <redacted> refused",
                     id="known-secret"),
        pytest.param("POST /services/T0/B0/abcdef failed", ("/services/T0/B0/abcdef",
                                                            "https://h/services/T0/B0/abcdef"),
                     "POST <redacted> failed", id="webhook-path"),
        pytest.param("token abcd and abcdefgh", ("abcd", "abcdefgh"),
                     "token <redacted> and <redacted>", id="longest-first"),
        pytest.param("a 3-char pw: abc", ("abc",), "a 3-char pw: abc", id="too-short-to-mask"),
    ],
)
def test_redact(text: str, secrets_: tuple[str, ...], expected: str) -> None:
    assert redact(text, secrets_) == expected


def test_log_records_and_tracebacks_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    remove = install_redaction(lambda: frozenset({"Sup3rSecret"}))
    try:
        log = logging.getLogger("agent.test")
        try:
            raise ValueError("cannot reach https://u:pw@h.example/ with Sup3rSecret")
        except ValueError:
            log.exception("failed for %s", "Sup3rSecret")
    finally:
        remove()
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "failed for <redacted>" in text
    assert "ValueError: cannot reach https://h.example/ with <redacted>" in text
    assert "Sup3rSecret" not in text and "u:pw" not in text


# --- which values are secrets --------------------------------------------------------------------

SECRET_CONFIG = """\
agent: {{ledger: ledger.db, evaluation_interval: 500ms, log_level: debug}}
cost: {{annual_cost_per_user: 25000, concurrent_users: 100}}
defaults: {{interval: 1s, retry_interval: 500ms, timeout: 400ms, failure_threshold: 1}}
systems:
  - name: intranet
    probe:
      type: http
      url: "http://admin:${{PROBE_PASSWORD}}@127.0.0.1:{refused}/health"
      headers: {{Accept: text/plain}}
      proxy: "http://proxyuser:${{PROXY_PASSWORD}}@127.0.0.1:{refused}"
  - name: api  # an Authorization header goes with a URL without user:password@
    probe:
      type: http
      url: "http://127.0.0.1:{refused}/api"
      headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}
  - name: backup
    probe: {{type: command, command: ["{plugin}"]}}
notifiers:
  - {{name: hook, type: webhook, url: "http://127.0.0.1:{dead}/hooks/${{HOOK_TOKEN}}",
      secret: "${{HMAC_SECRET}}", retries: 1}}
  - {{name: chat, type: slack, url: "${{SLACK_WEBHOOK_URL}}", retries: 1}}
  - {{name: mail, type: email, host: 127.0.0.1, port: {dead}, security: none,
      username: agent, password: "${{SMTP_PASSWORD}}", from: a@example.org,
      to: [b@example.org], retries: 1}}
alerts:
  - {{name: down, condition: state, notify: [hook, chat, mail]}}
"""


def secret_env(receiver_port: int) -> dict[str, str]:
    """Random secrets, as a deployment would set them in the environment."""
    def token() -> str:
        return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))

    env = {name: token() for name in ("PROBE_PASSWORD", "API_TOKEN", "PROXY_PASSWORD",
                                      "HOOK_TOKEN", "HMAC_SECRET", "SMTP_PASSWORD")}
    env["SLACK_TOKEN"] = token()
    env["SLACK_WEBHOOK_URL"] = (f"http://127.0.0.1:{receiver_port}/services/T000/B000/"
                                f"{env['SLACK_TOKEN']}")
    return env


def write_secret_config(folder: Path, env: dict[str, str]) -> Path:
    plugin = folder / "check_login.sh"  # a plugin that prints a configured password back
    plugin.write_text(f"#!/bin/sh\necho 'CRITICAL - login admin:{env['PROBE_PASSWORD']} "
                      "refused'\nexit 2\n")
    plugin.chmod(0o755)
    path = folder / "agent.yaml"
    path.write_text(SECRET_CONFIG.format(refused=free_port(), dead=free_port(), plugin=plugin))
    return path


def test_every_kind_of_secret_in_a_config_is_known(tmp_path: Path) -> None:
    env = secret_env(9)
    config = load_config(write_secret_config(tmp_path, env), env=env)
    for name in ("PROBE_PASSWORD", "API_TOKEN", "PROXY_PASSWORD", "HMAC_SECRET",
                 "SMTP_PASSWORD", "SLACK_WEBHOOK_URL"):
        assert env[name] in config.secrets, name
    assert f"Bearer {env['API_TOKEN']}" in config.secrets
    assert f"/services/T000/B000/{env['SLACK_TOKEN']}" in config.secrets
    assert any(env["HOOK_TOKEN"] in value for value in config.secrets)
    assert "text/plain" not in config.secrets  # not a credential header
    assert env["SMTP_PASSWORD"] not in repr(config) and env["HMAC_SECRET"] not in repr(config)


# --- config error messages -----------------------------------------------------------------


@pytest.mark.fault("config errors around secrets: a webhook URL without a scheme, a probe "
                   "URL with a password and a bad port, a password without a username",
                   "each reported at its line, with the secret shown as <redacted> or not "
                   "at all", area="Security")
@pytest.mark.parametrize(
    ("snippet", "secret"),
    [
        pytest.param('notifiers: [{name: n, type: slack, url: "hooks.example/services/T/B/'
                     'S3cretSlackToken"}]', "S3cretSlackToken", id="webhook-without-scheme"),
        pytest.param('notifiers: [{name: n, type: email, host: h.example, from: a@b.c, '
                     'to: d@e.f, password: "Pa55word-only"}]', "Pa55word-only",
                     id="password-without-username"),
        pytest.param("notifiers: [{name: n, type: teams, url: \"https://h.example/wf/"
                     "SecretPath123 x\"}]", "SecretPath123", id="url-with-a-space"),
    ],
)
def test_config_errors_never_echo_a_secret(tmp_path: Path, snippet: str, secret: str) -> None:
    text = textwrap.dedent("""\
        cost: {annual_cost_per_user: 25000, concurrent_users: 100}
        systems:
          - name: a
            probe: {type: http, url: "https://admin:Hunter2Secret@h.example:99999/"}
        """) + snippet + "\n"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.yaml", env={})
    message = str(caught.value)
    assert len(caught.value.problems) == 2, message
    assert secret not in message and "Hunter2Secret" not in message, message


_EXAMPLE_DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
_ANY = ("{t}", "https://user:{t}@h.example/x", "h.example/services/{t}", "ftp://h.example/{t}",
        "https://h.example:0/{t}", "Bearer {t}", "{t} with spaces", "http://u:{t}@")
_USERINFO = ("https://user:{t}@h.example/x", "http://u:{t}@", "https://u:{t}@h.example:0/",
             "ftp://u:{t}@h.example/")
# Where a secret goes, and the shapes in which it is one there (a probe URL is a secret only
# in its userinfo; a webhook URL, a password or a credential header is one whole).
_SPOTS = [(path, shape) for path, shapes in [
    (("notifiers", 0, "url"), _ANY), (("notifiers", 1, "url"), _ANY),
    (("notifiers", 2, "url"), _ANY), (("notifiers", 2, "secret"), _ANY),
    (("notifiers", 3, "password"), _ANY), (("systems", 1, "probe", "url"), _USERINFO),
    (("systems", 1, "probe", "proxy"), _USERINFO),
    (("systems", 1, "probe", "headers", "Authorization"), _ANY),
] for shape in shapes]


@pytest.mark.fault("hypothesis: a random secret placed in any password, secret, webhook URL, "
                   "credential header or URL userinfo, with any value of the config broken",
                   "the secret never appears in the config's error messages",
                   area="Security")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spot=st.sampled_from(_SPOTS),
    token=st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=10,
                  max_size=30),
    broken=st.sampled_from([None, ("cost", "currency"), ("defaults", "timeout"),
                            ("systems", 0, "probe", "target"), ("alerts", 0, "notify")]),
)
def test_no_config_error_message_contains_a_secret(
    tmp_path: Path, spot: tuple[tuple[Any, ...], str], token: str,
    broken: tuple[Any, ...] | None,
) -> None:
    data = copy.deepcopy(_EXAMPLE_DATA)
    where, shape = spot
    _set(data, where, shape.format(t=token))
    if broken is not None:
        _set(data, broken, [{"not": "valid"}])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    try:
        load_config(tmp_path / "c.yaml", env=EXAMPLE_ENV)
    except ConfigError as err:
        assert token not in str(err), str(err)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


# --- the running agent ---------------------------------------------------------------------


@pytest.fixture
def failing_estate(tmp_path: Path) -> Iterator[tuple[AgentProcess, dict[str, str], Receiver]]:
    receiver = Receiver().up()
    receiver.mode = "error"  # the chat webhook answers 500
    env = secret_env(receiver.port)
    agent = AgentProcess(write_secret_config(tmp_path, env), tmp_path, extra_env=env)
    yield agent, env, receiver
    agent.stop()
    receiver.down()


@pytest.mark.fault("secrets in the config (probe URL password, bearer token, proxy password, "
                   "webhook token and HMAC key, Slack URL, SMTP password) while probes fail, "
                   "a plugin prints a password and every notifier fails",
                   "none of them in the log (debug level), /metrics, any /api/v1 answer, the "
                   "status page, the ledger, or probe and notify-test output",
                   area="Security")
def test_secrets_never_leave_the_agent(
    failing_estate: tuple[AgentProcess, dict[str, str], Receiver], tmp_path: Path
) -> None:
    agent, env, receiver = failing_estate
    agent.start()
    wait_for("every notifier to have failed", lambda: all(
        f"notifier {name}: " in agent.log.read_text() for name in ("hook", "chat", "mail")),
        timeout=30)
    assert receiver.attempts >= 1
    outputs = {path: get(agent.base + path)[1] for path in (
        "/metrics", "/healthz", "/", "/api/v1/systems", "/api/v1/outages", "/api/v1/summary",
        "/api/v1/availability")}
    assert "login admin:<redacted> refused" in outputs["/api/v1/systems"]  # redacted, not lost
    agent.stop()
    outputs["log"] = agent.log.read_text()
    outputs["ledger"] = b"".join(path.read_bytes() for path in tmp_path.glob("ledger.db*")
                                 ).decode("latin-1")
    for command in (["probe"], ["notify-test", "hook"], ["notify-test", "chat"],
                    ["notify-test", "mail"], ["check"]):
        done = subprocess.run([sys.executable, "-m", "agent", command[0], "-c",
                               str(agent.config), *command[1:]], capture_output=True,
                              text=True, timeout=60, env=agent.env)
        outputs[" ".join(command)] = done.stdout + done.stderr
    assert "DEBUG" in outputs["log"]
    leaks = {(where, name) for where, text in outputs.items() for name, value in env.items()
             if value in text}
    assert not leaks, leaks

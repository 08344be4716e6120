"""The HTTP server's TLS, basic auth and request bounds, configured with a Prometheus-style
web-config.yml; checked with real clients: `requests`, `openssl`-backed ssl, and Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.certs import CertFiles, write_cert
from support.realparts import AgentProcess, HttpTarget, PrometheusProcess, wait_for

from agent.config import ConfigError, load_config
from agent.daemon import Agent
from agent.web import security
from agent.web.security import BasicAuthGuard
from agent.web.server import make_app

USER, PASSWORD = "prometheus", "correct horse battery"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()

AGENT_CONFIG = """\
agent: {{ledger: ledger.db, web_config: web.yml}}
cost: {{annual_cost_per_user: 25000, concurrent_users: 100}}
defaults: {{interval: 1s, retry_interval: 1s, timeout: 500ms}}
systems:
  - name: intranet
    probe: {{type: http, url: "{url}"}}
"""


@dataclass
class Secured:
    agent: AgentProcess
    server: CertFiles  # the agent's certificate, which clients trust
    client: CertFiles  # a client certificate, and the CA that signs it

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.agent.port}"

    def get(self, path: str, auth: tuple[str, str] | None = (USER, PASSWORD),
            **kw: Any) -> requests.Response:
        return requests.get(self.base + path, auth=auth, verify=str(self.server.cert),
                            timeout=5, **kw)


def start_secured(folder: Path, web_config: str) -> Secured:
    server = write_cert(folder, "agent")
    client = write_cert(folder, "scraper")
    (folder / "web.yml").write_text(web_config.format(cert=server.cert, key=server.key,
                                                      client_ca=client.cert, hash=HASH))
    target = HttpTarget()
    target.up()
    (folder / "agent.yaml").write_text(AGENT_CONFIG.format(url=target.url))
    agent = AgentProcess(folder / "agent.yaml", folder).start(wait=False)
    secured = Secured(agent, server, client)
    context = ssl.create_default_context(cafile=str(server.cert))
    context.load_cert_chain(client.cert, client.key)

    def answers() -> bool:
        agent.alive()
        with socket.create_connection(("127.0.0.1", agent.port), timeout=2) as sock, \
                context.wrap_socket(sock, server_hostname="127.0.0.1"):
            return True

    wait_for("the agent to answer over TLS", answers)
    return secured


TLS_AND_AUTH = """\
tls_server_config:
  cert_file: {cert}
  key_file: {key}
basic_auth_users:
  prometheus: "{hash}"
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    found = start_secured(tmp_path_factory.mktemp("secured"), TLS_AND_AUTH)
    yield found
    found.agent.stop()


def test_https_with_the_right_password_serves_every_path(secured: Secured) -> None:
    for path in ("/metrics", "/healthz", "/api/v1/systems", "/"):
        response = secured.get(path)
        assert response.status_code == 200, (path, response.text)
    assert "outage_agent_info" in secured.get("/metrics").text


@pytest.mark.fault("wrong password, unknown user, no credentials or a malformed "
                   "Authorization header, on every path (/healthz included)",
                   "401 with WWW-Authenticate and a JSON error; nothing served",
                   area="Security")
@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/api/v1/systems", "/", "/nowhere"])
def test_wrong_or_missing_credentials_are_refused_everywhere(secured: Secured, path: str) -> None:
    for auth in ((USER, "wrong"), ("nobody", PASSWORD), None):
        response = secured.get(path, auth=auth)
        assert response.status_code == 401, (path, auth)
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="outage-agent"')
        assert response.json() == {"error": "unauthorized", "status": 401}
    garbled = secured.get(path, auth=None, headers={"Authorization": "Basic !!not-base64"})
    assert garbled.status_code == 401


@pytest.mark.fault("plain HTTP to the TLS port", "refused: no answer is served",
                   area="Security")
def test_plain_http_to_the_tls_port_gets_nothing(secured: Secured) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{secured.agent.port}/metrics", auth=(USER, PASSWORD),
                     timeout=5)


def test_the_agent_says_it_listens_on_https(secured: Secured) -> None:
    assert f"listening on https://127.0.0.1:{secured.agent.port}/" in secured.agent.log.read_text()


@pytest.mark.fault("a request line over 4 KiB, a header over 8 KiB, 100 headers, a 1 MiB "
                   "body, POST/PUT/DELETE, unknown /api paths",
                   "400 for the oversized line, header and header count; 405 for other "
                   "methods (the body unread); 404 for unknown /api paths, JSON under /api",
                   area="HTTP server and API")
def test_request_sizes_and_methods_are_bounded(secured: Secured) -> None:
    auth = (USER, PASSWORD)
    long_line = secured.get("/api/v1/systems?x=" + "a" * 5000)
    big_header = secured.get("/metrics", headers={"X-Big": "b" * 9000})
    many = secured.get("/metrics", headers={f"X-H{i}": "1" for i in range(100)})
    body = requests.post(secured.base + "/api/v1/systems", data=b"x" * 2**20, auth=auth,
                         verify=str(secured.server.cert), timeout=5)
    assert [r.status_code for r in (long_line, big_header, many)] == [400, 400, 400]
    assert body.status_code == 405  # refused before its body is read
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = requests.request(method, secured.base + "/api/v1/outages", auth=auth,
                                    verify=str(secured.server.cert), timeout=5)
        assert response.status_code == 405, method
        assert response.json()["status"] == 405
    missing = secured.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]


@pytest.mark.fault("API requests carrying URLs in every parameter (SSRF attempt)",
                   "nothing is fetched: no route takes a URL, every route is GET or HEAD",
                   area="Security")
def test_no_route_fetches_a_url_given_in_a_request(secured: Secured) -> None:
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen(8)
    canary.setblocking(False)
    url = f"http://127.0.0.1:{canary.getsockname()[1]}/"
    try:
        for path in ("/", "/metrics", "/healthz", "/api/v1/systems", "/api/v1/outages",
                     "/api/v1/summary", "/api/v1/availability"):
            secured.get(path, params={"url": url, "target": url, "system": url, "from": url})
        time.sleep(0.3)
        with pytest.raises(BlockingIOError):
            canary.accept()  # nobody connected
    finally:
        canary.close()


def test_every_route_but_heartbeat_pings_is_read_only(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(AGENT_CONFIG.replace(", web_config: web.yml", "")
                                     .format(url="http://127.0.0.1:9/"))
    app = make_app(Agent(load_config(tmp_path / "c.yaml", env={})))
    routes = [(route.method, route.resource.canonical if route.resource else "")
              for route in app.router.routes()]
    methods = {method for method, path in routes if not path.startswith("/ping/")}
    assert methods <= {"GET", "HEAD"}, methods
    assert {method for method, path in routes if path.startswith("/ping/")} == {
        "GET", "HEAD", "POST"}


# --- client certificates and a real Prometheus -----------------------------------------------

MUTUAL_TLS = """\
tls_server_config:
  cert_file: {cert}
  key_file: {key}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {client_ca}
  min_version: TLS13
"""


@pytest.mark.fault("scraper without a client certificate when RequireAndVerifyClientCert",
                   "the TLS connection is refused; with the certificate, 200",
                   area="Security")
def test_client_certificate_is_required_when_configured(tmp_path: Path) -> None:
    secured = start_secured(tmp_path, MUTUAL_TLS)
    try:
        with pytest.raises(requests.ConnectionError):  # TLS 1.3: an alert after the handshake
            secured.get("/metrics", auth=None)
        context = ssl.create_default_context(cafile=str(secured.server.cert))
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # below min_version
        context.load_cert_chain(secured.client.cert, secured.client.key)
        with socket.create_connection(("127.0.0.1", secured.agent.port), timeout=5) as sock, \
                pytest.raises(ssl.SSLError):
            context.wrap_socket(sock, server_hostname="127.0.0.1")
        cert = (str(secured.client.cert), str(secured.client.key))
        assert secured.get("/metrics", auth=None, cert=cert).status_code == 200
    finally:
        secured.agent.stop()


def test_prometheus_scrapes_the_agent_over_tls_with_basic_auth(
    secured: Secured, tmp_path: Path
) -> None:
    scrape = {"scheme": "https", "tls_config": {"ca_file": str(secured.server.cert)},
              "basic_auth": {"username": USER, "password": PASSWORD}}
    prometheus = PrometheusProcess(tmp_path, {f"127.0.0.1:{secured.agent.port}": {}},
                                   scrape=scrape).start()
    try:
        [info] = prometheus.wait_for_data("outage_agent_info")
        [up] = prometheus.query('up{job="outage-agent"}')
        assert up["value"][1] == "1", prometheus.api("targets")
        assert info["metric"]["currency"] == "GBP"
    finally:
        prometheus.stop()


def served_certificate(port: int) -> str:
    return ssl.get_server_certificate(("127.0.0.1", port), timeout=5)


@pytest.mark.fault("SIGHUP after the certificate was renewed and the users changed",
                   "the next handshake presents the new certificate and the new password "
                   "works, without a restart", area="Security")
def test_sighup_applies_new_users_and_a_renewed_certificate(tmp_path: Path) -> None:
    secured = start_secured(tmp_path, TLS_AND_AUTH)
    try:
        assert secured.get("/healthz").status_code == 200
        old = served_certificate(secured.agent.port)
        renewed = write_cert(tmp_path, "agent")  # the same files, as certbot renews them
        other = bcrypt.hashpw(b"new password", bcrypt.gensalt(rounds=4)).decode()
        (tmp_path / "web.yml").write_text(TLS_AND_AUTH.format(
            cert=renewed.cert, key=renewed.key, hash=other))
        secured.agent.signal(1)  # SIGHUP
        secured.server = renewed
        wait_for("the new password to work", lambda: secured.get(
            "/healthz", auth=(USER, "new password")).status_code == 200)
        assert secured.get("/healthz").status_code == 401
        served = served_certificate(secured.agent.port)
        assert served != old and served.strip() == renewed.cert.read_text().strip()
    finally:
        secured.agent.stop()


# --- the guard itself ----------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every bcrypt check the guard makes from now on, as (password, hash)."""
    checks: list[tuple[str, str]] = []
    real = security._check

    def recorded(password: str, hashed: str) -> bool:
        checks.append((password, hashed))
        return real(password, hashed)

    monkeypatch.setattr(security, "_check", recorded)
    return checks


async def test_guard_remembers_good_credentials_and_never_bad_ones(
    bcrypt_checks: list[tuple[str, str]],
) -> None:
    users = {USER: HASH}
    guard = BasicAuthGuard(lambda: users)
    try:
        good, bad = basic(USER, PASSWORD), basic(USER, "nope")
        assert [await guard.allowed(good) for _ in range(3)] == [True, True, True]
        assert [await guard.allowed(bad) for _ in range(2)] == [False, False]
        # one bcrypt round for the good one
        assert [p for p, _ in bcrypt_checks] == [PASSWORD, "nope", "nope"]
        users[USER] = bcrypt.hashpw(b"rotated", bcrypt.gensalt(rounds=4)).decode()
        assert not await guard.allowed(good)  # a new hash forgets the old password
        assert await guard.allowed(basic(USER, "rotated"))
    finally:
        guard.close()


async def test_guard_without_users_lets_everything_through() -> None:
    guard = BasicAuthGuard(dict)
    try:
        assert await guard.allowed(None)
    finally:
        guard.close()


REFUSED_HEADERS = [None, "", "Bearer abc", "Basic", "Basic !!!", basic("nobody", PASSWORD),
                   basic(USER, ""), basic(USER, "wrong")]


@pytest.mark.parametrize("header", REFUSED_HEADERS)
async def test_guard_refuses_anything_but_a_known_user_and_password(header: str | None) -> None:
    guard = BasicAuthGuard(lambda: {USER: HASH})
    try:
        assert not await guard.allowed(header)
    finally:
        guard.close()


@pytest.mark.fault("an unknown user, a missing or garbled Authorization header, beside a "
                   "wrong password", "each costs one bcrypt check against a configured hash "
                   "(at its cost), so the time of the 401 tells nothing", area="Security")
@pytest.mark.parametrize("header", REFUSED_HEADERS)
async def test_every_refusal_costs_one_check_at_the_configured_cost(
    bcrypt_checks: list[tuple[str, str]], header: str | None,
) -> None:
    cheap = bcrypt.hashpw(b"other", bcrypt.gensalt(rounds=4)).decode()
    guard = BasicAuthGuard(lambda: {"other": cheap, USER: HASH})
    try:
        assert not await guard.allowed(header)
    finally:
        guard.close()
    [(_, hashed)] = bcrypt_checks
    assert hashed[:7] == HASH[:7] == "$2b$04$"


def _slow_users(cost: int) -> dict[str, str]:
    return {USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=cost)).decode()}


@pytest.mark.fault("200 concurrent requests with bad passwords (bcrypt cost 10), then a good "
                   "first login", "at most MAX_CHECKS checks run or wait; the rest answer 503 "
                   "with Retry-After at once; the good login is in within seconds, not after "
                   "every queued check", area="Security")
async def test_a_flood_of_bad_passwords_queues_bounded_work(
    bcrypt_checks: list[tuple[str, str]],
) -> None:
    async with _guarded_server(_slow_users(10)) as url, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)) as session:

        async def status(password: str) -> tuple[int, str | None]:
            async with session.get(url, headers={"Authorization": basic(USER, password)}) as answer:
                return answer.status, answer.headers.get("Retry-After")

        flood = [asyncio.create_task(status(f"guess {i}")) for i in range(200)]
        await asyncio.sleep(0.2)
        began = time.monotonic()
        for _ in range(10):  # as a person (or Prometheus) would: again after Retry-After
            answer, retry = await status(PASSWORD)
            if answer != 503:
                break
            await asyncio.sleep(float(retry or 1))
        waited = time.monotonic() - began
        answers = await asyncio.gather(*flood)
    assert answer == 200 and waited < 4.0, waited
    assert {code for code, _ in answers} == {401, 503}
    assert all(retry == "1" for code, retry in answers if code == 503)
    passwords = [password for password, _ in bcrypt_checks]
    assert passwords.count(PASSWORD) == 1
    # the checks a queue of MAX_CHECKS allows in the time taken, not one per guess
    assert len(passwords) < 50 and sum(code == 503 for code, _ in answers) > 150, passwords


@pytest.mark.fault("clients that send a bad password and leave before their bcrypt check's "
                   "turn", "their checks are dropped: no bcrypt work for nobody", area="Security")
async def test_checks_for_clients_that_left_are_dropped(
    bcrypt_checks: list[tuple[str, str]],
) -> None:
    async with _guarded_server(_slow_users(10)) as url:
        port = int(url.rpartition(":")[2].rstrip("/"))

        async def ask(password: str, wait: bool) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: "
                         f"{basic(USER, password)}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10) if wait else b""
            writer.close()
            return answer

        for i in range(security.MAX_CHECKS - 1):
            await ask(f"left {i}", wait=False)
        assert (await ask("stayed", wait=True)).startswith(b"HTTP/1.1 401")
    passwords = [password for password, _ in bcrypt_checks]
    assert passwords[-1] == "stayed" and len(passwords) <= 2, passwords


@pytest.mark.fault("clients without the password asking for keep-alive (HTTP/1.1), to hold "
                   "connection slots", "every 401 and 503 says Connection: close and the "
                   "connection is closed at once; a client with the password keeps its "
                   "connection", area="Security")
async def test_refused_clients_keep_no_connection() -> None:
    async with _guarded_server(_slow_users(4)) as url:
        port = int(url.rpartition(":")[2].rstrip("/"))

        async def ask(password: str) -> tuple[bytes, bool]:
            """The answer's head, and whether the server closed the connection after it."""
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: "
                             f"{basic(USER, password)}\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await asyncio.wait_for(reader.readexactly(length), 10)
                try:
                    closed = await asyncio.wait_for(reader.read(1), 2) == b""
                except TimeoutError:
                    closed = False
                return head, closed
            finally:
                writer.close()

        refused, refused_closed = await ask("guess")
        allowed, allowed_closed = await ask(PASSWORD)
    assert refused.startswith(b"HTTP/1.1 401") and b"Connection: close" in refused
    assert refused_closed
    assert allowed.startswith(b"HTTP/1.1 200") and not allowed_closed


@contextlib.asynccontextmanager
async def _guarded_server(users: dict[str, str]) -> AsyncIterator[str]:
    """A one-route app behind the guard, on 127.0.0.1: its URL."""
    guard = BasicAuthGuard(lambda: users)
    app = web.Application(middlewares=[guard.middleware])

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", hello)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/"))
    finally:
        await server.close()
        guard.close()


# --- web_config in the config file ---------------------------------------------------------------


def load_with_web_config(tmp_path: Path, web: str) -> list[str]:
    """The problems of a config whose agent.web_config holds `web`; [] if it loads."""
    (tmp_path / "agent.yaml").write_text(AGENT_CONFIG.format(url="http://127.0.0.1:9/"))
    (tmp_path / "web.yml").write_text(textwrap.dedent(web))
    try:
        load_config(tmp_path / "agent.yaml", env={})
    except ConfigError as err:
        return [str(problem).replace(str(tmp_path), "DIR") for problem in err.problems]
    return []


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return write_cert(tmp_path_factory.mktemp("web-cert"), "web")


@pytest.mark.fault("web-config.yml with unknown keys, missing or unusable files, "
                   "unsupported client auth or TLS versions, hashes that are not bcrypt",
                   "exit 2 listing each problem at its file:line; no hash or secret echoed",
                   area="Configuration")
@pytest.mark.parametrize(
    ("web", "expected"),
    [
        pytest.param("tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n", [],
                     id="valid"),
        pytest.param("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                     "client_auth_type: RequestClientCert, client_ca_file: {cert}}}\n",
                     ["DIR/web.yml:1: tls_server_config.client_auth_type: not supported "
                      "(Python's TLS verifies any certificate it asks for): use "
                      "VerifyClientCertIfGiven or RequireAndVerifyClientCert"],
                     id="request-client-cert"),
        pytest.param("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                     "client_auth_type: RequireAndVerifyClientCert}}\n",
                     ["DIR/web.yml:1: tls_server_config: client_auth_type "
                      "RequireAndVerifyClientCert needs client_ca_file"],
                     id="client-auth-without-ca"),
        pytest.param("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                     "min_version: TLS10}}\n",
                     ["DIR/web.yml:1: tls_server_config.min_version: TLS 1.0 and 1.1 are not "
                      "supported: use TLS12 or TLS13"], id="tls10"),
        pytest.param("tls_server_config: {{cert_file: {cert}, key_file: {cert}}}\n",
                     ["DIR/web.yml:1: tls_server_config: cannot use cert_file and key_file "
                      "(PEM files, the key unencrypted and matching the certificate): PEM lib"],
                     id="key-is-not-a-key"),
        pytest.param("tls_server_config: {{cert_file: missing.pem, key_file: {key}}}\n",
                     ["DIR/web.yml:1: tls_server_config.cert_file: no such file: "
                      "DIR/missing.pem"], id="missing-cert"),
        pytest.param("tls_server_config: {{cert_file: {cert}}}\n",
                     ["DIR/web.yml:1: tls_server_config.key_file: required key is missing"],
                     id="no-key"),
        pytest.param("basic_auth_users:\n  alice: plaintext-password\n",
                     ["DIR/web.yml:2: basic_auth_users.alice: " + "not a bcrypt hash; make "
                      "one with: htpasswd -nBC 10 '' | tr -d ':\\n' (or python3 -c 'import "
                      "bcrypt; print(bcrypt.hashpw(b\"PASSWORD\", bcrypt.gensalt()).decode())')"],
                     id="not-bcrypt"),
        pytest.param("basic_auth_user: {{}}\n",
                     ["DIR/web.yml:1: basic_auth_user: unknown key; did you mean "
                      "'basic_auth_users'?"], id="typo"),
        pytest.param("http_server_config: {{http2: true}}\n",
                     ["DIR/web.yml:1: http_server_config: unknown key; did you mean "
                      "'tls_server_config'?"], id="unsupported-section"),
    ],
)
def test_web_config_problems_are_reported_at_their_lines(
    tmp_path: Path, cert: CertFiles, web: str, expected: list[str]
) -> None:
    problems = load_with_web_config(tmp_path, web.format(cert=cert.cert, key=cert.key))
    assert problems == expected
    assert all("plaintext-password" not in problem for problem in problems)


def with_cost(cost: int) -> str:
    """HASH with another cost in its header: what config sees of a hash made at that cost."""
    return f"{HASH[:4]}{cost:02d}{HASH[6:]}"


COSTLY = ("basic_auth_users:\n  prometheus: \"{hash}\"\n  # a second user, costlier\n"
          "  grafana: \"{costly}\"\n")


@pytest.mark.fault("basic_auth_users holding a bcrypt hash of cost 13 or 31 (or below 4): a "
                   "cost-31 check takes days, and each unknown user's 401 runs one against "
                   "the costliest hash", "refused at load (`check` exits 2): one line at "
                   "the user's file:line, the hash never echoed; costs 4 to 12 load",
                   area="Configuration")
@pytest.mark.parametrize("cost", [13, 31, 3])
def test_a_bcrypt_cost_above_12_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cost: int
) -> None:
    from agent.cli import main

    problems = load_with_web_config(tmp_path, COSTLY.format(hash=HASH, costly=with_cost(cost)))
    assert problems == [
        f"DIR/web.yml:4: basic_auth_users.grafana: bcrypt cost {cost} is not supported: use "
        "4 to 12 (each step doubles the work of every login; 12 takes about 0.3 s); make "
        "one with: htpasswd -nBC 10 '' | tr -d ':\\n' (or python3 -c 'import bcrypt; "
        "print(bcrypt.hashpw(b\"PASSWORD\", bcrypt.gensalt()).decode())')"]
    assert main(["check", "-c", str(tmp_path / "agent.yaml")]) == 2
    err = capsys.readouterr().err
    assert "web.yml:4: basic_auth_users.grafana: bcrypt cost" in err
    assert with_cost(cost) not in err and HASH not in err


@pytest.mark.parametrize("cost", [4, 10, 12])
def test_bcrypt_costs_4_to_12_load(tmp_path: Path, cost: int) -> None:
    assert load_with_web_config(tmp_path, COSTLY.format(hash=HASH, costly=with_cost(cost))) == []


def test_web_config_file_must_exist(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(AGENT_CONFIG.format(url="http://127.0.0.1:9/"))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "agent.yaml", env={})
    assert str(caught.value) == (f"{tmp_path / 'agent.yaml'}:1: agent.web_config: no such "
                                 f"file: {tmp_path / 'web.yml'}")


def test_an_encrypted_key_is_refused_without_prompting(tmp_path: Path, cert: CertFiles) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(cert.key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))
    problems = load_with_web_config(
        tmp_path, f"tls_server_config: {{cert_file: {cert.cert}, key_file: {encrypted}}}\n")
    assert len(problems) == 1 and "cannot use cert_file and key_file" in problems[0]


def test_web_config_loads_users_and_tls(tmp_path: Path, cert: CertFiles) -> None:
    (tmp_path / "agent.yaml").write_text(AGENT_CONFIG.format(url="http://127.0.0.1:9/"))
    (tmp_path / "web.yml").write_text(json.dumps({
        "tls_server_config": {"cert_file": str(cert.cert), "key_file": str(cert.key),
                              "client_auth_type": "VerifyClientCertIfGiven",
                              "client_ca_file": str(cert.cert), "max_version": "TLS13"},
        "basic_auth_users": {USER: HASH}}))
    web = load_config(tmp_path / "agent.yaml", env={}).agent.web_config
    assert web is not None and web.tls is not None
    assert web.users == ((USER, HASH),)
    assert (web.tls.client_auth_type, web.tls.min_version, web.tls.max_version) == (
        "VerifyClientCertIfGiven", "TLS12", "TLS13")
    assert HASH not in repr(web)


def test_the_example_web_config_loads(tmp_path: Path, cert: CertFiles) -> None:
    example = Path(__file__).parents[1] / "config" / "web-config.example.yml"
    text = example.read_text().replace("/etc/outage-agent/tls/agent.crt", str(cert.cert))
    (tmp_path / "agent.yaml").write_text(AGENT_CONFIG.format(url="http://127.0.0.1:9/"))
    (tmp_path / "web.yml").write_text(text.replace("/etc/outage-agent/tls/agent.key",
                                                   str(cert.key)))
    web = load_config(tmp_path / "agent.yaml", env={}).agent.web_config
    assert web is not None and web.tls is not None
    [(user, hashed)] = web.users
    assert user == "prometheus" and bcrypt.checkpw(b"change me", hashed.encode())

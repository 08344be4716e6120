"""HTTP probes against real loopback servers (see conftest.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from agent.model import Check, HttpProbe, ProbeResult, Status
from agent.probes import Prober
from agent.probes.http import (
    BODY_LIMIT,
    USER_AGENT,
    Redirect,
    expiry_reason,
    probe,
    probe_aiohttp,
    redirected,
    session_key,
    status_reason,
)

from .conftest import CertFiles, HangServer, RawHttpServer, WebServer

DAY = 86400.0


async def run(prober: Prober, spec: HttpProbe, timeout: float = 2.0) -> ProbeResult:
    return await prober.run(Check(spec=spec, timeout=timeout))


async def test_http_ok_is_up(prober: Prober, web_server: WebServer) -> None:
    result = await run(prober, HttpProbe(url=web_server.url()))
    assert result.status is Status.UP, result.reason
    assert 0 < result.latency < 2
    assert result.facts == ()


@pytest.mark.parametrize(
    ("expect", "reason"),
    [
        pytest.param((), "HTTP 503", id="any-status-below-400"),
        pytest.param((200,), "HTTP 503 (expected 200)", id="expected-200"),
        pytest.param((200, 204), "HTTP 503 (expected 200, 204)", id="expected-several"),
    ],
)
async def test_http_error_status_is_down_with_status_in_reason(
    prober: Prober, web_server: WebServer, expect: tuple[int, ...], reason: str
) -> None:
    web_server.mode = "503"
    result = await run(prober, HttpProbe(url=web_server.url(), expect_status=expect))
    assert (result.status, result.reason) == (Status.DOWN, reason)


async def test_http_expected_error_status_is_up(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "503"
    result = await run(prober, HttpProbe(url=web_server.url(), expect_status=(503,)))
    assert result.status is Status.UP


async def test_http_probe_follows_server_changes_between_runs(
    prober: Prober, web_server: WebServer
) -> None:
    spec = HttpProbe(url=web_server.url())
    statuses = []
    for mode in ("ok", "503", "ok"):
        web_server.mode = mode
        statuses.append((await run(prober, spec)).status)
    assert statuses == [Status.UP, Status.DOWN, Status.UP]
    assert len(web_server.requests) == 3


async def test_http_slower_than_degraded_after_is_degraded(
    prober: Prober, web_server: WebServer
) -> None:
    web_server.mode = "slow"
    check = Check(spec=HttpProbe(url=web_server.url()), timeout=2, degraded_after=0.1)
    result = await prober.run(check)
    assert result.status is Status.DEGRADED
    assert result.reason.startswith("slow: 0.")
    assert result.reason.endswith("s > 0.1s")


@pytest.mark.fault("HTTP target slower than the timeout",
                   "down: \"timeout after 0.1s\"")
async def test_http_slower_than_timeout_is_down(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "slow"
    result = await run(prober, HttpProbe(url=web_server.url()), timeout=0.1)
    assert (result.status, result.reason) == (Status.DOWN, "timeout after 0.1s")
    assert result.latency < 0.5


@pytest.mark.parametrize(
    ("spec_fields", "status", "reason"),
    [
        pytest.param({"body_contains": "OK"}, Status.UP, "", id="contains"),
        pytest.param(
            {"body_contains": "FAIL"}, Status.DOWN, "body does not contain 'FAIL'", id="missing"
        ),
        pytest.param({"body_regex": r"^OK \w+ good$"}, Status.UP, "", id="regex"),
        pytest.param(
            {"body_regex": r"^bad"}, Status.DOWN, "body does not match '^bad'", id="regex-miss"
        ),
    ],
)
async def test_http_body_is_checked(
    prober: Prober, web_server: WebServer, spec_fields: dict[str, Any], status: Status, reason: str
) -> None:
    result = await run(prober, HttpProbe(url=web_server.url(), **spec_fields))
    assert (result.status, result.reason) == (status, reason)


async def test_http_wrong_body_is_down(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "wrong_body"
    result = await run(prober, HttpProbe(url=web_server.url(), body_contains="OK"))
    assert (result.status, result.reason) == (Status.DOWN, "body does not contain 'OK'")


async def test_http_body_is_decoded_with_its_charset(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "latin1"
    result = await run(prober, HttpProbe(url=web_server.url(), body_contains="café"))
    assert result.status is Status.UP, result.reason


async def test_http_endless_body_is_read_only_up_to_the_limit(
    prober: Prober, web_server: WebServer
) -> None:
    web_server.mode = "endless"
    started = time.monotonic()
    result = await run(prober, HttpProbe(url=web_server.url(), body_contains="NEEDLE"), timeout=5)
    assert (result.status, result.reason) == (Status.DOWN, "body does not contain 'NEEDLE'")
    assert time.monotonic() - started < 3  # stopped at BODY_LIMIT, not at the timeout
    assert BODY_LIMIT == 1024 * 1024


@pytest.mark.fault("target sending a body declared as 4 GiB, streamed without end",
                   "at most 1 MiB is read, within the timeout; the probe hangs up, so the "
                   "target sends a few MiB in all")
@pytest.mark.parametrize("body_check", [True, False], ids=["body-checked", "status-only"])
async def test_http_multi_gigabyte_body_is_cut_off_and_the_connection_closed(
    prober: Prober, web_server: WebServer, body_check: bool
) -> None:
    web_server.mode = "huge"
    spec = HttpProbe(url=web_server.url(), body_contains="NEEDLE" if body_check else None)
    started = time.monotonic()
    result = await run(prober, spec, timeout=5)
    elapsed = time.monotonic() - started
    await asyncio.wait_for(web_server.finished.wait(), 5)  # the target saw the hang-up
    expected = (Status.DOWN, "body does not contain 'NEEDLE'") if body_check else (Status.UP, "")
    assert (result.status, result.reason) == expected
    assert elapsed < 3
    # about 1 MiB (body checked) or 128 KiB (status only) here; far from STREAM_LIMIT or 4 GiB
    assert web_server.sent < 16 * BODY_LIMIT, f"{web_server.sent:,} bytes sent"


async def test_http_endless_body_matches_what_was_read(
    prober: Prober, web_server: WebServer
) -> None:
    web_server.mode = "needle_then_endless"
    result = await run(prober, HttpProbe(url=web_server.url(), body_contains="NEEDLE"), timeout=5)
    assert result.status is Status.UP, result.reason


@pytest.mark.fault("HTTP target that sends headers, then stalls the body",
                   "down at the timeout when the body is checked (\"timeout after 0.5s\")")
async def test_http_headers_then_stall_times_out_when_body_is_checked(
    prober: Prober, web_server: WebServer
) -> None:
    web_server.mode = "stall"
    started = time.monotonic()
    result = await run(prober, HttpProbe(url=web_server.url(), body_contains="never"), timeout=0.5)
    assert (result.status, result.reason) == (Status.DOWN, "timeout after 0.5s")
    assert time.monotonic() - started < 1.5


@pytest.mark.fault("HTTP target that stalls the body, status-only probe",
                   "up, judged on the status; the body is not waited for")
async def test_http_headers_then_stall_is_up_without_body_check(
    prober: Prober, web_server: WebServer
) -> None:
    web_server.mode = "stall"
    result = await run(prober, HttpProbe(url=web_server.url()), timeout=1)
    assert result.status is Status.UP, result.reason
    assert result.latency < 0.9


@pytest.mark.fault("HTTP redirect loop",
                   "down: \"too many redirects\" after max_redirects")
async def test_http_redirect_loop_is_down(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "redirect_loop"
    result = await run(prober, HttpProbe(url=web_server.url("/a"), max_redirects=3))
    assert (result.status, result.reason) == (Status.DOWN, "too many redirects")
    assert len(web_server.requests) == 4  # the first request and three redirects


async def test_http_redirect_is_followed(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "redirect_ok"
    spec = HttpProbe(url=web_server.url("/old"), body_contains="OK", max_redirects=1)
    result = await run(prober, spec)
    assert result.status is Status.UP, result.reason
    assert [r.path for r in web_server.requests] == ["/old", "/"]


SECRETS = (("Authorization", "Bearer s3cret"), ("Cookie", "session=s3cret"),
           ("Proxy-Authorization", "Basic s3cret"), ("X-Api-Key", "s3cret"),
           ("X-Auth-Token", "s3cret"))
PATHS = [pytest.param(probe, id="fast-path"), pytest.param(probe_aiohttp, id="aiohttp")]


@pytest.mark.parametrize("path", PATHS)
async def test_http_redirect_to_another_origin_sends_none_of_the_configured_headers(
    prober: Prober, web_server: WebServer, other_web_server: WebServer, path: Any
) -> None:
    web_server.mode = "redirect_elsewhere"
    web_server.location = other_web_server.url("/landed")  # the same host, another port
    spec = HttpProbe(url=web_server.url("/start"), headers=SECRETS, body_contains="OK")
    result = await path(spec, 2.0, prober.resources)
    assert result.status is Status.UP, result.reason
    first, landed = web_server.requests[0], other_web_server.requests[0]
    assert [first.headers.get(name) for name, _ in SECRETS] == [v for _, v in SECRETS]
    assert landed.path == "/landed"
    assert [name for name, _ in SECRETS if name in landed.headers] == []
    assert "s3cret" not in repr(dict(landed.headers))


@pytest.mark.parametrize("path", PATHS)
async def test_http_redirect_within_the_origin_keeps_the_configured_headers(
    prober: Prober, web_server: WebServer, path: Any
) -> None:
    web_server.mode = "redirect_ok"
    spec = HttpProbe(url=web_server.url("/old"), headers=SECRETS, body_contains="OK")
    result = await path(spec, 2.0, prober.resources)
    assert result.status is Status.UP, result.reason
    moved = web_server.requests[1]
    assert [moved.headers.get(name) for name, _ in SECRETS] == [v for _, v in SECRETS]


def test_http_redirect_to_another_origin_drops_headers_and_url_credentials_only_there() -> None:
    spec = HttpProbe(url="http://alice:pw@example.org/a", headers=SECRETS)
    for location in ("https://example.org/b", "http://example.org:8080/b", "//other.org/b"):
        following = redirected(spec, Redirect(302, location))
        assert following is not None and following.headers == ()
        assert "alice" not in following.url
    same = redirected(spec, Redirect(307, "http://EXAMPLE.org:80/b"))
    assert same is not None and same.headers == SECRETS
    assert same.url == "http://alice:pw@example.org/b"


async def test_http_redirect_not_followed_is_judged_on_the_redirect(
    prober: Prober, web_server: WebServer
) -> None:
    web_server.mode = "redirect_loop"
    spec = HttpProbe(url=web_server.url(), follow_redirects=False, expect_status=(200,))
    result = await run(prober, spec)
    assert (result.status, result.reason) == (Status.DOWN, "HTTP 302 (expected 200)")
    assert len(web_server.requests) == 1


async def test_http_sends_method_headers_and_body(prober: Prober, web_server: WebServer) -> None:
    web_server.mode = "echo"
    spec = HttpProbe(
        url=web_server.url(),
        method="post",
        headers=(("X-Probe", "yes"),),
        body="ping=1",
        body_contains=f"method=POST x-probe=yes ua={USER_AGENT} body=ping=1",
    )
    result = await run(prober, spec)
    assert result.status is Status.UP, result.reason


@pytest.mark.fault("HTTP target refusing connections",
                   "down: \"connection refused\"")
async def test_http_connection_refused_is_down(prober: Prober, closed_port: int) -> None:
    result = await run(prober, HttpProbe(url=f"http://127.0.0.1:{closed_port}/"))
    assert (result.status, result.reason) == (Status.DOWN, "connection refused")


@pytest.mark.fault("HTTP target that accepts the connection and never answers",
                   "down: \"timeout after 0.3s\", at the probe's timeout")
async def test_http_server_that_never_answers_times_out(
    prober: Prober, hang_server: HangServer
) -> None:
    result = await run(prober, HttpProbe(url=f"http://127.0.0.1:{hang_server.port}/"), timeout=0.3)
    assert (result.status, result.reason) == (Status.DOWN, "timeout after 0.3s")
    assert hang_server.accepted == 1


@pytest.mark.fault("probe URL with user:password@, target failing",
                   "the reason never contains the user or password", area="Security")
async def test_http_reasons_never_contain_credentials(
    prober: Prober, web_server: WebServer, closed_port: int
) -> None:
    web_server.mode = "503"
    url = web_server.url().replace("://", "://alice:s3cret@")
    refused = f"http://alice:s3cret@127.0.0.1:{closed_port}/"
    results = [await run(prober, HttpProbe(url=u)) for u in (url, refused)]
    assert [r.status for r in results] == [Status.DOWN, Status.DOWN]
    assert all("s3cret" not in r.reason and "alice" not in r.reason for r in results)
    assert web_server.requests[0].headers["Authorization"].startswith("Basic ")


async def test_http_each_probe_uses_a_fresh_connection(
    prober: Prober, web_server: WebServer
) -> None:
    for _ in range(3):
        assert (await run(prober, HttpProbe(url=web_server.url()))).status is Status.UP
    assert len(web_server.requests) == 3
    assert len(set(web_server.peers)) == 3  # three client ports: no keep-alive reuse


async def test_http_probes_share_one_session_per_tls_configuration(
    prober: Prober, web_server: WebServer
) -> None:
    clients = prober.resources.http
    plain = clients.session(HttpProbe(url=web_server.url()))
    same = clients.session(HttpProbe(url=web_server.url("/other"), method="HEAD"))
    other = clients.session(HttpProbe(url=web_server.url(), tls_verify=False))
    assert plain is same
    assert plain is not other
    assert session_key(HttpProbe(url="x", ip_version=6)) != session_key(HttpProbe(url="x"))


async def test_http_ip_version_6_reaches_an_ipv6_server(
    prober: Prober, web_server_v6: WebServer
) -> None:
    result = await run(prober, HttpProbe(url=web_server_v6.url(), ip_version=6))
    assert result.status is Status.UP, result.reason


async def test_http_through_proxy_sends_absolute_url_and_proxy_credentials(
    prober: Prober, proxy_server: RawHttpServer, closed_port: int
) -> None:
    target = f"http://127.0.0.1:{closed_port}/health"  # nothing listens: only the proxy answers
    spec = HttpProbe(
        url=target, proxy=f"http://bob:pw@127.0.0.1:{proxy_server.port}", body_contains="via raw"
    )
    result = await run(prober, spec)
    assert result.status is Status.UP, result.reason
    head = proxy_server.heads[0]
    assert head.startswith(f"GET {target} HTTP/1.1\r\n")
    assert "Proxy-Authorization: Basic " in head


# --- TLS -------------------------------------------------------------------------------------


@pytest.mark.fault("HTTPS target with a self-signed certificate",
                   "down: \"TLS: certificate verify failed: self-signed certificate\"; "
                   "nothing sent")
async def test_https_self_signed_fails_verification_by_default(
    prober: Prober, https_server: WebServer
) -> None:
    result = await run(prober, HttpProbe(url=https_server.url()))
    assert result.status is Status.DOWN
    assert result.reason == "TLS: certificate verify failed: self-signed certificate"
    assert https_server.requests == []


async def test_https_with_ca_file_is_up_and_reports_expiry(
    prober: Prober, https_server: WebServer, server_cert: CertFiles
) -> None:
    result = await run(prober, HttpProbe(url=https_server.url(), ca_file=str(server_cert.cert)))
    assert result.status is Status.UP, result.reason
    assert result.facts == (("tls_not_after", server_cert.not_after),)


async def test_https_without_ca_file_trusts_the_system_store(
    prober: Prober, https_server: WebServer, server_cert: CertFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store notifiers trust too (tests/notify/test_tls.py): SSL_CERT_FILE, OpenSSL's
    name for the store's file, stands in for a council's CA installed in it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(server_cert.cert))
    result = await run(prober, HttpProbe(url=https_server.url()))
    assert result.status is Status.UP, result.reason


async def test_https_without_verification_is_up_and_still_reports_expiry(
    prober: Prober, https_server: WebServer, server_cert: CertFiles
) -> None:
    result = await run(prober, HttpProbe(url=https_server.url(), tls_verify=False))
    assert result.status is Status.UP, result.reason
    assert result.facts == (("tls_not_after", server_cert.not_after),)


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        pytest.param("expired", "TLS: certificate verify failed: certificate has expired",
                     marks=pytest.mark.fault(
                         "HTTPS target with an expired certificate",
                         "down: \"TLS: certificate verify failed: certificate has expired\""),
                     id="expired"),
        pytest.param("wrong_host", "TLS: certificate verify failed: IP address mismatch, "
                     "certificate is not valid for '127.0.0.1'.",
                     marks=pytest.mark.fault(
                         "HTTPS target with a certificate for another host",
                         "down: \"TLS: certificate verify failed: IP address mismatch, "
                         "certificate is not valid for '127.0.0.1'\""),
                     id="wrong-host"),
    ],
)
async def test_https_certificate_that_fails_verification_is_down_with_the_reason(
    prober: Prober, https_server_with: Any, bad_certs: dict[str, CertFiles], cert: str,
    reason: str,
) -> None:
    server = await https_server_with(bad_certs[cert])
    spec = HttpProbe(url=server.url(), ca_file=str(bad_certs[cert].cert))  # trusted, yet bad
    result = await run(prober, spec)
    assert (result.status, result.reason) == (Status.DOWN, reason)
    assert result.facts == ()
    assert server.requests == []


@pytest.mark.fault("HTTPS target whose certificate expires within tls_expiry_degraded",
                   "degraded: \"certificate expires in 5 days\"; expiry exported")
async def test_https_certificate_expiring_within_the_threshold_is_degraded(
    prober: Prober, https_server_with: Any, bad_certs: dict[str, CertFiles]
) -> None:
    expiring = bad_certs["expiring"]
    server = await https_server_with(expiring)
    soon = HttpProbe(url=server.url(), ca_file=str(expiring.cert), tls_expiry_degraded=14 * DAY)
    later = HttpProbe(url=server.url(), ca_file=str(expiring.cert), tls_expiry_degraded=4 * DAY)
    degraded, fine = await run(prober, soon), await run(prober, later)
    assert (degraded.status, degraded.reason) == (Status.DEGRADED, "certificate expires in 5 days")
    assert degraded.ok and dict(degraded.facts)["tls_not_after"] == expiring.not_after
    assert (fine.status, fine.reason) == (Status.UP, "")


async def test_https_expired_certificate_without_verification_is_degraded_by_the_threshold(
    prober: Prober, https_server_with: Any, bad_certs: dict[str, CertFiles]
) -> None:
    server = await https_server_with(bad_certs["expired"])
    spec = HttpProbe(url=server.url(), tls_verify=False, tls_expiry_degraded=DAY)
    result = await run(prober, spec)
    assert (result.status, result.reason) == (Status.DEGRADED, "certificate expired 1 day ago")


async def test_https_down_status_is_not_softened_by_the_expiry_rule(
    prober: Prober, https_server_with: Any, bad_certs: dict[str, CertFiles]
) -> None:
    server = await https_server_with(bad_certs["expiring"])
    server.mode = "503"
    spec = HttpProbe(url=server.url(), ca_file=str(bad_certs["expiring"].cert),
                     tls_expiry_degraded=14 * DAY)
    result = await run(prober, spec)
    assert (result.status, result.reason) == (Status.DOWN, "HTTP 503")


@pytest.mark.parametrize(
    ("left", "reason"),
    [
        pytest.param(15 * DAY, "", id="beyond-the-threshold"),
        pytest.param(14 * DAY, "", id="exactly-the-threshold"),
        pytest.param(13.9 * DAY, "certificate expires in 13 days", id="days"),
        pytest.param(1.5 * DAY, "certificate expires in 1 day", id="one-day"),
        pytest.param(3600, "certificate expires in 0 days", id="hours"),
        pytest.param(-2.5 * DAY, "certificate expired 2 days ago", id="expired"),
    ],
)
def test_expiry_reason(left: float, reason: str) -> None:
    now = 1_800_000_000.0
    assert expiry_reason(now + left, now, 14 * DAY) == reason


async def test_https_expiry_is_reported_for_a_down_status_too(
    prober: Prober, https_server: WebServer, server_cert: CertFiles
) -> None:
    https_server.mode = "503"
    result = await run(prober, HttpProbe(url=https_server.url(), ca_file=str(server_cert.cert)))
    assert (result.status, result.reason) == (Status.DOWN, "HTTP 503")
    assert dict(result.facts)["tls_not_after"] == server_cert.not_after


async def test_https_client_certificate_is_presented(
    prober: Prober, mtls_server: WebServer, server_cert: CertFiles, client_cert: CertFiles
) -> None:
    base = HttpProbe(url=mtls_server.url(), ca_file=str(server_cert.cert))
    with_cert = HttpProbe(
        url=mtls_server.url(),
        ca_file=str(server_cert.cert),
        client_cert=str(client_cert.cert),
        client_key=str(client_cert.key),
    )
    without, present = await run(prober, base), await run(prober, with_cert)
    assert without.status is Status.DOWN
    assert present.status is Status.UP, present.reason
    assert len(mtls_server.requests) == 1


@pytest.mark.fault("ca_file deleted after the config was loaded",
                   "down: \"TLS setup: No such file or directory\"")
async def test_https_with_missing_ca_file_is_down_with_reason(
    prober: Prober, https_server: WebServer, tmp_path: Path
) -> None:
    spec = HttpProbe(url=https_server.url(), ca_file=str(tmp_path / "missing.pem"))
    result = await run(prober, spec)
    assert (result.status, result.reason) == (Status.DOWN, "TLS setup: No such file or directory")


def test_status_reason_accepts_redirects_when_no_status_is_expected() -> None:
    assert [status_reason(code, ()) for code in (200, 302, 399, 400)] == ["", "", "", "HTTP 400"]

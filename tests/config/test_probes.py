"""A system's probe (agent.config.probes and each probe type's reader): values in their short
forms, tls_expiry_degraded, DNS expectations, TLS files relative to the config, and URL
credentials together with an Authorization header."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.model import DnsProbe, HttpProbe

from .conftest import load, problems, with_system

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

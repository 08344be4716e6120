"""Notifiers trust what probes trust: the system's store, as ssl.create_default_context()
loads it (never requests' bundled certifi), or the notifier's `ca_file` alone.

The receivers' certificates come from a throwaway CA that no store holds. The system store
cannot be changed here, so SSL_CERT_FILE, which OpenSSL reads as the store's file, stands in
for a council's CA installed in it.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from support.certs import CertFiles, write_cert
from support.realparts import free_port

from agent.notify import Message, TransportError, email, senders
from agent.notify.email import EmailNotifier
from agent.notify.http import trusted
from agent.notify.webhook import WebhookNotifier

MESSAGE = Message(alert="outage", status="firing", title="email is DOWN", at=time.time(),
                  currency="GBP", system="email", state="down")
VERIFY_FAILED = r"^127\.0\.0\.1:[0-9]+: TLS: certificate verify failed: "  # the whole reason


@pytest.fixture
def throwaway_ca(tmp_path: Path) -> CertFiles:
    """A certificate for 127.0.0.1 that is its own CA, trusted by no store."""
    return write_cert(tmp_path, "throwaway-ca")


@pytest.fixture
def other_ca(tmp_path: Path) -> CertFiles:
    return write_cert(tmp_path, "other-ca")


def server_context(cert: CertFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    return context


@pytest.fixture
def https_receiver(throwaway_ca: CertFiles) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTPS endpoint presenting the throwaway CA's certificate: its URL, and the
    bodies POSTed to it."""
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = server_context(throwaway_ca).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_port}/hook", bodies
    server.shutdown()
    server.server_close()


@pytest.fixture
def starttls_mailbox(throwaway_ca: CertFiles) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback SMTP server that requires STARTTLS with the throwaway CA's certificate: its
    port, and the messages it accepted."""
    messages: list[bytes] = []

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(envelope.content)
            return "250 OK"

    port = free_port()
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=port,
                            tls_context=server_context(throwaway_ca), require_starttls=True)
    controller.start()
    yield port, messages
    controller.stop()


def webhook(url: str, ca_file: CertFiles | None = None) -> WebhookNotifier:
    return WebhookNotifier(url=url, ca_file=str(ca_file.cert) if ca_file else None)


def mail(port: int, ca_file: CertFiles | None = None) -> EmailNotifier:
    return EmailNotifier(host="127.0.0.1", port=port, security="starttls",
                         to=("ops@example.gov.uk",), sender="agent@example.gov.uk",
                         ca_file=str(ca_file.cert) if ca_file else None)


@pytest.fixture
def system_store_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def system_store_with(monkeypatch: pytest.MonkeyPatch, throwaway_ca: CertFiles) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(throwaway_ca.cert))


def test_a_webhook_with_ca_file_trusts_that_ca(https_receiver, throwaway_ca,
                                                system_store_without_it):
    url, bodies = https_receiver
    senders()["webhook"](webhook(url, throwaway_ca), MESSAGE, 5.0)
    assert len(bodies) == 1


def test_a_webhook_without_ca_file_trusts_the_system_store_not_certifi(https_receiver,
                                                                       system_store_with):
    url, bodies = https_receiver
    senders()["webhook"](webhook(url), MESSAGE, 5.0)
    assert len(bodies) == 1


@pytest.mark.parametrize("requests_bundle", [False, True])
def test_a_webhook_refuses_a_ca_its_store_does_not_hold(https_receiver, throwaway_ca,
                                                        system_store_without_it, monkeypatch,
                                                        requests_bundle):
    """Not even where REQUESTS_CA_BUNDLE, which only requests would read, names it."""
    url, bodies = https_receiver
    if requests_bundle:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(throwaway_ca.cert))
    with pytest.raises(TransportError, match=VERIFY_FAILED):
        senders()["webhook"](webhook(url), MESSAGE, 5.0)
    assert bodies == []


def test_a_ca_file_replaces_the_system_store(https_receiver, other_ca, system_store_with):
    url, bodies = https_receiver
    with pytest.raises(TransportError, match=VERIFY_FAILED):
        senders()["webhook"](webhook(url, other_ca), MESSAGE, 5.0)
    assert bodies == []


@pytest.mark.parametrize("trust", ["ca_file", "system store"])
def test_email_over_starttls_trusts_the_same_stores(starttls_mailbox, throwaway_ca, trust,
                                                    monkeypatch):
    port, messages = starttls_mailbox
    if trust == "system store":
        monkeypatch.setenv("SSL_CERT_FILE", str(throwaway_ca.cert))
    email.send(mail(port, throwaway_ca if trust == "ca_file" else None), MESSAGE, 5.0)
    assert len(messages) == 1


def test_email_refuses_a_ca_its_store_does_not_hold(starttls_mailbox, system_store_without_it):
    port, messages = starttls_mailbox
    with pytest.raises(TransportError, match="SSLCertVerificationError"):
        email.send(mail(port), MESSAGE, 5.0)
    assert messages == []


def test_requests_verifies_against_the_file_the_default_context_loads(throwaway_ca,
                                                                      system_store_with):
    """The store of requests (notifications) is the one of ssl.create_default_context()
    (probes and SMTP), wherever the system keeps it."""
    loaded = ssl.create_default_context().get_ca_certs()
    assert trusted() == str(throwaway_ca.cert) == ssl.get_default_verify_paths().cafile
    assert [dict(entry[0] for entry in cert["subject"]) for cert in loaded] == [
        {"commonName": "throwaway-ca"}]
    assert trusted("/etc/council-ca.pem") == "/etc/council-ca.pem"

"""Delivery against real loopback receivers that fail, hang and recover."""

from __future__ import annotations

import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from support.realparts import Receiver, free_port

from agent.model import EmailNotifier, Notifier, SlackNotifier, TeamsNotifier, WebhookNotifier
from agent.notify import Message, TransportError, email, senders
from agent.notify.dispatch import Dispatcher, deliver

MESSAGE = Message(alert="outage", status="firing", title="email is DOWN", at=time.time(),
                  currency="GBP", system="email", state="down", accrued_cost=12.5)


@pytest.fixture
def receiver():
    found = Receiver().up()
    yield found
    found.down()


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, notifier: str, result: str) -> None:
        with self.lock:
            self.seen.append((notifier, result))

    def results(self, notifier: str) -> list[str]:
        return [r for n, r in self.seen if n == notifier]


def hook(url: str, **kw: object) -> Notifier:
    return Notifier(name="hook", spec=WebhookNotifier(url=url, secret="k"), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec_type", ["webhook", "slack", "teams"])
def test_each_http_notifier_posts_json_to_its_endpoint(receiver, spec_type):
    spec = {"webhook": WebhookNotifier(url=receiver.url), "slack": SlackNotifier(url=receiver.url),
            "teams": TeamsNotifier(url=receiver.url)}[spec_type]
    senders()[spec_type](spec, MESSAGE, 5.0)
    [(path, headers, _)] = receiver.requests
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    assert "email is DOWN" in str(receiver.json())


@pytest.mark.fault("notifier endpoint answering 500",
                   "retried with exponential backoff (1 s, 2 s, 4 s) until it recovers; sent once")
def test_a_failing_endpoint_is_retried_until_it_recovers(receiver):
    receiver.mode = "error"
    outcomes, delays = Outcomes(), []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 3:
            receiver.mode = "ok"  # the endpoint comes back

    assert deliver(hook(receiver.url), MESSAGE, senders()["webhook"], outcomes, sleep)
    assert delays == [1.0, 2.0, 4.0]  # exponential backoff
    assert outcomes.results("hook") == ["retried"] * 3 + ["sent"]
    assert receiver.attempts == 4 and len(receiver.requests) == 1


@pytest.mark.fault("notifier endpoint answering 429 with Retry-After",
                   "the next try waits Retry-After seconds")
def test_429_retry_after_is_honoured(receiver):
    receiver.mode, receiver.retry_after = "throttle", "7"
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        receiver.mode = "ok"

    assert deliver(hook(receiver.url), MESSAGE, senders()["webhook"], Outcomes(), sleep)
    assert delays == [7.0]


@pytest.mark.fault("notifier endpoint that hangs",
                   "the attempt fails at the notifier's timeout")
def test_a_hung_endpoint_costs_only_its_timeout(receiver):
    receiver.mode, receiver.hang_seconds = "hang", 3.0
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"^127\.0\.0\.1:[0-9]+: no answer within 0\.5s$"):
        senders()["webhook"](WebhookNotifier(url=receiver.url), MESSAGE, 0.5)
    assert time.monotonic() - started < 2.0


@pytest.mark.fault("notifier endpoint down (connection refused)",
                   "retried, then counted failed")
def test_a_dead_endpoint_fails_after_its_retries():
    outcomes = Outcomes()
    dead = hook(f"http://127.0.0.1:{free_port()}/", retries=2)
    assert not deliver(dead, MESSAGE, senders()["webhook"], outcomes, lambda s: None)
    assert outcomes.results("hook") == ["retried", "retried", "failed"]


@pytest.mark.fault("notifier endpoint answering 404",
                   "failed at once: a client error is permanent")
def test_a_client_error_is_not_retried(receiver):
    receiver.mode = "reject"
    outcomes = Outcomes()
    assert not deliver(hook(receiver.url), MESSAGE, senders()["webhook"], outcomes,
                       lambda s: pytest.fail("retried a permanent error"))
    assert outcomes.results("hook") == ["failed"] and receiver.attempts == 1


@pytest.mark.fault("a hung notifier with a full queue",
                   "submitting never blocks; extra messages are dropped and counted; a "
                   "healthy notifier still delivers within 1.5 s")
def test_a_dead_notifier_does_not_delay_a_healthy_one(receiver):
    hung = Receiver().up()
    hung.mode, hung.hang_seconds = "hang", 2.0
    outcomes = Outcomes()
    slow = Notifier(name="slow", spec=WebhookNotifier(url=hung.url), timeout=1.0, retries=3,
                    queue_size=5)
    good = Notifier(name="good", spec=WebhookNotifier(url=receiver.url))
    dispatcher = Dispatcher((slow, good), outcomes)
    dispatcher.start()
    try:
        started = time.monotonic()
        for _ in range(20):  # never blocks, even with the slow lane full
            dispatcher.submit("slow", MESSAGE)
        assert time.monotonic() - started < 0.5
        dispatcher.submit("good", MESSAGE)
        deadline = time.monotonic() + 5
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the healthy notifier was held up"
        assert time.monotonic() - started < 1.5
        assert outcomes.results("slow").count("dropped") >= 14  # 20 minus the queue (5) and
    finally:  # the one in hand
        dispatcher.stop(timeout=3)
        hung.down()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def test_email_is_delivered_over_smtp_with_login():
    mailbox = Mailbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"pa55"
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port,
                            authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        spec = EmailNotifier(host="127.0.0.1", port=port, security="none",
                             to=("ops@example.gov.uk",), sender="agent@example.gov.uk",
                             username="agent", password="pa55")
        email.send(spec, MESSAGE, 5.0)
    finally:
        controller.stop()
    [(sender, recipients, content)] = mailbox.messages
    assert (sender, recipients) == ("agent@example.gov.uk", ["ops@example.gov.uk"])
    assert b"Subject: [firing] email is DOWN" in content and b"Accrued cost" in content

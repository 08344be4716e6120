"""Measured users under a hostile or broken source (review 19): no reading ever puts a NaN
or an infinity on the books; a reader that raises never stops the duty; redirects are not
followed; a command's whole output is the reading. Loopback only, time injected."""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import logging
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.helpers import HOURLY as HELPER_HOURLY
from support.helpers import config, system
from support.ledgerparts import at, store
from support.ledgerparts import window as ledger_window

from agent.basis import basis_of
from agent.config import load_config
from agent.config.summary import summary
from agent.cost import UsersCalendar
from agent.ledger import Ledger
from agent.model import UsersSchedule, UsersSource
from agent.probes.http import HttpProbe
from agent.records import Batch, UsersReading
from agent.report import build_report
from agent.report.source import read_report
from agent.report.words import full_outage
from agent.users.base import Outcome, number_of
from agent.users.command import CommandSource, reading_of
from agent.users.duty import UsersDuty
from agent.users.http_json import HttpJsonSource
from agent.users.inforce import MAX_USERS, MeasuredCalendar, Readings
from agent.users.prometheus import value_of
from agent.users.sources import SOURCE_TYPES, Taken, checked, take

T0 = 1_790_000_000.0
HOURLY = 10.0


@pytest.mark.parametrize("value", [1e308, MAX_USERS + 1, math.inf, math.nan, -1.0])
def test_a_reading_that_cannot_be_costed_is_refused_whatever_max_says(value: float) -> None:
    for most in (None, 5000.0):
        taken = checked(Outcome(value), most)
        assert taken.value is None and taken.reason


def test_a_reading_above_max_but_within_the_bound_is_clamped() -> None:
    taken = checked(Outcome(9000.0), 5000.0)
    assert (taken.value, taken.clamped_from) == (5000.0, 9000.0)


@pytest.mark.parametrize("value", [1e308, math.inf, -math.inf, -5.0, MAX_USERS * 2])
def test_a_stored_reading_that_cannot_be_costed_is_a_failed_one(value: float) -> None:
    """Readings kept in an older ledger are laid over reports: they must cost finitely."""
    readings = Readings()
    readings.add(T0, value, 60.0)
    assert readings.value_at(T0 + 1) is None
    schedule = UsersCalendar(UsersSchedule(default=100), "UTC", HOURLY)
    money = MeasuredCalendar(schedule, readings, HOURLY).money_seconds(T0, T0 + 60)
    assert money == pytest.approx(100 * HOURLY * 60)


# --- a loopback source -------------------------------------------------------------------------


class Answer:
    """What the loopback server answers next, and the headers of each request it got."""

    def __init__(self) -> None:
        self.status, self.body, self.location = 200, b'{"n": 7}', ""
        self.seen: list[dict[str, str]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Answer]]:
    answer = Answer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer.seen.append(dict(self.headers))
            self.send_response(answer.status)
            if answer.location:
                self.send_header("Location", answer.location)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", answer
    httpd.shutdown()
    httpd.server_close()


def json_source(url: str, headers: tuple[tuple[str, str], ...] = ()) -> UsersSource:
    spec = HttpJsonSource(url, ("n",), HttpProbe(url=url, headers=headers))
    return UsersSource(spec, every=1.0, max=None, timeout=2.0)


def test_a_deeply_nested_answer_is_not_json_and_the_next_reading_is_made(
        server: tuple[str, Answer]) -> None:
    url, answer = server
    answer.body = b'{"n": 5, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    first = asyncio.run(take(json_source(url + "/s")))
    answer.body = b'{"n": 2000}'
    second = asyncio.run(take(json_source(url + "/s")))
    assert (first.value, first.reason, second.value) == (None, "answer is not JSON", 2000.0)


def test_a_reader_that_raises_gives_a_failed_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(spec: Any, timeout: float) -> Outcome:
        raise ValueError("Cannot combine AUTHORIZATION header\nsecond line")

    monkeypatch.setitem(SOURCE_TYPES, "command",
                        dataclasses.replace(SOURCE_TYPES["command"], read=broken))
    taken = asyncio.run(take(UsersSource(CommandSource(("/bin/true",)), 1.0, None, 1.0)))
    assert taken == Taken(None, "unexpected error: ValueError: Cannot combine AUTHORIZATION "
                                "header")


def test_the_duty_keeps_its_schedule_after_a_reading_raises(
        monkeypatch: pytest.MonkeyPatch) -> None:
    duty = UsersDuty.__new__(UsersDuty)
    calls: list[float] = []

    async def read_once(name: str, source: UsersSource) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RecursionError("maximum recursion depth exceeded")
        raise asyncio.CancelledError

    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(duty, "read_once", read_once)
    monkeypatch.setattr("agent.users.duty.asyncio.sleep", no_wait)
    source = UsersSource(CommandSource(("/bin/true",)), 1.0, None, 1.0)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(duty._run("desk", source))
    assert calls == [0, 1]  # the second reading was made on schedule


def test_a_redirect_is_a_failed_reading_and_the_headers_never_leave(
        server: tuple[str, Answer]) -> None:
    url, answer = server
    answer.status, answer.location = 302, url + "/elsewhere"
    source = json_source(url + "/s", (("X-Api-Key", "KEYSECRET456"),))
    taken = asyncio.run(take(source))
    assert taken.value is None and "do not follow redirects" in taken.reason
    assert len(answer.seen) == 1  # the redirect was not followed, even to the same host


# --- report --basis current -----------------------------------------------------------------


def test_a_what_if_report_lays_the_stored_readings_over_today_s_basis(tmp_path: Path) -> None:
    cfg = config(system("email"), users=100, ledger=tmp_path / "ledger.db")
    start, end = at("2026-11-03 09:00"), at("2026-11-03 10:00")
    book = Ledger(tmp_path / "ledger.db", site=cfg.agent.site)
    book.open()
    try:
        book.watch(["email"], start - 60)
        book.record_basis(basis_of(cfg), start - 60)
        book.submit(Batch(readings=[UsersReading("everyone", start, 500.0, "command", 3600.0)]))
        store(book, ledger_window("email", start, end, users=500.0))
    finally:
        book.close()
    day = (at("2026-11-03 00:00"), at("2026-11-04 00:00"))
    recorded = read_report(cfg, *day, day[1])
    current = read_report(cfg, *day, day[1], what_if=True)
    [was], [now] = recorded.systems, current.systems
    assert now.cost == pytest.approx(was.cost) == pytest.approx(500 * HELPER_HOURLY)


# --- command output and strict numbers ---------------------------------------------------


@pytest.mark.parametrize(("stdout", "reason"), [
    pytest.param(b"1" * 400, "output too long", id="400-digits"),
    pytest.param(b"5" + b" " * 100_000 + b"7", "output too long", id="spaced-out"),
    pytest.param(b"1\n2\n", "more than one line", id="two-lines"),
    pytest.param(b"1_000\n", "not a number", id="underscore"),
    pytest.param("١٢٣".encode(), "not a number", id="arabic-indic-digits"),
    pytest.param(b"+42", "not a number", id="plus-sign"),
])
def test_a_command_s_whole_output_must_be_one_number(stdout: bytes, reason: str) -> None:
    outcome = reading_of(stdout)
    assert outcome.value is None and reason in outcome.reason


@pytest.mark.parametrize(("stdout", "value"), [(b"812\n", 812.0), (b"  42.5 \n", 42.5),
                                               (b"1e3", 1000.0)])
def test_a_command_s_number_is_read(stdout: bytes, value: float) -> None:
    assert reading_of(stdout) == Outcome(value)


@pytest.mark.parametrize("text", ["1_000", "١٢٣", " 4 2 ", "0x10", "infinity"])
def test_a_source_s_text_is_read_as_strictly_as_a_config_number(text: str) -> None:
    assert number_of(text, "x").value is None


@pytest.mark.parametrize(("text", "finite"), [("1234", True), ("1.5e+03", True),
                                              ("NaN", False), ("+Inf", False)])
def test_prometheus_values_are_read(text: str, finite: bool) -> None:
    value = number_of(text, "x").value
    assert value is not None and math.isfinite(value) == finite


def test_a_json_integer_too_large_for_a_float_is_not_finite() -> None:
    assert checked(number_of(int("1" * 400), "x"), None).reason.startswith("not a finite")


def test_a_command_that_hangs_says_it_timed_out(tmp_path: Path) -> None:
    source = UsersSource(CommandSource(("/bin/sleep", "5")), every=1.0, max=None, timeout=0.2)
    assert asyncio.run(take(source)) == Taken(None, "timeout after 0.2s")


def test_the_duty_logs_each_change_of_state_or_reason_once(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.users.duty")
    duty = UsersDuty.__new__(UsersDuty)
    duty._said = {}
    for taken in (Taken(None, "agent started"), Taken(None, "connection refused"),
                  Taken(None, "connection refused"), Taken(None, "HTTP 500"), Taken(5.0),
                  Taken(6.0)):
        duty._say("desk", taken)
    assert [r.getMessage() for r in caplog.records if r.name == "agent.users.duty"] == [
        "users of group desk: the schedule is in force (agent started)",
        "users of group desk: the schedule is in force (connection refused)",
        "users of group desk: the schedule is in force (HTTP 500)",
        "users of group desk: measured (5)"]


# --- the peak check and the report show ------------------------------------------------------


def measured_config(tmp_path: Path, most: str) -> Any:
    text = f"""\
cost:
  currency: GBP
  hourly_cost_per_user: 10
  concurrent_users:
    source: {{type: command, command: [/bin/true], every: 1s{most}}}
    fallback: 100
systems:
  - name: web
    probe: {{type: tcp, target: "127.0.0.1:9"}}
"""
    (tmp_path / "config.yaml").write_text(text)
    return load_config(tmp_path / "config.yaml", env={})


def test_check_s_peak_is_the_source_s_max_when_it_costs_more(tmp_path: Path) -> None:
    lines = summary(measured_config(tmp_path, ", max: 5000")).splitlines()
    assert lines[-2:] == [
        "Peak concurrent users: 5,000 (measured, up to max 5,000; the fallback's peak is 100)",
        "Peak cost of a full outage: 5,000 \N{MULTIPLICATION SIGN} £10 = £50,000.00 per hour "
        "(measured users, up to max 5,000)"]


def test_check_says_a_peak_without_max_is_as_measured(tmp_path: Path) -> None:
    lines = summary(measured_config(tmp_path, "")).splitlines()
    assert lines[-2:] == [
        "Peak concurrent users: as measured (no max; the fallback's peak is 100)",
        "Peak cost of a full outage: as measured (no max); at the fallback's peak, 100 "
        "\N{MULTIPLICATION SIGN} £10 = £1,000.00 per hour"]


@pytest.mark.parametrize(("most", "expected"), [
    (", max: 5000", "5,000 users (measured, up to the source's max of 5,000)"),
    ("", "as measured (no max), at the fallback's peak 100 users"),
])
def test_the_report_s_full_outage_counts_the_source(tmp_path: Path, most: str,
                                                    expected: str) -> None:
    cfg = measured_config(tmp_path, most)
    report = build_report([], cfg, T0, T0 + 3600, T0 + 3600)
    assert full_outage(report.model).startswith(expected)


def test_a_prometheus_error_answer_says_what_the_server_said() -> None:
    answer = {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}
    assert value_of(answer) == Outcome(None, "Prometheus error: parse error at char 4")

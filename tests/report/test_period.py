"""The edges of a report: `report --from/--to` and imported times read by parse_moment, in the
one range of times that reports, imports and the API take."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from support.ledgerparts import LONDON, at, write_config

from agent.cli import main
from agent.report.period import EARLIEST, LATEST, parse_moment
from agent.web.query import BadRequest, parse_time

RANGE = "is out of range: times run from 1970-01-01 to 2100-01-01 UTC"
NOT_ISO = "not an ISO 8601 date or time"


@pytest.mark.parametrize(("start", "end", "said"), [
    pytest.param("0001-01-01", "0001-01-02", f"0001-01-01 {RANGE}", id="year-1"),
    pytest.param("1969-12-31", "1970-01-02", f"1969-12-31 {RANGE}", id="year-1969"),
    pytest.param("2026-11-01", "2100-01-02", f"2100-01-02 {RANGE}", id="after-2100"),
    pytest.param("2026-11-01\x0000:00", "2026-12-01", f"{NOT_ISO}: '2026-11-01\\x0000:00'",
                 id="nul-byte"),
    pytest.param("2026-11-01", "2026-12-01T00:00\x00", f"{NOT_ISO}: '2026-12-01T00:00\\x00'",
                 id="trailing-nul"),
])
@pytest.mark.fault("report --from/--to before 1970, after 2100 or with a NUL byte",
                   "exit 2 naming the time and the range 1970-2100 UTC that imports and the "
                   "API take too; no ledger is read", area="Reports and imports")
def test_report_refuses_times_out_of_range_or_with_a_nul_byte(tmp_path, capsys, start, end,
                                                              said):
    path = write_config(tmp_path, '- name: email\n  probe: {type: tcp, target: "127.0.0.1:9"}\n',
                        timezone=LONDON)
    assert main(["report", "-c", str(path), "--from", start, "--to", end]) == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "ledger.db").exists()


@pytest.mark.parametrize(("text", "taken"), [
    ("1969-12-31T23:59:59Z", False), ("1970-01-01T00:00:00Z", True),
    ("2100-01-01T00:00:00Z", True), ("2100-01-01T00:00:01Z", False),
    ("2026-11-03T09:30:00+01:00", True), ("0001-01-01T00:00:00Z", False),
])
def test_reports_imports_and_the_api_take_one_range(text, taken):
    def api_takes() -> bool:
        try:
            parse_time(text, "from")
        except BadRequest:
            return False
        return True

    def report_takes() -> bool:
        try:
            parse_moment(text, ZoneInfo("UTC"))
        except ValueError:
            return False
        return True

    assert (report_takes(), api_takes()) == (taken, taken)


def test_the_range_is_1970_to_2100_utc():
    assert at("1970-01-01 00:00") == EARLIEST and at("2100-01-01 00:00") == LATEST


@pytest.mark.parametrize("text", [
    "2026-11-03", "2026-11-03T09:30", "2026-11-03 09:30", "2026-11-03t09:30:15.250",
    "2026-11-03T09:30:00Z", "2026-11-03T09:30+01:00", " 2026-11-03T09:30 ",
])
def test_iso_8601_dates_and_times_are_read(text):
    assert parse_moment(text, ZoneInfo("UTC")) >= at("2026-11-03 00:00")


@pytest.mark.parametrize("text", [
    "2026-11-03X09:30", "2026-11-03\u00e909:30", "2026-11-03109:30", "2026-11-03T09:30\x00",
    "November", "",
])
def test_other_separators_and_characters_are_refused(text):
    with pytest.raises(ValueError, match=NOT_ISO):
        parse_moment(text, ZoneInfo("UTC"))

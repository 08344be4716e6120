"""Quorum across sites from the shared ledger (agent.quorum): the same votes as quorum.yml."""

from __future__ import annotations

import pytest
from support.ledgerparts import HOUR, at, window

from agent.ledger import StoredWindow
from agent.quorum import quorum_spans, quorum_windows
from agent.records import Annotations

T = at("2026-11-03 09:00")
DAY = (at("2026-11-03 00:00"), at("2026-11-04 00:00"))
MIN = 60.0


def m(minutes: float) -> float:
    """T plus some minutes."""
    return T + minutes * MIN


# --- quorum_spans ------------------------------------------------------------------------------


def test_one_site_of_three_down_is_not_an_outage():
    assert quorum_spans({"north": [(m(0), m(60))], "south": [], "east": []}, 3) == []


def test_two_of_three_down_is_an_outage_while_they_overlap():
    down = {"north": [(m(0), m(60))], "south": [(m(30), m(90))]}
    assert quorum_spans(down, 3) == [(m(30), m(60))]


def test_all_three_down_is_the_union_of_the_pairwise_overlaps():
    down = {"north": [(m(0), m(30))], "south": [(m(20), m(50))], "east": [(m(40), m(70))]}
    # north+south 20-30, south+east 40-50: never two at once in between.
    assert quorum_spans(down, 3) == [(m(20), m(30)), (m(40), m(50))]
    down["east"] = [(m(10), m(70))]
    assert quorum_spans(down, 3) == [(m(10), m(50))]


def test_two_voters_need_both():
    down = {"north": [(m(0), m(60))], "south": [(m(45), m(90))]}
    assert quorum_spans(down, 2) == [(m(45), m(60))]
    assert quorum_spans({"north": [(m(0), m(60))]}, 2) == []


def test_one_voter_is_its_own_quorum():
    assert quorum_spans({"north": [(m(0), m(60))]}, 1) == [(m(0), m(60))]


def test_touching_spans_merge_and_a_site_s_own_overlaps_vote_once():
    down = {"north": [(m(0), m(30)), (m(30), m(60))], "south": [(m(0), m(20)), (m(20), m(60))]}
    assert quorum_spans(down, 3) == [(m(0), m(60))]
    assert quorum_spans({"north": [(m(0), m(40)), (m(20), m(60))]}, 3) == []


def test_no_spans_no_outage():
    assert quorum_spans({}, 3) == []
    assert quorum_spans({"north": [], "south": []}, 2) == []


# --- quorum_windows ----------------------------------------------------------------------------


def stored(*records, voided: str | None = None) -> list[StoredWindow]:
    return [StoredWindow(i, r, Annotations(voided_reason=voided))
            for i, r in enumerate(records, start=1)]


WATCHERS = {"email": {"north": 0.0, "south": 0.0, "east": 0.0}}


def test_only_down_windows_that_are_not_voided_vote():
    sites = {"north": stored(window("email", m(0), m(60))),
             "south": stored(window("email", m(0), m(60), state="degraded")),
             "east": stored(window("email", m(0), m(60)), voided="probe misconfigured")}
    assert quorum_windows(sites, WATCHERS, *DAY) == []
    sites["south"] = stored(window("email", m(0), m(60), state="unknown"),
                            window("email", m(60), m(90), state="maintenance"))
    assert quorum_windows(sites, WATCHERS, *DAY) == []


def test_a_quorum_window_is_a_new_down_window_with_the_preferred_site_s_basis():
    sites = {"north": stored(window("email", m(0), m(60), share=0.5, cause="network")),
             "south": stored(window("email", m(10), m(90), share=0.25,
                                    before_start=m(9), before_end=m(89)))}
    [first] = quorum_windows(sites, WATCHERS, *DAY)
    [second] = quorum_windows(sites, WATCHERS, *DAY, prefer="south")
    assert first.id < 0 and first.record.source == "quorum"
    assert (first.record.start, first.record.end) == (m(10), m(60))
    assert (first.record.state, first.record.new_incident) == ("down", True)
    assert (first.record.before_start, first.record.before_end) == (None, None)
    # No preference: the first site in name order covering the start (north, not south).
    assert (first.record.basis.users_share, first.record.cause) == (0.5, "network")
    assert (second.record.basis.users_share, second.record.cause) == (0.25, None)


def test_a_site_votes_only_from_when_it_began_watching():
    sites = {"north": stored(window("email", m(0), m(60)))}
    # south began watching at 09:30 and has seen email up since: 1 of 1 before, 1 of 2 after.
    watchers = {"email": {"north": 0.0, "south": m(30)}}
    [only] = quorum_windows(sites, watchers, *DAY)
    assert (only.record.start, only.record.end) == (m(0), m(30))
    # With east watching all along, south's window before 09:30 does not vote: 1 of 2 (north
    # and east) until then, 2 of 3 from 09:30 to 09:45.
    sites["south"] = stored(window("email", m(-30), m(45)))
    watchers["email"]["east"] = 0.0
    [later] = quorum_windows(sites, watchers, *DAY)
    assert (later.record.start, later.record.end) == (m(30), m(45))


def test_without_a_watch_record_the_sites_with_windows_of_the_system_vote():
    sites = {"north": stored(window("email", m(0), m(60))),
             "south": stored(window("email", m(0), m(60), state="degraded")),
             "east": stored(window("finance", m(0), m(60)))}
    assert quorum_windows(sites, {}, *DAY) == quorum_windows(  # finance: east alone
        {"east": sites["east"]}, {}, *DAY)
    del sites["south"]
    [email, finance] = sorted(quorum_windows(sites, {}, *DAY), key=lambda w: w.record.system)
    assert (email.record.start, email.record.end) == (m(0), m(60))
    assert email.id != finance.id


def test_windows_are_clipped_to_the_range_and_an_open_one_stays_open():
    sites = {"north": stored(window("email", m(-120), None, seen=m(50))),
             "south": stored(window("email", m(0), None, seen=m(55))),
             "east": stored(window("email", m(10), m(20)))}
    [w] = quorum_windows(sites, WATCHERS, m(-60), m(120))
    # Open windows run to their last observation: north's ends the majority at 09:50.
    assert (w.record.start, w.record.end, w.record.last_observed) == (m(0), None, m(50))
    assert w.record.amounts.downtime == pytest.approx(50 * MIN)
    # Closed windows running past the range are cut at its end.
    sites = {"north": stored(window("email", m(-120), m(200))),
             "south": stored(window("email", m(0), m(200)))}
    [closed] = quorum_windows(sites, WATCHERS, m(-60), m(15))
    assert (closed.record.start, closed.record.end) == (m(0), m(15))


def test_every_quorum_span_of_every_system_is_a_window_with_its_own_id():
    both = [window("email", m(0), m(10)), window("email", m(20), m(30)),
            window("finance", m(0), HOUR + m(0))]
    found = quorum_windows({"north": stored(*both), "south": stored(*both)},
                           {"email": {"north": 0.0, "south": 0.0}}, *DAY)
    assert [(w.record.system, w.record.start) for w in found] == [
        ("email", m(0)), ("finance", m(0)), ("email", m(20))]
    assert sorted(w.id for w in found) == [-3, -2, -1]

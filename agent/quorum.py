"""Quorum across sites, from the shared ledger: the ledger's side of deploy/prometheus/quorum.yml.

Several sites probe a shared system from their own networks. It is down for the organisation
only while more than half of the sites watching it see it down, so one site's broken uplink is
not billed as everyone's outage; and an outage all of them see is costed once, not per site.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from agent.ledger import StoredWindow
from agent.records import Amounts, WindowRecord
from agent.report.windows import window_span
from agent.spans import Span, clip, merge


def quorum_spans(down: Mapping[str, Sequence[Span]], voters: int) -> list[Span]:
    """Given each site's down spans of one system (open ones already clipped) and how many
    sites watch it, return the merged spans during which more than half of them see it
    down: two of three, both of two, the one of one, as quorum.yml counts. A site with no
    span there (up, or its agent not running) is a vote for up."""
    change: defaultdict[float, int] = defaultdict(int)
    for spans in down.values():
        for a, b in merge(spans):  # a site's own overlapping spans are one vote
            change[a] += 1
            change[b] -= 1
    agreed: list[Span] = []
    count = 0
    for a, b in itertools.pairwise(sorted(change)):
        count += change[a]
        if 2 * count > voters:
            agreed.append((a, b))
    return merge(agreed)


def quorum_windows(
    windows: Mapping[str, Sequence[StoredWindow]],
    watchers: Mapping[str, Mapping[str, float]],
    start: float, end: float, prefer: str = "",
) -> list[StoredWindow]:
    """Given each site's windows overlapping [start, end), the sites watching each system and
    since when (`Ledger.watchers`), return the organisation's windows: one "down" window
    (source "quorum", negative ids) per span, inside the range, that a system was down at
    quorum, for `build_report` to cost once with everything else down at the time.

    Only down windows that are not voided vote: degraded, maintenance and unknown do not. A
    site votes from when it began watching the system; without a record of who watches a
    system, the sites with windows of it vote. Each window takes the cost basis and cause of
    the down window covering its start at the `prefer`red site, else at the first such site
    in name order. It stays open while the open windows it ends with are."""
    votes: dict[str, dict[str, list[tuple[Span, StoredWindow]]]] = {}
    for site, stored in windows.items():
        for w in stored:
            span = clip(window_span(w, end), start, end)
            if w.record.state == "down" and w.annotations.voided_reason is None and span:
                votes.setdefault(w.record.system, {}).setdefault(site, []).append((span, w))
    records: list[WindowRecord] = []
    for system, by_site in votes.items():
        watching = watchers.get(system) or {
            site: -math.inf for site, stored in windows.items()
            if any(w.record.system == system for w in stored)}
        down = {site: [span for span, _ in pairs] for site, pairs in by_site.items()}
        open_ends = {span[1] for pairs in by_site.values() for span, w in pairs
                     if w.record.end is None}
        order = sorted(by_site, key=lambda site: (site != prefer, site))
        for a, b in _agreed(down, watching, start, end):
            cover = next(w for site in order if watching.get(site, math.inf) <= a
                         for (x, y), w in by_site[site] if x <= a < y)
            records.append(WindowRecord(
                system=system, state="down", cause=cover.record.cause, start=a,
                end=None if b in open_ends else b, before_start=None, before_end=None,
                last_observed=b, accounted_until=b, amounts=Amounts(downtime=b - a),
                basis=cover.record.basis, new_incident=True, source="quorum"))
    records.sort(key=lambda r: (r.start, r.system))
    return [StoredWindow(id=-n, record=r) for n, r in enumerate(records, start=1)]


def _agreed(
    down: Mapping[str, Sequence[Span]], watching: Mapping[str, float], start: float, end: float
) -> list[Span]:
    """`quorum_spans` over [start, end), taken in stretches between the times sites began to
    watch: in each, the voters are the sites watching by its start."""
    cuts = sorted({start, end, *(t for t in watching.values() if start < t < end)})
    agreed: list[Span] = []
    for a, b in itertools.pairwise(cuts):
        voting = [site for site, since in watching.items() if since <= a]
        ballots = {site: [c for s in down.get(site, ()) if (c := clip(s, a, b))]
                   for site in voting}
        agreed += quorum_spans(ballots, len(voting))
    return merge(agreed)

"""agent.spans: arithmetic on half-open time spans, against answers worked out by hand."""

from __future__ import annotations

import pytest

from agent.spans import clip, merge, subtract, total


@pytest.mark.parametrize(("span", "holes", "expected"), [
    pytest.param((0, 10), [(2, 3), (5, 6)], [(0, 2), (3, 5), (6, 10)], id="two-holes"),
    pytest.param((0, 10), [(-5, 20)], [], id="all-covered"),
    pytest.param((0, 10), [(5, 6), (2, 3), (2.5, 4)], [(0, 2), (4, 5), (6, 10)],
                 id="unsorted-overlapping-holes"),
    pytest.param((0, 10), [], [(0, 10)], id="no-holes"),
    pytest.param((0, 10), [(10, 20), (-5, 0)], [(0, 10)], id="holes-only-touch"),
])
def test_subtract_leaves_the_parts_outside_every_hole(span, holes, expected):
    assert subtract(span, holes) == expected


def test_merge_unites_overlapping_and_touching_spans_and_drops_empty_ones():
    assert merge([(5, 8), (0, 2), (2, 3), (7, 9), (4, 4)]) == [(0, 3), (5, 9)]


def test_clip_keeps_the_part_inside_or_nothing():
    assert clip((0, 10), 5, 20) == (5, 10)
    assert clip((0, 10), 10, 20) is None


def test_total_counts_overlaps_once():
    assert total([(0, 10), (5, 15), (20, 21)]) == 16

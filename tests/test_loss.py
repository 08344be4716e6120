"""The loss of a group's time when systems are down at once, and the log-share rule that
attributes it: the worked examples of docs/cost-model.md by hand, and every property the rule
promises, by hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.loss import attribute, combined, loss_ratio, round_to_total, sum_weights, weight_of

HOURLY = 25000 / 1924
ORG_HOUR = 2000 * HOURLY  # 2,000 people for an hour: £25,987.53


def test_partial_impacts_on_the_same_people_combine_as_a_product() -> None:
    # Email (users_share 1.0, impact 0.5) and care-records (0.4, 1.0) down for one hour:
    # the people keep (1 - 0.5)(1 - 0.4) = 0.3 of their time, so lose 0.7 of it, not 0.9.
    assert combined([0.5, 0.4]) == pytest.approx(0.7)
    assert round(ORG_HOUR * combined([0.5, 0.4]), 2) == 18191.27


def test_worked_example_email_with_care_records_at_forty_percent() -> None:
    # log-share: email ln 2, care-records -ln 0.6 of ln 2 - ln 0.6 = -ln 0.3.
    email, care = attribute([0.5, 0.4])
    total = 0.7
    assert email == pytest.approx(total * math.log(2) / -math.log(0.3))
    assert care == pytest.approx(total * -math.log(0.6) / -math.log(0.3))
    pounds = round_to_total([ORG_HOUR * email, ORG_HOUR * care])
    # by hand: 18,191.27 x 0.693147 / 1.203973 = 10,473.02, and x 0.510826 / 1.203973
    assert pounds == [10473.02, 7718.25]
    assert round(sum(pounds), 2) == 18191.27


def test_worked_example_a_system_that_takes_everyone_s_time_takes_the_whole_loss() -> None:
    # care-records (1.0 x 1.0) takes all of the time: email (1.0 x 0.5) costs nothing more.
    email, care = attribute([0.5, 1.0])
    assert (email, care) == (0.0, 1.0)
    assert round(ORG_HOUR * care, 2) == 25987.53


def test_two_systems_that_each_take_everything_split_it_evenly() -> None:
    assert attribute([1.0, 1.0, 0.3]) == [0.5, 0.5, 0.0]


def test_a_root_cause_with_its_dependants_weighs_their_sum() -> None:
    # network-core (0.3) with email (0.9) down behind it: together 1 - 0.7 x 0.1 = 0.93.
    root = sum_weights([weight_of(0.3), weight_of(0.9)])
    assert loss_ratio(root) == pytest.approx(0.93)
    assert root.w == pytest.approx(-math.log(0.7) - math.log(0.1))


@pytest.mark.parametrize(
    ("amounts", "rounded"),
    [
        # a quarter and three quarters of £25,987.526: 6,496.88 + 19,490.64 would lose a penny
        pytest.param([ORG_HOUR / 4, ORG_HOUR * 3 / 4], [6496.88, 19490.65], id="quarters"),
        pytest.param([1 / 3] * 3, [0.34, 0.33, 0.33], id="thirds"),
        pytest.param([], [], id="none"),
        pytest.param([0.004, 0.004, 0.004], [0.01, 0.0, 0.0], id="fractions-of-pennies"),
    ],
)
def test_round_to_total_keeps_the_sum(amounts: list[float], rounded: list[float]) -> None:
    assert round_to_total(amounts) == rounded
    assert round(sum(rounded), 2) == round(math.fsum(amounts), 2)


shares = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(shares, min_size=1, max_size=40))
def test_attributions_sum_to_the_loss(xs: list[float]) -> None:
    assert math.fsum(attribute(xs)) == pytest.approx(combined(xs), abs=1e-12)
    expected = 1.0 - math.prod(1.0 - x for x in xs)
    assert combined(xs) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.lists(shares, min_size=1, max_size=40))
def test_no_system_gets_more_than_it_would_alone_nor_less_than_nothing(xs: list[float]) -> None:
    for x, share in zip(xs, attribute(xs), strict=True):
        assert 0.0 <= share <= x + 1e-12


@settings(max_examples=300, deadline=None)
@given(st.lists(shares, min_size=1, max_size=20), shares, st.integers(2, 5))
def test_equal_systems_get_equal_shares(xs: list[float], x: float, copies: int) -> None:
    result = attribute([*xs, *([x] * copies)])
    assert len(set(result[len(xs):])) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(shares, min_size=1, max_size=20))
def test_a_system_that_takes_nothing_gets_nothing(xs: list[float]) -> None:
    assert attribute([*xs, 0.0])[-1] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e6), max_size=30))
@example([0.005])  # half a penny: the total shows as 0.01, so must its one part
def test_rounding_to_pennies_keeps_the_total(amounts: list[float]) -> None:
    rounded = round_to_total(amounts)
    assert round(math.fsum(rounded), 2) == round(math.fsum(amounts), 2)
    assert all(abs(r - a) < 0.01 + 1e-9 for r, a in zip(rounded, amounts, strict=True))

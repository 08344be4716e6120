"""How much of a group of people's time is lost when several systems are down at once, and
how that loss is shared out among the systems that caused it. Pure functions.

Within one group, each system i takes x_i = share_i x impact_i of the people's time, and use
of different systems is independent, so the share of their time still left is the product
of what each system leaves:

    L = 1 - prod_i (1 - x_i)

never more than 1, however many systems are down: nobody loses more than all of their time.

The loss is split among the root causes by the log-share rule: root cause r gets

    L x w_r / sum_j w_j,   where w = -ln(1 - x)  (its "weight")

so the shares sum to L exactly, equal systems get equal shares, a system that takes nothing
gets nothing, and none gets more than it would alone (x_r). A system that alone takes all
of the group's time (x = 1, w infinite) takes all of the loss, shared equally with any other
such system: the others' outages cost that group nothing more. Weights add, which is what
makes this cheap: a root cause's weight is the sum of its own and its dependants', and a
group's loss depends only on the total W = sum_j w_j (and K, how many take everything):
L = 1 - e^-W, or 1 when K > 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Weight:
    """The weight of one system in one group: w = -ln(1 - x), kept finite by counting the
    x = 1 case apart (total = 1), so sums stay exact."""

    w: float = 0.0
    total: int = 0  # 1 if this system alone takes all of the group's time

    def __add__(self, other: Weight) -> Weight:
        return Weight(self.w + other.w, self.total + other.total)

    def __bool__(self) -> bool:
        return self.w > 0.0 or self.total > 0


NOTHING = Weight()


def weight_of(x: float) -> Weight:
    """Given the share of a group's time a system takes (share x impact, 0..1), return its
    weight."""
    if x >= 1.0:
        return Weight(0.0, 1)
    if x <= 0.0:
        return NOTHING
    return Weight(-math.log1p(-x), 0)


def loss_ratio(total: Weight) -> float:
    """Given the summed weight of every system down in a group, return the share of the
    group's time lost: 1 - e^-W, or 1 if any system takes all of it."""
    if total.total > 0:
        return 1.0
    return -math.expm1(-total.w)


def share_factors(total: Weight) -> tuple[float, float]:
    """Given a group's summed weight, return (f, g): a root cause of weight (w, k) is
    attributed w x f + k x g of the group's time, and the attributions sum to the loss."""
    if total.total > 0:
        return 0.0, 1.0 / total.total
    if total.w <= 0.0:
        return 0.0, 0.0
    return loss_ratio(total) / total.w, 0.0


def attributed(own: Weight, total: Weight) -> float:
    """Given a root cause's weight and its group's summed weight, return its share of the
    group's time."""
    f, g = share_factors(total)
    return own.w * f + own.total * g


def attribute(xs: Sequence[float]) -> list[float]:
    """Given what each root cause alone takes of one group's time, return the share of the
    combined loss each is attributed (they sum to 1 - prod(1 - x))."""
    weights = [weight_of(x) for x in xs]
    total = sum_weights(weights)
    return [attributed(w, total) for w in weights]


def sum_weights(weights: Iterable[Weight]) -> Weight:
    """Exact-as-floats sum of weights (fsum, so the order they come in does not matter)."""
    items = list(weights)
    return Weight(math.fsum(w.w for w in items), sum(w.total for w in items))


def combined(xs: Iterable[float]) -> float:
    """Given what several systems take of one group's time, return what they take together:
    1 - prod(1 - x). (A root cause and its dependants, or everything down at once.)"""
    return loss_ratio(sum_weights(weight_of(x) for x in xs))


def round_to_total(values: Sequence[float], places: int = 2,
                   total: float | None = None) -> list[float]:
    """Given amounts, return them rounded to `places` decimals so they sum to `total` (by
    default the rounded sum of the amounts): the largest remainders are rounded up first,
    ties to the earlier, as a finance officer adds them up. A `total` that needs more than
    one unit per amount of change is reached as closely as that allows."""
    scale = 10**places
    # round(x, places) first, as every figure shown is rounded: it rounds the binary value
    # exactly (0.005 is a hair above, so 0.01), where round(x * scale) may not (round(0.5))
    target = round(round(math.fsum(values) if total is None else total, places) * scale)
    scaled = [v * scale for v in values]
    floors = [math.floor(v) for v in scaled]
    missing = target - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (floors[i] - scaled[i], i))
    for i in order[: max(0, missing)]:
        floors[i] += 1
    for i in order[::-1][: max(0, -missing)]:
        floors[i] -= 1
    return [round(f / scale, places) for f in floors]

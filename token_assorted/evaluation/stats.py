"""Whether a difference in accuracy is real: intervals for a rate and an exact paired test for two methods.

Both need only the standard library: the test sets are small (a few hundred items), so the binomial sums are exact.
"""

from __future__ import annotations

import math
from typing import Sequence

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial rate (95 % by default): unlike the normal approximation it stays
    inside [0, 1] and is not empty at 0 or n successes."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n} trials")
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """McNemar's exact test on paired outcomes: the two-sided p-value that items solved by one method only split as
    unevenly as `only_first` against `only_second` when either method is as likely to be the one (a binomial with
    p = 1/2 over the discordant items). 1.0 when no item is discordant."""
    if only_first < 0 or only_second < 0:
        raise ValueError("counts of items cannot be negative")
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_first, only_second) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def paired_counts(first: Sequence[bool], second: Sequence[bool]) -> tuple[int, int]:
    """(items only the first solved, items only the second solved), from outcomes on the same items in order."""
    if len(first) != len(second):
        raise ValueError(f"paired outcomes need the same items: {len(first)} against {len(second)}")
    only_first = sum(1 for a, b in zip(first, second) if a and not b)
    only_second = sum(1 for a, b in zip(first, second) if b and not a)
    return only_first, only_second

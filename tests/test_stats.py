"""The statistics of the report, on hand-made cases with known answers."""

import math

import pytest

from token_assorted.evaluation.stats import mcnemar_exact, paired_counts, wilson_interval


@pytest.mark.parametrize("successes, n, low, high", [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0), (81, 100, 0.7222, 0.8749),
])
def test_wilson_interval_matches_published_values(successes, n, low, high):
    lo, hi = wilson_interval(successes, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_narrows_with_more_items_and_refuses_nonsense():
    assert wilson_interval(450, 500)[1] - wilson_interval(450, 500)[0] < wilson_interval(45, 50)[1] - wilson_interval(45, 50)[0]
    with pytest.raises(ValueError):
        wilson_interval(1, 0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@pytest.mark.parametrize("only_first, only_second, p", [
    (0, 0, 1.0), (0, 6, 2 / 64), (6, 0, 2 / 64), (1, 9, 2 * 11 / 1024), (5, 5, 1.0), (3, 5, 2 * 93 / 256),
])
def test_mcnemar_exact_is_the_two_sided_binomial_tail(only_first, only_second, p):
    assert mcnemar_exact(only_first, only_second) == pytest.approx(min(1.0, p))


def test_mcnemar_large_counts_agree_with_the_normal_approximation():
    # 60 against 90 discordant items: chi-square with continuity correction, (|b - c| - 1)^2 / (b + c) = 5.607
    approximate = math.erfc(math.sqrt(5.607 / 2))
    assert mcnemar_exact(60, 90) == pytest.approx(approximate, rel=0.1)


def test_paired_counts_count_the_discordant_items():
    first = [True, True, False, False, True]
    second = [True, False, True, False, False]
    assert paired_counts(first, second) == (2, 1)
    with pytest.raises(ValueError):
        paired_counts(first, second[:3])

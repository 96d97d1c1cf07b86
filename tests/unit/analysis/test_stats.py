"""Tests of the binomial tail and the histogram Mann-Whitney / Hodges-Lehmann test."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from canarywatch.analysis.histogram import Histogram, bucket_mid_ms
from canarywatch.analysis.stats import binom_sf, min_binomial_p, norm_sf, shift_test


def _exact_sf(k: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1)))


@pytest.mark.parametrize(("k", "n", "p"), [
    (0, 10, Fraction(1, 10)), (1, 10, Fraction(1, 10)), (3, 10, Fraction(1, 10)),
    (10, 10, Fraction(1, 10)), (25, 200, Fraction(1, 20)), (5, 400, Fraction(1, 50)),
    (60, 100, Fraction(1, 2)), (40, 100, Fraction(1, 2)), (12, 15, Fraction(1, 10)),
])
def test_binom_sf_matches_exact_rational_sum(k: int, n: int, p: Fraction) -> None:
    """The log-space binomial tail equals the exact sum of the pmf, on both sides of the mean."""
    assert binom_sf(k, n, float(p)) == pytest.approx(_exact_sf(k, n, p), rel=1e-9, abs=1e-15)


def test_binom_sf_with_no_baseline_occurrence_is_share_to_the_power_n() -> None:
    """All n occurrences in the canary: the p-value is share**n (the zero-baseline case)."""
    assert binom_sf(6, 6, 0.1) == pytest.approx(1e-6, rel=1e-9)
    assert min_binomial_p(6, 0.1) == pytest.approx(1e-6, rel=1e-9)


def test_binom_sf_edges() -> None:
    """k beyond n is impossible; k <= 0 is certain; huge n stays finite."""
    assert binom_sf(11, 10, 0.5) == 0.0
    assert binom_sf(0, 10, 0.5) == 1.0
    assert 0.0 < binom_sf(1200, 10000, 0.1) < 1e-8


def test_norm_sf_known_values() -> None:
    """The normal tail at 1.96 and 0 matches the textbook values."""
    assert norm_sf(1.959964) == pytest.approx(0.025, rel=1e-5)
    assert norm_sf(0.0) == pytest.approx(0.5)


def _hist(values: list[float]) -> Histogram:
    h = Histogram()
    for v in values:
        h.add(v)
    return h


def test_u_statistic_equals_pairwise_count_on_bucketed_values() -> None:
    """U from histograms equals counting canary>baseline pairs (ties half) on bucket values."""
    rng = random.Random(3)
    canary = [rng.lognormvariate(3.0, 0.5) for _ in range(60)]
    baseline = [rng.lognormvariate(2.9, 0.5) for _ in range(90)]
    hc, hb = _hist(canary), _hist(baseline)
    cb = [bi for bi, n in hc.counts.items() for _ in range(n)]
    bb = [bi for bi, n in hb.counts.items() for _ in range(n)]
    expected = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in cb for y in bb)
    assert shift_test(hc, hb).u == pytest.approx(expected)


def test_no_shift_is_not_significant_and_ratio_is_one() -> None:
    """Two samples of one distribution: large p-value, ratio near 1, CI around 1."""
    rng = random.Random(5)
    hc = _hist([rng.lognormvariate(3.0, 0.35) for _ in range(500)])
    hb = _hist([rng.lognormvariate(3.0, 0.35) for _ in range(5000)])
    test = shift_test(hc, hb)
    assert test.p_value > 0.01
    assert 0.95 <= test.ratio <= 1.05
    assert test.ratio_low <= 1.0 <= test.ratio_high


def test_known_shift_is_found_with_its_ratio() -> None:
    """Canary durations x1.5: tiny p-value and a Hodges-Lehmann ratio near 1.5 in its CI."""
    rng = random.Random(7)
    hc = _hist([1.5 * rng.lognormvariate(3.0, 0.35) for _ in range(300)])
    hb = _hist([rng.lognormvariate(3.0, 0.35) for _ in range(3000)])
    test = shift_test(hc, hb)
    assert test.p_value < 1e-12
    assert 1.4 <= test.ratio <= 1.6
    assert test.ratio_low <= 1.5 <= test.ratio_high
    assert test.delta_ms == pytest.approx(test.baseline_median_ms * (test.ratio - 1.0))


def test_faster_canary_is_not_significant_one_sided() -> None:
    """The test is one-sided: a faster canary gives a p-value near 1."""
    rng = random.Random(9)
    hc = _hist([0.7 * rng.lognormvariate(3.0, 0.35) for _ in range(300)])
    hb = _hist([rng.lognormvariate(3.0, 0.35) for _ in range(3000)])
    assert shift_test(hc, hb).p_value > 0.99


def test_histogram_quantile_within_bucket_width() -> None:
    """Quantiles from the log buckets are within one bucket (4%) of the exact ones."""
    rng = random.Random(11)
    values = sorted(rng.lognormvariate(4.0, 1.0) for _ in range(20000))
    h = _hist(values)
    for q in (0.5, 0.9, 0.99):
        exact = values[int(q * len(values)) - 1]
        assert h.quantile_ms(q) == pytest.approx(exact, rel=0.045)
    assert bucket_mid_ms(0) == pytest.approx(1.02, rel=1e-3)


def test_histogram_merge_and_json_round_trip() -> None:
    """Merging adds counts; the JSON form restores the same histogram."""
    a, b = _hist([1.0, 2.0, 2.0]), _hist([2.0, 300.0])
    merged = Histogram.merged([a, b])
    assert merged.total == 5
    assert Histogram.from_json(merged.to_json()) == merged

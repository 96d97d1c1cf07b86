"""Tests used by the signals: exact binomial tail, Mann-Whitney U with Hodges-Lehmann shift.

Pure functions over counts and histograms; scipy is not a dependency, so the binomial tail is
summed in log space and the normal tail comes from ``math.erfc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from canarywatch.analysis.histogram import GROWTH, Histogram

_STD_NORMAL = NormalDist()
_TAIL_EPS = 1e-17


def norm_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def norm_isf(p: float) -> float:
    """The z with P(Z >= z) = p."""
    return -_STD_NORMAL.inv_cdf(p)


def _log_pmf(k: int, n: int, log_p: float, log_q: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * log_p + (n - k) * log_q)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (summed from the tail inwards)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    if k > n * p:
        # Terms fall as j grows past the mode: sum upwards until they vanish.
        first = _log_pmf(k, n, log_p, log_q)
        total, term, j = 1.0, 1.0, k
        ratio_base = p / (1.0 - p)
        while j < n:
            term *= (n - j) / (j + 1) * ratio_base
            total += term
            j += 1
            if term < _TAIL_EPS * total:
                break
        return min(1.0, math.exp(first) * total)
    # k at or below the mean: 1 - P(X <= k-1), summing downwards from k-1.
    first = _log_pmf(k - 1, n, log_p, log_q)
    total, term, j = 1.0, 1.0, k - 1
    inv_ratio = (1.0 - p) / p
    while j > 0:
        term *= j / (n - j + 1) * inv_ratio
        total += term
        j -= 1
        if term < _TAIL_EPS * total:
            break
    return max(0.0, 1.0 - math.exp(first) * total)


@dataclass(frozen=True, slots=True)
class ShiftTest:
    """Mann-Whitney U (canary larger?) with the Hodges-Lehmann shift as a ratio and its CI."""

    canary_n: int
    baseline_n: int
    u: float
    variance: float  # of U under no shift, tie-corrected
    z: float
    p_value: float  # one-sided: the canary is slower
    ratio: float  # Hodges-Lehmann estimate of canary/baseline duration ratio
    ratio_low: float  # confidence interval of the ratio
    ratio_high: float
    baseline_median_ms: float
    canary_median_ms: float

    @property
    def delta_ms(self) -> float:
        """The shift in milliseconds at the baseline's median."""
        return self.baseline_median_ms * (self.ratio - 1.0)


def _weighted_quantile_index(cum: np.ndarray, rank: float) -> int:
    return int(np.searchsorted(cum, rank, side="left"))


def shift_test(canary: Histogram, baseline: Histogram, confidence: float = 0.95) -> ShiftTest:
    """Compare two log-bucketed histograms; values in one bucket count as ties."""
    m, n = canary.total, baseline.total
    if m == 0 or n == 0:
        return ShiftTest(m, n, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, math.inf,
                         baseline.quantile_ms(0.5), canary.quantile_ms(0.5))
    lo = min(*canary.counts, *baseline.counts)
    hi = max(*canary.counts, *baseline.counts)
    size = hi - lo + 1
    c = np.zeros(size)
    b = np.zeros(size)
    for i, k in canary.counts.items():
        c[i - lo] = k
    for i, k in baseline.counts.items():
        b[i - lo] = k
    b_below = np.cumsum(b) - b
    u = float(np.dot(c, b_below + 0.5 * b))
    total = m + n
    ties = c + b
    tie_term = float(np.sum(ties**3 - ties)) / (total * (total - 1)) if total > 1 else 0.0
    variance = m * n / 12.0 * ((total + 1) - tie_term)
    mean = m * n / 2.0
    z = 0.0 if variance <= 0 else (u - mean - 0.5) / math.sqrt(variance)
    p_value = norm_sf(z) if variance > 0 else 1.0
    # Pairwise differences of bucket indices: their distribution is a convolution.
    diffs = np.convolve(c, b[::-1])  # index j <-> difference j - (size - 1)
    cum = np.cumsum(diffs)
    pairs = float(cum[-1])
    offset = size - 1
    median_d = _weighted_quantile_index(cum, 0.5 * pairs) - offset
    z_ci = norm_isf((1.0 - confidence) / 2.0)
    rank = mean - z_ci * math.sqrt(m * n * (total + 1) / 12.0)
    if rank < 1:
        low, high = 0.0, math.inf
    else:
        low = float(GROWTH ** (_weighted_quantile_index(cum, rank) - offset))
        high = float(GROWTH ** (_weighted_quantile_index(cum, pairs - rank) - offset))
    return ShiftTest(
        canary_n=m, baseline_n=n, u=u, variance=max(variance, 0.0), z=z, p_value=p_value,
        ratio=float(GROWTH**median_d), ratio_low=low, ratio_high=high,
        baseline_median_ms=baseline.quantile_ms(0.5), canary_median_ms=canary.quantile_ms(0.5),
    )


def min_binomial_p(n: int, share: float) -> float:
    """The smallest p-value a one-sided binomial test on ``n`` events can reach (Tarone)."""
    if n <= 0 or share >= 1.0:
        return 1.0
    return math.exp(n * math.log(share)) if share > 0 else 0.0


_EXACT_MAX_EVENTS = 4000


def poisson_binomial_sf(k: int, trials: Sequence[int], shares: Sequence[float]) -> float:
    """P(X >= k) for X a sum of independent Binomial(trials[i], shares[i]).

    The stratified count test: given each stratum's events, how likely the canary's share
    of them is at least ``k`` when every stratum splits by its own traffic share. Exact (pmf
    convolution) up to 4,000 events, else the normal approximation with a
    continuity correction.
    """
    if k <= 0:
        return 1.0
    strata = [(n, p) for n, p in zip(trials, shares, strict=True) if n > 0]
    if len(strata) == 1:
        return binom_sf(k, *strata[0])
    total = sum(n for n, _ in strata)
    if k > total:
        return 0.0
    if total <= _EXACT_MAX_EVENTS:
        pmf = np.ones(1)
        for n, p in strata:
            pmf = np.convolve(pmf, _binomial_pmf(n, p))
        return float(min(1.0, max(0.0, pmf[k:].sum())))
    mean = sum(n * p for n, p in strata)
    variance = sum(n * p * (1.0 - p) for n, p in strata)
    if variance <= 0.0:
        return 1.0 if k <= mean else 0.0
    return norm_sf((k - 0.5 - mean) / math.sqrt(variance))


def _binomial_pmf(n: int, p: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """P(X = k) for k = 0..n, X ~ Binomial(n, p), from log-gamma (numpy only: importing
    scipy.stats would add seconds to the agent's start)."""
    if p <= 0.0 or p >= 1.0:
        out = np.zeros(n + 1)
        out[0 if p <= 0.0 else n] = 1.0
        return out
    log_p, log_q = math.log(p), math.log1p(-p)
    logs = np.array([_log_pmf(k, n, log_p, log_q) for k in range(n + 1)], dtype=np.float64)
    pmf: np.ndarray[Any, np.dtype[np.float64]] = np.exp(logs)
    return pmf


def min_poisson_binomial_p(trials: Sequence[int], shares: Sequence[float]) -> float:
    """The smallest p-value :func:`poisson_binomial_sf` can reach: every event in the canary."""
    log_p = 0.0
    for n, p in zip(trials, shares, strict=True):
        if n > 0:
            if p <= 0.0:
                return 0.0
            log_p += n * math.log(p)
    return math.exp(log_p)


__all__ = ["ShiftTest", "binom_sf", "min_binomial_p", "min_poisson_binomial_p", "norm_isf",
           "norm_sf", "poisson_binomial_sf", "shift_test"]

"""Kayenta's NetflixACAJudge, as its documentation and source describe it.

Each analysis interval, every metric's canary series is compared with the baseline series
(one value per metrics step inside the interval) by the Mann-Whitney classifier: the
Hodges-Lehmann shift's confidence interval at ``confidence`` (98%) must clear a tolerance
band of 0.25 x |shift| and the mean ratio must reach the effect-size threshold (1.0) for
the metric to be ``High``. Missing data is removed (NaN strategy ``remove``); a metric with no
data left is ``Nodata`` and not scored. The interval score is the share of scored metrics that
pass, in percent. As Spinnaker runs it, an interval scoring below ``marginal`` fails the canary
at once, and the last interval must reach ``pass_score``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist, mean

from judges.metrics import Step, StepMetrics

METRICS: dict[str, Callable[[Step], float]] = {
    "error_rate": lambda s: s.errors / s.requests if s.requests else math.nan,
    "latency_p50": lambda s: s.latency.quantile_ms(0.5),
    "latency_p99": lambda s: s.latency.quantile_ms(0.99),
    "error_logs_per_request": lambda s: s.error_logs / s.requests if s.requests else math.nan,
}


@dataclass(frozen=True, slots=True)
class KayentaConfig:
    interval_s: float = 60.0
    confidence: float = 0.98
    tolerance: float = 0.25
    effect_size_high: float = 1.0
    pass_score: float = 95.0
    marginal_score: float = 75.0


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """Number of orderings giving each U = 0..m*n (no ties), by recursion on the last value."""
    if m == 0 or n == 0:
        return (1,)
    a = _u_counts(m - 1, n)  # the largest value is the experiment's: it beats all n controls
    b = _u_counts(m, n - 1)
    out = [0] * (m * n + 1)
    for u, c in enumerate(a):
        out[u + n] += c
    for u, c in enumerate(b):
        out[u] += c
    return tuple(out)


def _exact_rank(m: int, n: int, alpha: float) -> int:
    """qwilcox(alpha/2): the smallest u with P(U <= u) >= alpha/2, at least 1."""
    counts = _u_counts(m, n)
    total = sum(counts)
    seen = 0
    for u, c in enumerate(counts):
        seen += c
        if seen / total >= alpha / 2:
            return max(u, 1)
    return max(len(counts) - 1, 1)


def hodges_lehmann(experiment: Sequence[float], control: Sequence[float],
                   confidence: float) -> tuple[float, float, float]:
    """(estimate, low, high) of the experiment - control shift."""
    diffs = sorted(x - y for x in experiment for y in control)
    m, n = len(experiment), len(control)
    mn = m * n
    half = mn // 2
    estimate = diffs[half] if mn % 2 else 0.5 * (diffs[half - 1] + diffs[half])
    alpha = 1.0 - confidence
    values = [*experiment, *control]
    if m < 50 and n < 50 and len(set(values)) == len(values):
        k = _exact_rank(m, n, alpha)
    else:
        counts: dict[float, int] = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        total = m + n
        ties = sum(t**3 - t for t in counts.values()) / (total * (total - 1))
        sd = math.sqrt(mn / 12.0 * ((total + 1) - ties))
        k = math.floor(mn / 2.0 - NormalDist().inv_cdf(1.0 - alpha / 2) * sd)
        if k < 1:
            return estimate, -math.inf, math.inf
    return estimate, diffs[k - 1], diffs[mn - k]


def classify(experiment: list[float], control: list[float], config: KayentaConfig) -> str:
    """High, Pass or Nodata for one metric (direction: increase is bad)."""
    experiment = [v for v in experiment if not math.isnan(v)]
    control = [v for v in control if not math.isnan(v)]
    if not experiment or not control:
        return "Nodata"
    if sorted(experiment) == sorted(control) or len(set(experiment) | set(control)) == 1:
        return "Pass"
    estimate, low, _ = hodges_lehmann(experiment, control, config.confidence)
    upper_bound = config.tolerance * abs(estimate)
    control_mean = mean(control)
    ratio = 1.0 if control_mean == 0.0 else mean(experiment) / control_mean
    if low > upper_bound and ratio >= config.effect_size_high:
        return "High"
    return "Pass"


def interval_score(metrics: StepMetrics, baseline: str, canary: str, *, first: int, last: int,
                   config: KayentaConfig) -> float | None:
    """Percent of scored metrics that pass over steps first..last-1; None if none scored."""
    c_steps = metrics.series(canary, first, last)
    b_steps = metrics.series(baseline, first, last)
    labels = [classify([f(s) for s in c_steps], [f(s) for s in b_steps], config)
              for f in METRICS.values()]
    scored = [x for x in labels if x != "Nodata"]
    if not scored:
        return None
    return 100.0 * sum(1 for x in scored if x == "Pass") / len(scored)


def kayenta_rollback_s(metrics: StepMetrics, baseline: str, canary: str, duration_s: float,
                       config: KayentaConfig = KayentaConfig()) -> float | None:
    """Seconds after the start at which the ACA judge fails the canary, or None."""
    per_interval = round(config.interval_s * 1e9 / metrics.step_ns)
    end = per_interval
    last_score: float | None = None
    last_end = 0
    while end * metrics.step_ns <= duration_s * 1e9:
        score = interval_score(metrics, baseline, canary, first=end - per_interval, last=end,
                               config=config)
        if score is not None:
            if score < config.marginal_score:
                return end * metrics.step_ns / 1e9
            last_score, last_end = score, end
        end += per_interval
    if last_score is not None and last_score < config.pass_score:
        return last_end * metrics.step_ns / 1e9
    return None

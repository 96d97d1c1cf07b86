"""The ``error_rate`` and ``latency`` signals, per endpoint and for all endpoints together.

Error rate: the exact conditional binomial test on error counts against the canary's share of
the endpoint's requests, gated by an absolute and a relative rise. Latency: Mann-Whitney U on
the log-bucketed histograms with the Hodges-Lehmann ratio, gated by a minimum ratio AND a
minimum shift in milliseconds. The pooled latency test sums the per-endpoint U statistics
(stratified, so a different endpoint mix between cohorts cannot fake a shift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from canarywatch.analysis.base import SignalResult
from canarywatch.analysis.stats import ShiftTest, binom_sf, min_binomial_p, norm_sf, shift_test
from canarywatch.analysis.windows import EndpointCounts, Summary
from canarywatch.config import AnalysisConfig
from canarywatch.events import Reason, Signal

ALL_ENDPOINTS = "(all endpoints)"


@dataclass(frozen=True, slots=True)
class _Pair:
    endpoint: str
    canary: EndpointCounts
    baseline: EndpointCounts


def span_signals(canary: Summary, baseline: Summary, canary_version: str, baseline_version: str,
                 config: AnalysisConfig) -> list[SignalResult]:
    """Error-rate and latency results for every endpoint both cohorts served."""
    pairs = [_Pair(name, counts, baseline.endpoints[name])
             for name, counts in sorted(canary.endpoints.items())
             if name in baseline.endpoints]
    out: list[SignalResult] = []
    shifts: list[tuple[_Pair, ShiftTest]] = []
    for pair in pairs:
        out.append(error_rate_result(pair.endpoint, pair.canary, pair.baseline,
                                     canary_version=canary_version,
                                     baseline_version=baseline_version, config=config))
        test = shift_test(pair.canary.latency, pair.baseline.latency, config.latency_confidence)
        shifts.append((pair, test))
        out.append(_latency_result(pair.endpoint, test, pair.canary.slowest,
                                   canary_version=canary_version,
                                   baseline_version=baseline_version, config=config))
    if config.pooled_endpoints and len(pairs) > 1:
        pooled_c = EndpointCounts()
        pooled_b = EndpointCounts()
        for pair in pairs:
            pooled_c.merge(pair.canary)
            pooled_b.merge(pair.baseline)
        out.append(error_rate_result(ALL_ENDPOINTS, pooled_c, pooled_b,
                                     canary_version=canary_version,
                                     baseline_version=baseline_version, config=config))
        out.append(_latency_result(ALL_ENDPOINTS, _stratified(shifts), pooled_c.slowest,
                                   canary_version=canary_version,
                                   baseline_version=baseline_version, config=config))
    return out


def error_rate_result(endpoint: str, canary: EndpointCounts, baseline: EndpointCounts, *,
                      canary_version: str, baseline_version: str,
                      config: AnalysisConfig) -> SignalResult:
    rc, rb = canary.requests, baseline.requests
    ec, eb = canary.errors, baseline.errors
    share = rc / (rc + rb)
    p_value = binom_sf(ec, ec + eb, share)
    rate_c, rate_b = ec / rc, eb / rb
    enough = rc >= config.min_requests and rb >= config.min_requests
    effect_ok = (rate_c - rate_b >= config.error_rate_min_delta
                 and rate_c >= config.error_rate_min_ratio * rate_b)
    summary = (f"{endpoint}: error rate {rate_c:.2%} in {canary_version} ({ec}/{rc}) vs "
               f"{rate_b:.2%} in {baseline_version} ({eb}/{rb})")
    reason = Reason(
        signal=Signal.ERROR_RATE, summary=summary, failed=False, p_value=p_value,
        effect_size=rate_c - rate_b, endpoint=endpoint, baseline_count=eb, canary_count=ec,
        details=(("canary_rate", rate_c), ("baseline_rate", rate_b),
                 ("canary_requests", rc), ("baseline_requests", rb),
                 ("canary_traffic_share", share),
                 ("canary_error_trace_ids", list(canary.error_traces))),
    )
    return SignalResult(key=f"error_rate:{endpoint}", p_value=p_value,
                        min_p_value=min_binomial_p(ec + eb, share), can_fail=enough,
                        effect_ok=effect_ok, reason=reason)


def _latency_result(endpoint: str, test: ShiftTest, slowest: list[tuple[float, str]], *,
                    canary_version: str, baseline_version: str,
                    config: AnalysisConfig) -> SignalResult:
    m, n = test.canary_n, test.baseline_n
    enough = m >= config.min_requests and n >= config.min_requests
    effect_ok = (test.ratio >= config.latency_min_ratio
                 and test.delta_ms >= config.latency_min_delta_ms)
    summary = (f"{endpoint}: {canary_version} is {test.ratio:.2f}x {baseline_version}'s latency "
               f"(+{test.delta_ms:.1f} ms at the median; {m} vs {n} requests)")
    reason = Reason(
        signal=Signal.LATENCY, summary=summary, failed=False, p_value=test.p_value,
        effect_size=test.ratio, endpoint=endpoint, baseline_count=n, canary_count=m,
        details=(("ratio_ci", [_finite(test.ratio_low), _finite(test.ratio_high)]),
                 ("delta_ms", _finite(test.delta_ms)),
                 ("canary_median_ms", _finite(test.canary_median_ms)),
                 ("baseline_median_ms", _finite(test.baseline_median_ms)), ("z", test.z),
                 ("canary_slowest", [{"duration_ms": ms, "trace_id": t} for ms, t in slowest])),
    )
    return SignalResult(key=f"latency:{endpoint}", p_value=test.p_value,
                        min_p_value=_min_mw_p(m, n), can_fail=enough, effect_ok=effect_ok,
                        reason=reason)


def _stratified(shifts: list[tuple[_Pair, ShiftTest]]) -> ShiftTest:
    """Sum of per-endpoint U statistics; the effect is the canary-weighted mean shift."""
    u = mean = variance = 0.0
    m = n = 0
    log_ratio = base_ms = canary_ms = 0.0
    for _, t in shifts:
        if t.canary_n == 0 or t.baseline_n == 0:
            continue
        u += t.u
        mean += t.canary_n * t.baseline_n / 2.0
        variance += t.variance
        m += t.canary_n
        n += t.baseline_n
        log_ratio += t.canary_n * math.log(t.ratio)
        base_ms += t.canary_n * t.baseline_median_ms
        canary_ms += t.canary_n * t.canary_median_ms
    if m == 0 or variance <= 0:
        return ShiftTest(m, n, 0.0, 0.0, 0.0, 1.0, 1.0, math.nan, math.nan, math.nan, math.nan)
    z = (u - mean - 0.5) / math.sqrt(variance)
    ratio = math.exp(log_ratio / m)
    return ShiftTest(m, n, u, variance, z, norm_sf(z), ratio, math.nan, math.nan, base_ms / m,
                     canary_ms / m)


def _min_mw_p(m: int, n: int) -> float:
    """The p-value of the most extreme U (every canary value above every baseline value)."""
    if m == 0 or n == 0:
        return 1.0
    return norm_sf((m * n / 2.0 - 0.5) / math.sqrt(m * n * (m + n + 1) / 12.0))


def _finite(x: float) -> float | None:
    return None if math.isinf(x) or math.isnan(x) else x

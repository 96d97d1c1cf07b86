"""The ``error_rate`` and ``latency`` signals, per endpoint and for the whole service.

Error rate: the exact conditional binomial test on error counts against the canary's share of
the endpoint's requests, gated by an absolute and a relative rise. Latency: Mann-Whitney U on
the log-bucketed histograms with the Hodges-Lehmann ratio, gated by a minimum ratio AND a
minimum shift in milliseconds. The pooled latency test sums the per-endpoint U statistics
(stratified, so a different endpoint mix between cohorts cannot fake a shift).

The service-level safety net tests all entry spans together, stratified by the endpoints
both cohorts served plus one stratum of the endpoints only one cohort served (so a fault is
still caught when the cohorts name their endpoints differently): the error test is the
stratified conditional binomial (Poisson-binomial), gated against the rate the canary would
have with its endpoint mix at baseline rates. Endpoints with at least ``min_requests`` in one
cohort only are reported as reasons.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from canarywatch.analysis.base import SignalResult
from canarywatch.analysis.stats import (
    ShiftTest,
    binom_sf,
    min_binomial_p,
    min_poisson_binomial_p,
    norm_sf,
    poisson_binomial_sf,
    shift_test,
)
from canarywatch.analysis.windows import EndpointCounts, Summary
from canarywatch.config import AnalysisConfig
from canarywatch.events import Reason, Signal

ALL_ENDPOINTS = "(all endpoints)"
UNSHARED = "(endpoints of one cohort only)"


@dataclass(frozen=True, slots=True)
class _Pair:
    endpoint: str
    canary: EndpointCounts
    baseline: EndpointCounts


def span_signals(canary: Summary, baseline: Summary, canary_version: str, baseline_version: str,
                 config: AnalysisConfig) -> list[SignalResult]:
    """Error-rate and latency results for every endpoint both cohorts served, the service as
    a whole, and the endpoints with traffic in one cohort only."""
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
    c_eps, b_eps = canary.endpoints, baseline.endpoints
    rest = _Pair(UNSHARED, _merged(c for name, c in c_eps.items() if name not in b_eps),
                 _merged(b for name, b in b_eps.items() if name not in c_eps))
    strata = list(pairs)
    if rest.canary.requests and rest.baseline.requests:  # names differ: compare the rest too
        strata.append(rest)
        shifts.append((rest, shift_test(rest.canary.latency, rest.baseline.latency,
                                        config.latency_confidence)))
    if config.pooled_endpoints and (len(strata) > 1 or strata[:1] == [rest]):
        out.extend(_service_results(strata, shifts, canary_version=canary_version,
                                    baseline_version=baseline_version, config=config))
    out.extend(_one_cohort_results(canary, baseline, canary_version, config))
    out.extend(_one_cohort_results(baseline, canary, baseline_version, config))
    return out


def _merged(counts: Iterable[EndpointCounts]) -> EndpointCounts:
    out = EndpointCounts()
    for c in counts:
        out.merge(c)
    return out


def _service_results(strata: list[_Pair], shifts: list[tuple[_Pair, ShiftTest]], *,
                     canary_version: str, baseline_version: str,
                     config: AnalysisConfig) -> list[SignalResult]:
    """The service-level safety net over all entry spans: error rate and latency,
    stratified by the endpoints both cohorts served plus one stratum of the rest."""
    pooled_c = _merged(p.canary for p in strata)
    pooled_b = _merged(p.baseline for p in strata)
    rc, rb, ec, eb = pooled_c.requests, pooled_b.requests, pooled_c.errors, pooled_b.errors
    trials = [p.canary.errors + p.baseline.errors for p in strata]
    shares = [p.canary.requests / (p.canary.requests + p.baseline.requests) for p in strata]
    p_value = poisson_binomial_sf(ec, trials, shares)
    # What the canary's error rate would be with its own endpoint mix at baseline rates.
    expected = sum(p.canary.requests * p.baseline.errors / p.baseline.requests
                   for p in strata) / rc
    rate_c, rate_b = ec / rc, eb / rb
    effect_ok = (rate_c - expected >= config.error_rate_min_delta
                 and rate_c >= config.error_rate_min_ratio * expected)
    unshared = next((p for p in strata if p.endpoint == UNSHARED), None)
    note = (f"; {unshared.canary.requests} canary and {unshared.baseline.requests} baseline "
            "requests on endpoints the other cohort did not serve" if unshared else "")
    summary = (f"{ALL_ENDPOINTS}: error rate {rate_c:.2%} in {canary_version} ({ec}/{rc}) vs "
               f"{rate_b:.2%} in {baseline_version} ({eb}/{rb}), {expected:.2%} expected for "
               f"{canary_version}'s endpoint mix{note}")
    reason = Reason(
        signal=Signal.ERROR_RATE, summary=summary, failed=False, p_value=p_value,
        effect_size=rate_c - expected, endpoint=ALL_ENDPOINTS, baseline_count=eb,
        canary_count=ec,
        details=(("canary_rate", rate_c), ("baseline_rate", rate_b),
                 ("expected_canary_rate", expected), ("canary_requests", rc),
                 ("baseline_requests", rb), ("strata", len(strata)),
                 ("canary_error_trace_ids", list(pooled_c.error_traces))))
    error_rate = SignalResult(
        key=f"error_rate:{ALL_ENDPOINTS}", p_value=p_value,
        min_p_value=min_poisson_binomial_p(trials, shares),
        can_fail=rc >= config.min_requests and rb >= config.min_requests,
        effect_ok=effect_ok, reason=reason)
    latency = _latency_result(ALL_ENDPOINTS, _stratified(shifts), pooled_c.slowest,
                              canary_version=canary_version,
                              baseline_version=baseline_version, config=config)
    return [error_rate, latency]


def _one_cohort_results(mine: Summary, other: Summary, version: str,
                        config: AnalysisConfig) -> list[SignalResult]:
    """Endpoints with real traffic in one cohort only: reported, never silently dropped."""
    only = sorted(((name, c) for name, c in mine.endpoints.items()
                   if name not in other.endpoints and c.requests >= config.min_requests),
                  key=lambda item: (-item[1].requests, item[0]))
    out = []
    for name, counts in only:
        reason = Reason(
            signal=Signal.ERROR_RATE, failed=False, endpoint=name,
            summary=(f"{name} appears only in {version}: {counts.requests} requests, "
                     f"{counts.errors} errors"),
            canary_count=counts.requests,
            details=(("only_in", version), ("requests", counts.requests),
                     ("errors", counts.errors)))
        out.append(SignalResult(key=f"only_in:{version}:{name}", p_value=1.0, min_p_value=1.0,
                                can_fail=False, effect_ok=False, reason=reason, notable=True))
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
    enough = m >= config.latency_min_requests and n >= config.latency_min_requests
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

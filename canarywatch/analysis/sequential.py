"""Always-valid count tests: a mixture sequential probability ratio test on the conditional
binomial, over everything since the canary's first event.

Each occurrence of a template (or each failed request of an endpoint) in either cohort is one
trial "was it the canary's?", with probability ``p0`` (the canary's traffic share) under the
null that the canary is no worse. Against the alternatives ``p > p0`` the likelihood ratio,
mixed over a prior on ``p`` fixed in advance, is a nonnegative martingale under the null, so
by Ville's inequality ``P(sup_t LR_t >= 1/a) <= a``: the p-value ``min(1, 1/LR)`` is valid at
every look, however often the judge looks and whenever it stops (Robbins 1970, "Statistical
methods related to the law of the iterated logarithm"; Johari, Koomen, Pekelis and Walsh
2017, "Peeking at A/B tests", the mSPRT; Howard, Ramdas, McAuliffe and Sekhon 2021,
"Time-uniform, nonparametric, nonasymptotic confidence sequences"). No spending over looks
and no persistence rule is needed: a look costs nothing.

The prior is half a point mass at ``p = 1`` (a signature only the canary writes: a new error)
and half uniform on ``[p0, 1]`` (a rise of something both cohorts write), so

    LR(c, b) = 1/2 * [b == 0] * p0**-c
               + 1/2 * B(c + 1, b + 1) * P(Bin(c + b + 1, p0) <= c) / ((1 - p0) * L0)

with ``L0 = p0**c * (1 - p0)**b``, for ``c`` canary and ``b`` baseline trials. Every part of
the prior lies in the alternative, so the ratio is also a supermartingale when the canary's
share is below ``p0`` (a canary with fewer errors gives no evidence). Counts are
exchangeable under both hypotheses, so the ratio is a function of the totals alone: it is
computed from the summaries, at any look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace

from canarywatch.analysis.base import SignalResult
from canarywatch.analysis.logs import (
    DETAIL_P,
    TemplateInfo,
    failing_severities,
    light_reason,
    log_signals,
)
from canarywatch.analysis.spans import error_rate_result
from canarywatch.analysis.stats import binom_sf
from canarywatch.analysis.windows import Summary
from canarywatch.config import AnalysisConfig

NEW_SIGNATURE_WEIGHT = 0.5  # the prior's mass at p = 1
_MAX_LOG = 700.0


def log_mixture_lr(canary: int, baseline: int, share: float) -> float:
    """log LR of ``canary`` of ``canary + baseline`` trials being the canary's, share ``p0``.

    ``share`` in (0, 1); returns -inf..+inf (natural log).
    """
    if not 0.0 < share < 1.0:
        return 0.0
    c, b = canary, baseline
    log_null = c * math.log(share) + b * math.log1p(-share)
    log_beta = math.lgamma(c + 1) + math.lgamma(b + 1) - math.lgamma(c + b + 2)
    # The uniform part lives on [p0, 1] only (density 1/(1-p0)): the integral of
    # p^c (1-p)^b from p0 to 1 is B(c+1, b+1) * P(Binomial(c+b+1, p0) <= c).
    upper = 1.0 - binom_sf(c + 1, c + b + 1, share)
    terms = [] if upper <= 0.0 else [
        math.log(1.0 - NEW_SIGNATURE_WEIGHT) + log_beta + math.log(upper)
        - math.log1p(-share) - log_null]
    if b == 0:
        terms.append(math.log(NEW_SIGNATURE_WEIGHT) - log_null)
    if not terms:
        return -math.inf
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def always_valid_p(canary: int, baseline: int, share: float) -> float:
    """``min(1, 1/LR)``: the mSPRT's always-valid p-value."""
    return math.exp(-min(_MAX_LOG, max(0.0, log_mixture_lr(canary, baseline, share))))


def min_always_valid_p(trials: int, share: float) -> float:
    """The smallest always-valid p-value ``trials`` trials can give (all of them canary's)."""
    return always_valid_p(trials, 0, share) if trials > 0 else 1.0


def _sequential(result: SignalResult, canary: int, baseline: int, share: float,
                severe: bool = True) -> SignalResult:
    """The same hypothesis and evidence, tested with the mSPRT on everything so far."""
    p_value = always_valid_p(canary, baseline, share)
    reason = replace(result.reason, p_value=p_value, details=(
        *result.reason.details, ("test", "mSPRT (always valid)"), ("since_start", True)))
    return replace(result, key=f"{result.key}@seq", p_value=p_value,
                   min_p_value=min_always_valid_p(canary + baseline, share) if severe else 1.0,
                   reason=reason, always_valid=True, notable=False)


def sequential_signals(canary: Summary, baseline: Summary, book: dict[int, TemplateInfo], *,
                       canary_version: str, baseline_version: str, config: AnalysisConfig,
                       template_text: Callable[[int], str],
                       per_endpoint: Iterable[tuple[str, dict[int, int], dict[int, int], float]],
                       ) -> list[SignalResult]:
    """Always-valid tests of every failing-severity template (for the service and per
    endpoint) and of every shared endpoint's error count, on summaries since the start.

    The thin-data rule is the share: both cohorts need ``min_requests`` requests (or
    ``min_template_count`` lines) before the traffic share is trusted.
    """
    out: list[SignalResult] = []
    rc, rb = canary.requests, baseline.requests
    if rc >= config.min_requests and rb >= config.min_requests:
        share = rc / (rc + rb)
    elif canary.logs >= config.min_template_count and baseline.logs >= config.min_template_count:
        share = canary.logs / (canary.logs + baseline.logs)
    else:
        return out
    groups = [(None, canary.templates, baseline.templates, share), *(
        (endpoint, c, b, s) for endpoint, c, b, s in per_endpoint
        if canary.endpoints[endpoint].requests >= config.min_requests
        and baseline.endpoints[endpoint].requests >= config.min_requests)]
    failing = failing_severities(config)
    for endpoint, c_lines, b_lines, group_share in groups:
        for tid, c in c_lines.items():
            info = book.get(tid)
            if info is None or c <= 0 or info.severity not in failing:
                continue
            b = b_lines.get(tid, 0)
            p_value = always_valid_p(c, b, group_share)
            if p_value > DETAIL_P:  # far from failing: counts only (see logs.DETAIL_P)
                key = f"template:{tid}" if endpoint is None else f"template:{tid}:{endpoint}"
                out.append(SignalResult(
                    key=f"{key}@seq", p_value=p_value,
                    min_p_value=min_always_valid_p(c + b, group_share), can_fail=True,
                    effect_ok=False, reason=light_reason(tid, endpoint, c, b, p_value),
                    always_valid=True))
                continue
            for r in log_signals({tid: c}, {tid: b}, book, group_share,
                                 baseline_version=baseline_version,
                                 canary_version=canary_version, config=config,
                                 template_text=template_text, endpoint=endpoint):
                out.append(replace(_sequential(r, c, b, group_share), can_fail=True))
    for name, counts in sorted(canary.endpoints.items()):
        other = baseline.endpoints.get(name)
        if other is None or counts.errors == 0:
            continue
        if counts.requests < config.min_requests or other.requests < config.min_requests:
            continue
        r = error_rate_result(name, counts, other, canary_version=canary_version,
                              baseline_version=baseline_version, config=config)
        ep_share = counts.requests / (counts.requests + other.requests)
        out.append(_sequential(r, counts.errors, other.errors, ep_share))
    return out


__all__ = ["always_valid_p", "log_mixture_lr", "min_always_valid_p", "sequential_signals"]

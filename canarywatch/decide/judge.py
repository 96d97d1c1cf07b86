"""Combine one look's signal results into a verdict, controlling false alarms across looks.

The budget ``alpha`` per canary is split in two families (``always_valid_share``):

- Always-valid tests (``SignalResult.always_valid``, the mSPRT count tests of
  :mod:`canarywatch.analysis.sequential`): their p-values hold at every look at once (Ville's
  inequality), so their share is not spent over looks and a failing one rolls back at once,
  with no persistence. Within the family, Tarone's refinement below.
- Windowed tests (fixed-sample tests on the sliding windows), in three layers:

  1. Across looks: their budget is spent evenly over ``alpha_horizon_s`` of event time, so one
     look may spend ``alpha * evaluation_interval_s / alpha_horizon_s`` (Bonferroni over looks;
     conservative, since overlapping windows make looks correlated).
  2. Across tests within a look: Tarone's refinement of Bonferroni (Tarone 1990, "A modified
     Bonferroni method for discrete data"). A discrete test whose smallest reachable p-value
     is above the threshold (a template seen 3 times) cannot fail and does not dilute the
     others; the threshold is ``look_alpha / k`` for the smallest k such that at most k tests
     can reach it.
  3. Persistence: a rollback needs ``persistence`` consecutive looks with a failing test,
     unless a test's p-value is below ``threshold * immediate_factor`` (under no fault that
     happens with at most ``immediate_factor`` times the look's budget).

Tarone's count is taken afresh at each look; always-valid tests become reachable as their
trials accumulate, so the family's error is bounded by the sum of ``alpha / k`` over the order
in which tests became reachable, not by ``alpha`` alone: the false-alarm rate is what
``benchmarks/detection.py`` measures on same-code runs.

A test fails only when its p-value is under its family's threshold AND its effect-size gates
pass AND it has enough data; otherwise the canary continues. Rollback is sticky.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from canarywatch.analysis.base import SignalResult
from canarywatch.config import AnalysisConfig
from canarywatch.events import NOT_ENOUGH_DATA, Action, Reason, Signal, Verdict


@dataclass(frozen=True, slots=True)
class LookState:
    """What the judge remembers about one canary between looks."""

    looks: int = 0
    streak: int = 0  # consecutive looks with at least one failing test
    rollback: Verdict | None = None  # set once; a router may already have acted on it


@dataclass(frozen=True, slots=True)
class Exposure:
    """How much the canary has been seen, for the thin-data and promote rules."""

    canary_requests: int  # inside the window
    canary_logs: int  # inside the window
    canary_age_s: float  # event time since the canary's first event


def look_alpha(config: AnalysisConfig) -> float:
    """The part of the windowed tests' false-alarm budget one look may spend."""
    return (config.alpha * (1.0 - config.always_valid_share)
            * min(1.0, config.evaluation_interval_s / config.alpha_horizon_s))


def tarone_threshold(min_p_values: Sequence[float], alpha: float) -> tuple[float, int]:
    """Per-test threshold ``alpha / k`` and k, counting only tests able to reach it."""
    ordered = sorted(min_p_values)
    k = 1
    while True:
        limit = alpha / k
        reachable = sum(1 for p in ordered if p <= limit)
        if reachable <= k:
            return limit, k
        k += 1


def decide(service: str, baseline_version: str, canary_version: str, now_unix_nano: int, *,
           results: Sequence[SignalResult], exposure: Exposure, state: LookState,
           config: AnalysisConfig) -> tuple[Verdict, LookState]:
    """The verdict for this look and the judge's state for the next one."""
    windowed = [r for r in results if not r.always_valid]
    threshold, tests = tarone_threshold(
        [r.min_p_value for r in windowed if r.can_fail], look_alpha(config))
    failing = [r for r in windowed if r.can_fail and r.effect_ok and r.p_value <= threshold]
    streak = state.streak + 1 if failing else 0
    valid = [r for r in results if r.always_valid]
    av_threshold, av_tests = tarone_threshold(
        [r.min_p_value for r in valid if r.can_fail], config.alpha * config.always_valid_share)
    av_failing = [r for r in valid if r.can_fail and r.effect_ok and r.p_value <= av_threshold]
    failed_keys = {r.key for r in (*failing, *av_failing)}
    reasons = _reasons(results, failed_keys, thresholds={False: (threshold, tests),
                                                         True: (av_threshold, av_tests)},
                       exposure=exposure, config=config)
    if state.rollback is not None:
        # Sticky: the decision and its time stand; evidence found since is added to it.
        known = {_identity(r) for r in state.rollback.reasons}
        new = [r for r in reasons if r.failed and _identity(r) not in known]
        merged = (*state.rollback.reasons, *new)[: config.max_reasons]
        kept = replace(state.rollback, reasons=merged)
        return kept, LookState(state.looks + 1, streak, kept)
    score = _score(results, {False: threshold, True: av_threshold})
    overwhelming = bool(av_failing) or any(
        r.p_value <= threshold * config.immediate_factor for r in failing)
    compared = any(r.can_fail for r in results)
    if streak >= config.persistence or overwhelming:
        action = Action.ROLLBACK
        score = 0.0
    elif (not failing and not av_failing and compared
          and exposure.canary_age_s >= config.promote_after_s and _enough(exposure, config)):
        action = Action.PROMOTE
    else:
        action = Action.CONTINUE
        reasons = _honest_continue(reasons, results, failing=bool(failing), streak=streak,
                                   exposure=exposure, config=config)
    verdict = Verdict(service, baseline_version, canary_version, action, now_unix_nano,
                      score, reasons)
    return verdict, LookState(state.looks + 1, streak,
                              verdict if action is Action.ROLLBACK else None)


def _honest_continue(reasons: tuple[Reason, ...], results: Sequence[SignalResult], *,
                     failing: bool, streak: int, exposure: Exposure,
                     config: AnalysisConfig) -> tuple[Reason, ...]:
    """A `continue` for a canary with traffic always says why: no comparison possible (no
    endpoint both cohorts served, or every test short of data), a failing test waiting for
    persistence, or nothing wrong yet before promote_after_s."""
    if exposure.canary_requests == 0 and exposure.canary_logs == 0:
        return reasons
    summary = None
    if not any(r.can_fail for r in results) and _enough(exposure, config):
        spans = [r for r in results if r.reason.signal is not Signal.LOG_SIGNATURE
                 and r.key.startswith(("error_rate:", "latency:"))]
        traffic = (f"{exposure.canary_requests} canary requests" if exposure.canary_requests
                   else f"{exposure.canary_logs} canary log lines and no canary request yet")
        summary = (
            f"no comparison possible yet ({traffic}): no "
            + ("endpoint is served by both cohorts" if not spans else
               f"endpoint or template has enough data in both cohorts (an endpoint needs "
               f"{config.min_requests} requests in each)"))
    elif not reasons:
        summary = (f"a test fails, {streak} of {config.persistence} looks in a row needed"
                   if failing else
                   f"nothing wrong found so far; promote needs {config.promote_after_s:g} s "
                   f"of canary traffic (now {exposure.canary_age_s:.0f} s)")
    if summary is None:
        return reasons
    extra = Reason(signal=Signal.ERROR_RATE, failed=False,
                   canary_count=exposure.canary_requests, summary=summary)
    return (extra, *reasons)[: config.max_reasons]


def _enough(exposure: Exposure, config: AnalysisConfig) -> bool:
    return (exposure.canary_requests >= config.min_requests
            or exposure.canary_logs >= config.min_template_count)


def _strength(result: SignalResult, threshold: float) -> float:
    """0 (no evidence) .. 1 (at the threshold) for a test that could fail the canary."""
    if not result.can_fail or result.p_value >= 1.0:
        return 0.0
    if result.p_value <= 0.0:
        strength = 1.0
    else:
        strength = min(1.0, math.log(result.p_value) / math.log(threshold))
    return strength if result.effect_ok else 0.5 * strength


def _score(results: Sequence[SignalResult], thresholds: dict[bool, float]) -> float:
    worst = max((_strength(r, thresholds[r.always_valid]) for r in results), default=0.0)
    return round(1.0 - worst, 4)


def _reasons(results: Sequence[SignalResult], failed_keys: set[str], *,
             thresholds: dict[bool, tuple[float, int]], exposure: Exposure,
             config: AnalysisConfig) -> tuple[Reason, ...]:
    """Failing reasons first (each with its family's threshold and test count), then the
    notable ones and those under their threshold but short of the gates."""
    failed = sorted((r for r in results if r.key in failed_keys), key=lambda r: r.p_value)
    others = sorted((r for r in results if r.key not in failed_keys
                     and (r.notable or (r.can_fail
                                        and r.p_value <= thresholds[r.always_valid][0]))),
                    key=lambda r: r.p_value)
    out: list[Reason] = []
    for r in failed:
        threshold, tests = thresholds[r.always_valid]
        out.append(replace(r.reason, failed=True,
                           details=(*r.reason.details, ("threshold", threshold),
                                    ("tests", tests))))
    if not _enough(exposure, config):
        out.append(Reason(
            signal=Signal.ERROR_RATE, failed=False, canary_count=exposure.canary_requests,
            details=(("canary_logs", exposure.canary_logs),),
            summary=(f"{NOT_ENOUGH_DATA}: {exposure.canary_requests} requests and "
                     f"{exposure.canary_logs} log lines in the window (needs "
                     f"{config.min_requests} requests or {config.min_template_count} lines)")))
    seen: set[tuple[object, ...]] = set()
    unique: list[Reason] = []
    for reason in [*out, *(r.reason for r in others)]:
        what = (*_identity(reason), reason.failed)
        if (reason.endpoint is None and reason.template_id is None) or what not in seen:
            seen.add(what)
            unique.append(reason)
    return tuple(unique[: config.max_reasons])


def _identity(reason: Reason) -> tuple[object, ...]:
    """What a reason is about: its signal and its endpoint and/or template."""
    return (reason.signal, reason.endpoint, reason.template_id)

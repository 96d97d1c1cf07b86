"""Tests of the judge: per-look threshold, persistence, gates, thin data, sticky rollback."""

from __future__ import annotations

import pytest

from canarywatch.analysis.base import SignalResult
from canarywatch.config import AnalysisConfig
from canarywatch.decide import Exposure, LookState, decide, look_alpha, tarone_threshold
from canarywatch.events import Action, Reason, Signal, Verdict

ENOUGH = Exposure(canary_requests=1000, canary_logs=2000, canary_age_s=60.0)


def _result(key: str, p: float, *, min_p: float = 0.0, can_fail: bool = True,
            effect_ok: bool = True) -> SignalResult:
    reason = Reason(Signal.ERROR_RATE, f"{key} looks bad", False, p_value=p, endpoint=key)
    return SignalResult(key, p, min_p, can_fail, effect_ok, reason)


def _look(results: list[SignalResult], state: LookState, config: AnalysisConfig | None = None,
          exposure: Exposure = ENOUGH) -> tuple[Verdict, LookState]:
    return decide("shop", "1.0", "2.0", 10, results=results, exposure=exposure, state=state,
                  config=config or AnalysisConfig())


def test_look_alpha_spreads_alpha_over_the_horizon() -> None:
    """Each look spends the windowed tests' share of alpha * interval / horizon."""
    config = AnalysisConfig(alpha=0.01, evaluation_interval_s=10, alpha_horizon_s=600,
                            always_valid_share=0.0)
    assert look_alpha(config) == pytest.approx(0.01 / 60)
    half = AnalysisConfig(alpha=0.01, evaluation_interval_s=10, alpha_horizon_s=600,
                          always_valid_share=0.5)
    assert look_alpha(half) == pytest.approx(0.005 / 60)


def _valid(key: str, p: float, *, min_p: float = 0.0, effect_ok: bool = True) -> SignalResult:
    reason = Reason(Signal.LOG_SIGNATURE, f"{key} is new", False, p_value=p, template_id=7)
    return SignalResult(key, p, min_p, True, effect_ok, reason, always_valid=True)


def test_a_failing_always_valid_test_rolls_back_on_the_first_look() -> None:
    """An always-valid p-value under its family's alpha share rolls back with no persistence,
    at a p-value the windowed tests' per-look threshold would not accept."""
    config = AnalysisConfig(alpha=0.01, always_valid_share=0.5)
    verdict, _ = _look([_valid("template:7@seq", 1e-3)], LookState(), config)
    assert verdict.action is Action.ROLLBACK
    assert verdict.reasons[0].failed
    assert dict(verdict.reasons[0].details)["threshold"] == pytest.approx(0.005)
    windowed, _ = _look([_result("GET /cart", 1e-3)], LookState(), config)
    assert windowed.action is Action.CONTINUE


def test_always_valid_tests_share_their_alpha_only_among_themselves() -> None:
    """Tarone within the always-valid family: two reachable tests halve its threshold; the
    windowed tests do not dilute it; a failed effect gate blocks the rollback."""
    config = AnalysisConfig(alpha=0.01, always_valid_share=0.5)
    two = [_valid("a@seq", 3e-3), _valid("b@seq", 0.5)]
    verdict, _ = _look(two, LookState(), config)
    assert verdict.action is Action.CONTINUE  # 3e-3 > 0.005 / 2
    crowd = [_valid("a@seq", 3e-3), _valid("b@seq", 0.5, min_p=0.9),
             *(_result(f"e{i}", 0.5) for i in range(50))]
    verdict, _ = _look(crowd, LookState(), config)
    assert verdict.action is Action.ROLLBACK
    gated, _ = _look([_valid("a@seq", 1e-6, effect_ok=False)], LookState(), config)
    assert gated.action is Action.CONTINUE


def test_tarone_ignores_tests_that_cannot_reach_significance() -> None:
    """Tests whose smallest p-value is above alpha/k do not count among the k."""
    assert tarone_threshold([0.5] * 100, 0.01) == (0.01, 1)
    assert tarone_threshold([1e-9] * 4 + [0.5] * 100, 0.01) == (0.0025, 4)
    assert tarone_threshold([], 0.01) == (0.01, 1)


def test_rollback_needs_persistence_consecutive_failing_looks() -> None:
    """One failing look continues; the second in a row rolls back with failed reasons."""
    bad = [_result("GET /cart", 1e-5)]
    first, state = _look(bad, LookState())
    assert first.action is Action.CONTINUE and state.streak == 1
    second, state = _look(bad, state)
    assert second.action is Action.ROLLBACK and second.score == 0.0
    assert second.reasons[0].failed and second.reasons[0].endpoint == "GET /cart"


def test_a_healthy_look_resets_the_streak() -> None:
    """A failing look followed by a healthy one starts the count again."""
    _, state = _look([_result("a", 1e-5)], LookState())
    _, state = _look([_result("a", 0.4)], state)
    verdict, state = _look([_result("a", 1e-5)], state)
    assert verdict.action is Action.CONTINUE and state.streak == 1


def test_effect_gate_and_thin_data_block_a_rollback() -> None:
    """A tiny p-value with a failed effect gate, or without enough data, never rolls back."""
    state = LookState()
    for _ in range(5):
        verdict, state = _look([_result("a", 1e-15, effect_ok=False),
                                _result("b", 1e-15, can_fail=False)], state)
        assert verdict.action is Action.CONTINUE
    assert 0.0 < verdict.score < 1.0


def test_promote_after_enough_time_and_traffic_without_failures() -> None:
    """Old enough, enough requests, nothing failing: promote; too little traffic: continue."""
    config = AnalysisConfig(promote_after_s=60)
    verdict, _ = _look([_result("a", 0.3)], LookState(), config)
    assert verdict.action is Action.PROMOTE
    thin = Exposure(canary_requests=3, canary_logs=2, canary_age_s=600.0)
    verdict, _ = _look([_result("a", 0.3)], LookState(), config, thin)
    assert verdict.action is Action.CONTINUE
    assert "not enough canary data" in verdict.reasons[0].summary


def test_rollback_is_sticky() -> None:
    """After a rollback, healthy looks return the same rollback verdict."""
    state = LookState()
    for _ in range(2):
        verdict, state = _look([_result("a", 1e-5)], state)
    again, state = _look([_result("a", 0.9)], state)
    assert again == verdict and again.action is Action.ROLLBACK


def test_overwhelming_evidence_rolls_back_on_the_first_look() -> None:
    """A p-value far below the threshold (x immediate_factor) needs no second look."""
    config = AnalysisConfig(immediate_factor=0.01)
    threshold, _ = tarone_threshold([0.0], look_alpha(config))
    verdict, _ = _look([_result("a", threshold * 0.001)], LookState(), config)
    assert verdict.action is Action.ROLLBACK
    verdict, _ = _look([_result("a", threshold * 0.5)], LookState(), config)
    assert verdict.action is Action.CONTINUE


def test_evidence_found_after_a_rollback_is_added_to_it() -> None:
    """After the rollback, a newly failing signal joins its reasons; action and time stand."""
    state = LookState()
    for _ in range(2):
        verdict, state = _look([_result("a", 1e-5)], state)
    later, _ = decide("shop", "1.0", "2.0", 99, results=[_result("b", 1e-5)],
                      exposure=ENOUGH, state=state, config=AnalysisConfig())
    assert later.action is Action.ROLLBACK and later.at_unix_nano == verdict.at_unix_nano
    assert [r.endpoint for r in later.reasons if r.failed] == ["a", "b"]

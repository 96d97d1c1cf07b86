"""Tests of the Analyzer on synthetic tagged streams: what rolls back, what does not."""

from __future__ import annotations

import json

from synth import T0, Run, first_rollback_s

from canarywatch.analysis import Analyzer
from canarywatch.config import AnalysisConfig
from canarywatch.events import Action, Signal, Verdict


def _play(run: Run, **overrides: object) -> list[Verdict]:
    return run.play(Analyzer(AnalysisConfig.model_validate(overrides)))


def test_same_code_never_rolls_back_and_promotes_after_promote_after_s() -> None:
    """Identical cohorts: no rollback over 5 seeds; promote once promote_after_s has passed."""
    for seed in range(5):
        verdicts = _play(Run(seed=seed, duration_s=200), promote_after_s=150)
        assert first_rollback_s(verdicts) is None
        assert verdicts[-1].action is Action.PROMOTE
        assert all(v.action is Action.CONTINUE for v in verdicts[:13])


def test_new_error_template_rolls_back_with_evidence() -> None:
    """A new ERROR line in 10% of canary requests: rollback within a minute, with evidence."""
    run = Run(seed=2, duration_s=240, new_error=lambda canary, t: 0.1 if canary and t > 120 else 0)
    verdicts = _play(run)
    at = first_rollback_s(verdicts)
    assert at is not None and 120 < at <= 180
    reason = next(r for r in verdicts[-1].reasons if r.failed)
    assert reason.signal is Signal.LOG_SIGNATURE
    assert reason.template == "NullPointerException in pay"
    assert reason.baseline_count == 0 and reason.canary_count >= 5
    data = reason.to_json()
    assert data["class"] == "new"
    examples = data["examples"]
    assert isinstance(examples, list) and examples
    assert all(len(e["trace_id"]) == 32 for e in examples)


def test_error_rate_rise_rolls_back_on_error_rate() -> None:
    """+10% 5xx in the canary: rollback with a failing error_rate reason."""
    run = Run(seed=3, duration_s=240,
              error_boost=lambda canary, t: 0.1 if canary and t > 120 else 0)
    verdicts = _play(run)
    assert first_rollback_s(verdicts) is not None
    failed = [r for r in verdicts[-1].reasons if r.failed and r.signal is Signal.ERROR_RATE]
    assert failed
    traces = failed[0].to_json()["canary_error_trace_ids"]
    assert isinstance(traces, list) and traces and all(len(t) == 32 for t in traces)


def test_latency_shift_rolls_back_on_latency() -> None:
    """Canary durations x1.6: rollback with a failing latency reason and its ratio."""
    run = Run(seed=4, duration_s=240,
              latency_factor=lambda canary, t: 1.6 if canary and t > 120 else 1.0)
    verdicts = _play(run)
    assert first_rollback_s(verdicts) is not None
    latency = [r for r in verdicts[-1].reasons if r.failed and r.signal is Signal.LATENCY]
    assert latency and all(r.effect_size is not None and r.effect_size > 1.2 for r in latency)
    slowest = latency[0].to_json()["canary_slowest"]
    assert isinstance(slowest, list) and len(slowest) == 3
    assert slowest[0]["duration_ms"] >= slowest[-1]["duration_ms"]


def test_outage_shared_by_both_cohorts_is_not_blamed_on_the_canary() -> None:
    """20% errors in both cohorts for 100 s: no rollback."""
    for seed in range(3):
        run = Run(seed=seed, duration_s=300,
                  error_boost=lambda canary, t: 0.2 if 120 < t < 220 else 0)
        assert first_rollback_s(_play(run)) is None


def test_faster_canary_and_new_info_template_do_not_roll_back() -> None:
    """A faster canary and a new INFO template are reported, never punished."""
    run = Run(seed=6, duration_s=200, latency_factor=lambda canary, t: 0.6 if canary else 1.0,
              new_info=lambda canary, t: 0.5 if canary else 0.0)
    verdicts = _play(run)
    assert first_rollback_s(verdicts) is None
    notes = [r for r in verdicts[-1].reasons if r.signal is Signal.LOG_SIGNATURE]
    assert any(r.template == "cache warmed" and not r.failed for r in notes)


def test_thin_data_continues_even_when_every_canary_request_fails() -> None:
    """A canary with a handful of requests, all failing, gets continue, not rollback."""
    run = Run(seed=7, duration_s=200, rps=2.0, canary_share=0.05,
              error_boost=lambda canary, t: 1.0 if canary else 0.0)
    verdicts = _play(run, min_template_count=50)
    assert first_rollback_s(verdicts) is None
    assert any("not enough canary data" in r.summary for r in verdicts[-1].reasons)


def test_rollback_is_sticky_after_the_fault_stops() -> None:
    """Once rolled back, the canary stays rolled back although the fault went away."""
    run = Run(seed=8, duration_s=400,
              new_error=lambda canary, t: 0.3 if canary and 60 < t < 120 else 0.0)
    verdicts = _play(run)
    at = first_rollback_s(verdicts)
    assert at is not None and at < 150
    assert all(v.action is Action.ROLLBACK for v in verdicts if (v.at_unix_nano - T0) / 1e9 >= at)


def test_snapshot_is_json_and_restores_the_same_decisions() -> None:
    """A restored analyzer, fed the rest of the stream, decides exactly like the original."""
    fault = Run(seed=9, duration_s=240,
                error_boost=lambda canary, t: 0.1 if canary and t > 150 else 0.0)
    events = list(fault.events())
    config = AnalysisConfig()
    original, copy = Analyzer(config), Analyzer(config)
    half = len(events) // 2
    for item in events[:half]:
        if isinstance(item, tuple):
            original.observe_log(*item)
        else:
            original.observe_span(item)
    copy.restore(json.loads(json.dumps(original.snapshot())))
    for item in events[half:]:
        for analyzer in (original, copy):
            if isinstance(item, tuple):
                analyzer.observe_log(*item)
            else:
                analyzer.observe_span(item)
    now = T0 + 240 * 1_000_000_000
    a = original.evaluate("shop", "1.0", "2.0", now, str)
    b = copy.evaluate("shop", "1.0", "2.0", now, str)
    assert a == b


def test_known_error_on_one_endpoint_is_tested_on_that_endpoint() -> None:
    """A known ERROR grown on one endpoint fails its per-endpoint template test."""
    run = Run(seed=10, duration_s=240, error_endpoint="POST /checkout",
              error_boost=lambda canary, t: 0.15 if canary and t > 120 else 0.0)
    verdicts = _play(run)
    assert first_rollback_s(verdicts) is not None
    per_endpoint = [r for v in verdicts for r in v.reasons
                    if r.failed and r.signal is Signal.LOG_SIGNATURE and r.endpoint]
    assert per_endpoint
    assert {(r.template, r.endpoint) for r in per_endpoint} == {
        ("upstream failed", "POST /checkout")}


def test_logs_without_spans_do_not_pile_up_waiting_for_their_trace() -> None:
    """A logs-only feed (trace ids whose spans never arrive) keeps bounded join state."""
    from canarywatch.events import LogEvent, Severity, TemplateMatch

    analyzer = Analyzer(AnalysisConfig(log_join_wait_s=30.0))
    match = TemplateMatch(1, "request served in <*> ms", False)
    for i in range(20_000):  # 1,000 s of one line every 50 ms, each from its own trace
        ev = LogEvent("svc", "1.0", T0 + i * 50_000_000, Severity.INFO, "served",
                      trace_id=f"{i:032x}")
        analyzer.observe_log(ev, match)
    waiting = analyzer.snapshot()["join"]["pending"]
    assert len(waiting) <= 30 * 20 + 200  # about one wait period of lines, not all 20,000

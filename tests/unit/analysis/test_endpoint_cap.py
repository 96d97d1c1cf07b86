"""Bounded endpoint cardinality: at most max_endpoints_per_service names, the rest `other`."""

from __future__ import annotations

import logging
import random

import pytest
from synth import NS, T0

from canarywatch.analysis import Analyzer
from canarywatch.analysis.endpoint_cap import OTHER, EndpointCap
from canarywatch.config import AnalysisConfig
from canarywatch.events import Action, Signal


def test_first_names_kept_then_folded_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Past the limit new names fold into `other`, and the log says so once."""
    cap = EndpointCap("shop", 3)
    with caplog.at_level(logging.WARNING):
        assert [cap.endpoint(n) for n in ("a", "b", "c", "d", "e", "a")] == [
            "a", "b", "c", OTHER, OTHER, "a"]
    assert cap.folded_requests == 2
    assert [r.getMessage() for r in caplog.records].count(
        "shop: more than 3 endpoints; the least-trafficked are counted as 'other' "
        "(analysis.max_endpoints_per_service)") == 1


def test_a_busy_late_endpoint_displaces_the_least_trafficked() -> None:
    """A folded name with more than twice the lightest kept endpoint's traffic takes its place."""
    cap = EndpointCap("shop", 2)
    for _ in range(100):
        cap.endpoint("heavy")
    cap.endpoint("light")
    found = [cap.endpoint("late") for _ in range(8)]
    assert found[-1] == "late" and set(found[:-1]) == {OTHER}
    assert set(cap.kept) == {"heavy", "late"}
    assert cap.endpoint("light") == OTHER


def test_cap_state_survives_a_snapshot() -> None:
    """Kept names and fold counts come back from the JSON snapshot."""
    cap = EndpointCap("shop", 2)
    for name in ("a", "b", "c", "a"):
        cap.endpoint(name)
    again = EndpointCap.from_json("shop", 2, cap.to_json())
    assert again.kept == cap.kept and again.folded_requests == 1
    assert again.endpoint("c") == OTHER


def test_hundred_thousand_raw_paths_stay_bounded_and_the_verdict_comes() -> None:
    """100,000 distinct raw paths: endpoints stay at the bound, a fault still rolls back."""
    limit = 200
    analyzer = Analyzer(AnalysisConfig(max_endpoints_per_service=limit))
    rng = random.Random(7)
    duration_s, n_raw = 300.0, 100_000
    raw_times = sorted(rng.uniform(0, duration_s) for _ in range(n_raw))
    busy_times = [i * 0.02 for i in range(int(duration_s / 0.02))]  # 50 req/s on GET /cart
    events = sorted([(t, f"GET /search/{i:x}z") for i, t in enumerate(raw_times)]
                    + [(t, "GET /cart") for t in busy_times])
    next_eval, verdicts, biggest_summary = T0 + 10 * NS, [], 0
    for t_s, endpoint in events:
        start = T0 + int(t_s * NS)
        while start >= next_eval:
            verdicts.append(analyzer.evaluate("shop", "1.0", "2.0", next_eval, str))
            snapshot = analyzer.snapshot()["windows"]
            biggest_summary = max(biggest_summary, *(len(slot["endpoints"]) for _, _, w in
                                                     snapshot for slot in w["slots"].values()))
            next_eval += 10 * NS
        canary = rng.random() < 0.1
        fault = canary and endpoint == "GET /cart" and t_s > 100 and rng.random() < 0.1
        analyzer.observe_request("shop", "2.0" if canary else "1.0", endpoint, start,
                                 start + 20_000_000, fault, 500 if fault else 200, "")
    kept, folded = analyzer.endpoint_counts()["shop"]
    assert kept == limit
    assert folded >= n_raw - limit
    assert biggest_summary <= limit + 1  # the kept names and `other`, in every window slot
    assert verdicts[-1].action is Action.ROLLBACK
    assert any(r.failed and r.signal is Signal.ERROR_RATE and r.endpoint == "GET /cart"
               for r in verdicts[-1].reasons)

"""Flagger's built-in canary analysis, as its documentation describes it.

Every ``interval`` the canary alone is checked against absolute limits, computed over that
interval: request success rate >= 99% (``request-success-rate``) and p99 request duration
<= 500 ms (``request-duration``). A check that finds no data fails. Each failed check adds to
the failed-checks counter; when it reaches ``threshold`` the canary is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

from canarywatch.analysis.histogram import Histogram
from judges.metrics import StepMetrics


@dataclass(frozen=True, slots=True)
class FlaggerConfig:
    interval_s: float = 60.0
    threshold: int = 5
    min_success_rate_pct: float = 99.0
    max_p99_ms: float = 500.0


def flagger_rollback_s(metrics: StepMetrics, canary: str, duration_s: float,
                       config: FlaggerConfig = FlaggerConfig()) -> float | None:
    """Seconds after the start at which Flagger rolls back, or None."""
    per_interval = round(config.interval_s * 1e9 / metrics.step_ns)
    failed = 0
    end = per_interval
    while end * metrics.step_ns <= duration_s * 1e9:
        steps = metrics.series(canary, end - per_interval, end)
        requests = sum(s.requests for s in steps)
        ok = False
        if requests > 0:
            success_pct = 100.0 * (1.0 - sum(s.errors for s in steps) / requests)
            p99 = Histogram.merged(s.latency for s in steps).quantile_ms(0.99)
            ok = success_pct >= config.min_success_rate_pct and p99 <= config.max_p99_ms
        if not ok:
            failed += 1
            if failed >= config.threshold:
                return end * metrics.step_ns / 1e9
        end += per_interval
    return None

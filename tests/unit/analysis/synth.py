"""Synthetic tagged event streams for the analysis tests (seeded, event-time ordered)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from canarywatch.analysis import Analyzer
from canarywatch.events import LogEvent, Severity, SpanEvent, SpanKind, TemplateMatch, Verdict

NS = 1_000_000_000
T0 = 1_795_000_000 * NS
ENDPOINTS = (("GET /cart", 20.0, 0.002), ("POST /checkout", 120.0, 0.004))
TEMPLATES = {"served request": 1, "upstream failed": 2, "NullPointerException in pay": 3,
             "cache warmed": 4}


@dataclass
class Run:
    """One simulated canary release; faults are functions of (is_canary, t_s)."""

    seed: int = 0
    duration_s: float = 300.0
    rps: float = 40.0
    canary_share: float = 0.1
    error_boost: Callable[[bool, float], float] = lambda canary, t: 0.0
    latency_factor: Callable[[bool, float], float] = lambda canary, t: 1.0
    new_error: Callable[[bool, float], float] = lambda canary, t: 0.0
    new_info: Callable[[bool, float], float] = lambda canary, t: 0.0
    error_endpoint: str | None = None  # error_boost applies to this endpoint only, if set
    verdicts: list[Verdict] = field(default_factory=list)

    def events(self) -> Iterator[SpanEvent | tuple[LogEvent, TemplateMatch]]:
        rng = random.Random(self.seed)
        t = rng.expovariate(self.rps)
        while t < self.duration_s:
            canary = rng.random() < self.canary_share
            version = "2.0" if canary else "1.0"
            name, median_ms, base_err = ENDPOINTS[0 if rng.random() < 0.7 else 1]
            dur_ms = rng.lognormvariate(math.log(median_ms), 0.35) * self.latency_factor(canary, t)
            boost = self.error_boost(canary, t)
            if self.error_endpoint is not None and name != self.error_endpoint:
                boost = 0.0
            error = rng.random() < base_err + boost
            start = T0 + int(t * NS)
            end = start + int(dur_ms * 1e6)
            trace = f"{rng.getrandbits(128):032x}"
            yield SpanEvent("shop", version, name, SpanKind.SERVER, name, start, end, error,
                            500 if error else 200, trace, "00" * 8)
            yield self._log(version, end, Severity.INFO, "served request", trace)
            if error:
                yield self._log(version, end, Severity.ERROR, "upstream failed", trace)
            if rng.random() < self.new_error(canary, t):
                yield self._log(version, end, Severity.ERROR, "NullPointerException in pay",
                                trace)
            if rng.random() < self.new_info(canary, t):
                yield self._log(version, end, Severity.INFO, "cache warmed", trace)
            t += rng.expovariate(self.rps)

    @staticmethod
    def _log(version: str, at: int, severity: Severity, body: str,
             trace: str) -> tuple[LogEvent, TemplateMatch]:
        tid = TEMPLATES[body]
        return (LogEvent("shop", version, at, severity, body, trace),
                TemplateMatch(tid, body, False))

    def play(self, analyzer: Analyzer, interval_s: float = 10.0) -> list[Verdict]:
        """Feed every event, evaluating at each interval boundary; returns every verdict."""
        next_eval = T0 + int(interval_s * NS)
        for item in self.events():
            at = item.end_time_unix_nano if isinstance(item, SpanEvent) else item[0].time_unix_nano
            while at >= next_eval:
                self.verdicts.append(analyzer.evaluate("shop", "1.0", "2.0", next_eval,
                                                       _text))
                next_eval += int(interval_s * NS)
            if isinstance(item, SpanEvent):
                analyzer.observe_span(item)
            else:
                analyzer.observe_log(*item)
        return self.verdicts


def _text(template_id: int) -> str:
    return {v: k for k, v in TEMPLATES.items()}[template_id]


def first_rollback_s(verdicts: list[Verdict]) -> float | None:
    for v in verdicts:
        if v.action.value == "rollback":
            return (v.at_unix_nano - T0) / NS
    return None

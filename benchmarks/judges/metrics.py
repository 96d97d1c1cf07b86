"""Per-step metrics per version, as a Prometheus-style metrics backend would hold them.

Each ``step_s`` of event time keeps, per version: requests and 5xx/ERROR-status requests of
SERVER/CONSUMER spans, a latency histogram of their durations, and ERROR/FATAL log lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canarywatch.analysis.histogram import Histogram
from canarywatch.events import Event, LogEvent, Severity, SpanEvent

NS = 1_000_000_000


@dataclass(slots=True)
class Step:
    requests: int = 0
    errors: int = 0
    error_logs: int = 0
    latency: Histogram = field(default_factory=Histogram)


class StepMetrics:
    """Folds decoded events into steps of ``step_s`` seconds per version."""

    def __init__(self, start_unix_nano: int, step_s: float = 10.0) -> None:
        self.start_unix_nano = start_unix_nano
        self.step_ns = int(step_s * NS)
        self.steps: dict[str, dict[int, Step]] = {}

    def _step(self, version: str, t_unix_nano: int) -> Step:
        index = (t_unix_nano - self.start_unix_nano) // self.step_ns
        per_version = self.steps.setdefault(version, {})
        step = per_version.get(index)
        if step is None:
            step = per_version[index] = Step()
        return step

    def observe(self, ev: Event) -> None:
        if ev.version is None:
            return
        if isinstance(ev, SpanEvent):
            if ev.exceptions:
                self._step(ev.version, ev.end_time_unix_nano).error_logs += len(ev.exceptions)
            if not ev.is_entry:
                return
            step = self._step(ev.version, ev.end_time_unix_nano)
            step.requests += 1
            if ev.is_error or (ev.http_status is not None and ev.http_status >= 500):
                step.errors += 1
            step.latency.add(ev.duration_ms)
        elif isinstance(ev, LogEvent) and ev.severity >= Severity.ERROR:
            self._step(ev.version, ev.time_unix_nano).error_logs += 1

    def series(self, version: str, first: int, last: int) -> list[Step]:
        """Steps ``first`` .. ``last - 1`` of a version (empty steps included)."""
        per_version = self.steps.get(version, {})
        return [per_version.get(i, Step()) for i in range(first, last)]

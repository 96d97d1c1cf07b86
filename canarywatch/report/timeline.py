"""What the HTML report plots, recorded as the pipeline looks at each canary.

:class:`TimelineRecorder` is the pipeline's look observer: at every look (each
``analysis.evaluation_interval_s`` of event time) it writes down the canary's action and, for
the baseline and the canary version, every time bucket (``analysis.bucket_s``) completed since
the previous look: per endpoint the requests, errors and latency p50/p95 (from the bucket's
log histogram), and the lines per template. The same recorder serves replay (keeps everything,
halving the resolution when a series grows past ``max_points``) and the daemon (keeps the most
recent ``max_points`` buckets). :meth:`TimelineRecorder.canaries` hands out frozen copies that
the renderer reads without locks.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from canarywatch.analysis.windows import Summary
from canarywatch.events import Action, Verdict

__all__ = ["BucketPoint", "CanaryTimeline", "EndpointPoint", "LookView", "TimelineRecorder"]


class LookView(Protocol):
    """What the recorder reads from the pipeline at a look (see :class:`Pipeline`)."""

    def window_summary(self, service: str, version: str, start_unix_nano: int,
                       end_unix_nano: int) -> Summary | None: ...

    def template_text(self, service: str, template_id: int) -> str: ...

    @property
    def bucket_ns(self) -> int: ...

    @property
    def window_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class EndpointPoint:
    """One endpoint of one version during one bucket; latencies in milliseconds (NaN: none)."""

    requests: int
    errors: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class BucketPoint:
    """One version of a service during ``[start_unix_nano, start_unix_nano + width_ns)``."""

    start_unix_nano: int
    width_ns: int
    endpoints: tuple[tuple[str, EndpointPoint], ...]
    templates: tuple[tuple[int, int], ...]  # (template id, lines)


@dataclass(frozen=True, slots=True)
class CanaryTimeline:
    """Everything the report shows for one canary."""

    service: str
    baseline_version: str
    canary_version: str
    looks: tuple[tuple[int, Action, float], ...]  # (event time, action, score) per look
    changes: tuple[Verdict, ...]  # the verdicts at which the action changed
    final: Verdict
    baseline: tuple[BucketPoint, ...]
    canary: tuple[BucketPoint, ...]
    template_texts: tuple[tuple[int, str], ...]

    @property
    def decision(self) -> Verdict | None:
        """The verdict that first reached the final action, unless that is ``continue``."""
        if self.final.action is Action.CONTINUE:
            return None
        reached = self.final
        for change in self.changes:
            if change.action is self.final.action:
                reached = change
        return reached


def _point(summary: Summary, start: int, width: int) -> BucketPoint:
    endpoints = tuple(
        (name, EndpointPoint(c.requests, c.errors, c.latency.quantile_ms(0.5),
                             c.latency.quantile_ms(0.95)))
        for name, c in sorted(summary.endpoints.items()))
    return BucketPoint(start, width, endpoints, tuple(sorted(summary.templates.items())))


def _merge_pair(a: BucketPoint, b: BucketPoint) -> BucketPoint:
    """Two neighbouring buckets as one: counts add; quantiles are the request-weighted mean
    of the two (an approximation, for display only)."""
    merged: dict[str, EndpointPoint] = dict(a.endpoints)
    for name, q in b.endpoints:
        p = merged.get(name)
        if p is None:
            merged[name] = q
            continue
        n = p.requests + q.requests
        wp, wq = (p.requests / n, q.requests / n) if n else (0.5, 0.5)
        merged[name] = EndpointPoint(n, p.errors + q.errors,
                                     _wmean(p.p50_ms, q.p50_ms, wp, wq),
                                     _wmean(p.p95_ms, q.p95_ms, wp, wq))
    templates = dict(a.templates)
    for tid, n in b.templates:
        templates[tid] = templates.get(tid, 0) + n
    width = b.start_unix_nano + b.width_ns - a.start_unix_nano
    return BucketPoint(a.start_unix_nano, width, tuple(sorted(merged.items())),
                       tuple(sorted(templates.items())))


def _wmean(x: float, y: float, wx: float, wy: float) -> float:
    if math.isnan(x):  # no requests on one side
        return y
    if math.isnan(y):
        return x
    return x * wx + y * wy


class _Series:
    __slots__ = ("next_index", "points")

    def __init__(self) -> None:
        self.points: list[BucketPoint] = []
        self.next_index: int | None = None


class _Canary:
    __slots__ = ("baseline", "changes", "final", "looks", "texts")

    def __init__(self, verdict: Verdict) -> None:
        self.baseline = verdict.baseline_version
        self.looks: list[tuple[int, Action, float]] = []
        self.changes: list[Verdict] = []
        self.final = verdict
        self.texts: dict[int, str] = {}


class TimelineRecorder:
    """Look observer for :class:`~canarywatch.pipeline.Pipeline`; thread-safe reads.

    ``max_points`` bounds every series (buckets per version, looks per canary); past it a
    ``keep="all"`` recorder halves its resolution, a ``keep="recent"`` one drops the oldest.
    """

    def __init__(self, max_points: int = 2000, keep: str = "all") -> None:
        if keep not in ("all", "recent"):
            raise ValueError(f"keep must be 'all' or 'recent', not {keep!r}")
        self._max_points = max(2, max_points)
        self._keep = keep
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._canaries: dict[tuple[str, str], _Canary] = {}
        self.version = 0  # bumped on every look, so a rendered page can be reused

    def looked(self, view: LookView, now_unix_nano: int, verdict: Verdict) -> None:
        """Record one look at ``verdict``'s canary at event time ``now_unix_nano``."""
        with self._lock:
            self.version += 1
            canary = self._canaries.get(verdict.key)
            if canary is None or canary.baseline != verdict.baseline_version:
                canary = self._canaries[verdict.key] = _Canary(verdict)
            if not canary.looks or canary.final.action is not verdict.action:
                canary.changes.append(verdict)
            canary.looks.append((now_unix_nano, verdict.action, verdict.score))
            if len(canary.looks) > self._max_points:
                del canary.looks[: len(canary.looks) - self._max_points]
            canary.final = verdict
            for reason in verdict.reasons:
                if reason.template_id is not None and reason.template_id not in canary.texts:
                    canary.texts[reason.template_id] = reason.template or view.template_text(
                        verdict.service, reason.template_id)
            for version in (verdict.baseline_version, verdict.canary_version):
                self._record(view, verdict.service, version, now_unix_nano)

    def _record(self, view: LookView, service: str, version: str, now: int) -> None:
        series = self._series.setdefault((service, version), _Series())
        width = view.bucket_ns
        done = now // width  # buckets before this index are complete
        start = series.next_index
        if start is None:  # first look: everything the analysis window still holds
            start = (now - view.window_ns) // width
        start = max(start, done - self._max_points)
        for index in range(start, done):
            summary = view.window_summary(service, version, index * width, (index + 1) * width)
            if summary is None or not (summary.endpoints or summary.templates):
                continue  # nothing seen in this bucket
            series.points.append(_point(summary, index * width, width))
        series.next_index = max(start, done)
        if len(series.points) > self._max_points:
            if self._keep == "recent":
                del series.points[: len(series.points) - self._max_points]
            else:
                pts = series.points
                series.points = [_merge_pair(pts[i], pts[i + 1]) if i + 1 < len(pts)
                                 else pts[i] for i in range(0, len(pts), 2)]

    def canaries(self, only: Sequence[tuple[str, str]] | None = None) -> list[CanaryTimeline]:
        """Frozen copies, by service then canary version (``only``: just these keys)."""
        with self._lock:
            keys = sorted(self._canaries) if only is None else [
                k for k in sorted(only) if k in self._canaries]
            out = []
            for key in keys:
                c = self._canaries[key]
                base = self._series.get((key[0], c.baseline))
                can = self._series.get(key)
                out.append(CanaryTimeline(
                    key[0], c.baseline, key[1], tuple(c.looks), tuple(c.changes), c.final,
                    tuple(base.points) if base else (), tuple(can.points) if can else (),
                    tuple(sorted(c.texts.items()))))
            return out

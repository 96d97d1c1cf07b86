"""Learn service models from recorded telemetry of healthy versions.

Events are cut into windows of ``window_s`` event time per service. Per window: requests,
errors and a latency histogram per endpoint (SERVER/CONSUMER spans, as the analysis counts
them), and lines per template (mined by the same Drain3-based miner as the pipeline, with the
span's recorded exceptions as ERROR lines). Windows are folded into the sufficient statistics
of :mod:`canarywatch.history.model` as they close. Lines are attributed to the endpoint of
their trace when its entry span is seen (bounded memory of recent traces).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace

from canarywatch.analysis.histogram import Histogram
from canarywatch.config import TemplatesConfig
from canarywatch.events import Event, LogEvent, Severity, SpanEvent
from canarywatch.history.index import fit_index
from canarywatch.history.merge import merge_models
from canarywatch.history.model import EndpointStats, ServiceModel, TemplateStats
from canarywatch.templates import TemplateMiner

_NS = 1_000_000_000
MAX_TRACES = 200_000  # traces remembered for the line -> endpoint join
MIN_MEDIAN_REQUESTS = 20  # a window's median latency counts with at least this many requests


@dataclass(slots=True)
class _TemplateAcc:
    severity: Severity
    first_seen: int
    last_seen: int
    count: int = 0
    sum_sq_rate: float = 0.0
    windows_seen: int = 0
    examples: list[str] = field(default_factory=list)
    endpoints: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _EndpointAcc:
    requests: int = 0
    errors: int = 0
    sum_sq_error_rate: float = 0.0
    windows: int = 0
    latency: Histogram = field(default_factory=Histogram)
    median_windows: int = 0
    log_median_sum: float = 0.0
    log_median_sq_sum: float = 0.0


@dataclass(slots=True)
class _Window:
    requests: dict[str, list[int]] = field(default_factory=dict)  # endpoint -> [req, err]
    latency: dict[str, Histogram] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)  # template id -> lines
    log_lines: int = 0


class _ServiceLearner:
    def __init__(self, service: str, window_ns: int) -> None:
        self.service = service
        self.window_ns = window_ns
        self.versions: dict[str, None] = {}
        self.open: dict[int, _Window] = {}
        self.templates: dict[int, _TemplateAcc] = {}
        self.endpoints: dict[str, _EndpointAcc] = {}
        self.windows: list[tuple[int, dict[int, int]]] = []  # (exposure, lines) per window
        self.start = 0
        self.end = 0
        self.has_spans = False
        self.trace_endpoint: OrderedDict[str, str] = OrderedDict()
        self.pending: OrderedDict[str, list[int]] = OrderedDict()

    def window(self, t: int) -> _Window:
        if not self.start or t < self.start:
            self.start = t
        self.end = max(self.end, t)
        index = t // self.window_ns
        w = self.open.get(index)
        if w is None:
            w = self.open[index] = _Window()
            for old in [i for i in self.open if i < index - 2]:  # late events: 2 windows
                self.close(self.open.pop(old))
        return w

    def span(self, ev: SpanEvent) -> None:
        w = self.window(ev.end_time_unix_nano)
        self.has_spans = True
        counts = w.requests.setdefault(ev.endpoint, [0, 0])
        counts[0] += 1
        if ev.is_error or (ev.http_status is not None and ev.http_status >= 500):
            counts[1] += 1
        w.latency.setdefault(ev.endpoint, Histogram()).add(ev.duration_ms)
        if ev.trace_id:
            self.trace_endpoint[ev.trace_id] = ev.endpoint
            if len(self.trace_endpoint) > MAX_TRACES:
                self.trace_endpoint.popitem(last=False)
            for tid in self.pending.pop(ev.trace_id, []):
                self._attribute(tid, ev.endpoint)

    def line(self, ev: LogEvent, template_id: int) -> None:
        w = self.window(ev.time_unix_nano)
        w.lines[template_id] = w.lines.get(template_id, 0) + 1
        w.log_lines += 1
        acc = self.templates.get(template_id)
        if acc is None:
            acc = self.templates[template_id] = _TemplateAcc(ev.severity, ev.time_unix_nano,
                                                             ev.time_unix_nano)
        acc.severity = max(acc.severity, ev.severity)
        acc.first_seen = min(acc.first_seen, ev.time_unix_nano)
        acc.last_seen = max(acc.last_seen, ev.time_unix_nano)
        if len(acc.examples) < 3:
            acc.examples.append(ev.body)
        if ev.trace_id:
            endpoint = self.trace_endpoint.get(ev.trace_id)
            if endpoint is not None:
                self._attribute(template_id, endpoint)
            else:
                self.pending.setdefault(ev.trace_id, []).append(template_id)
                if len(self.pending) > MAX_TRACES:
                    self.pending.popitem(last=False)

    def _attribute(self, template_id: int, endpoint: str) -> None:
        acc = self.templates[template_id].endpoints
        acc[endpoint] = acc.get(endpoint, 0) + 1

    def close(self, w: _Window) -> None:
        for name, (requests, errors) in w.requests.items():
            e = self.endpoints.setdefault(name, _EndpointAcc())
            e.requests += requests
            e.errors += errors
            e.sum_sq_error_rate += errors * errors / requests
            e.windows += 1
            hist = w.latency[name]
            e.latency.merge(hist)
            if requests >= MIN_MEDIAN_REQUESTS:
                log_median = math.log(max(hist.quantile_ms(0.5), 1e-3))
                e.median_windows += 1
                e.log_median_sum += log_median
                e.log_median_sq_sum += log_median * log_median
        exposure = sum(r for r, _ in w.requests.values())
        self.windows.append((exposure, dict(w.lines)))

    def finish(self, miner: TemplateMiner) -> ServiceModel:
        for index in sorted(self.open):
            self.close(self.open.pop(index))
        unit = "requests" if self.has_spans else "log_lines"
        # Canonical ids: templates merged while mining count as the one they became.
        canonical: dict[int, int] = {}
        for tid in self.templates:
            live = miner.canonical_id(self.service, tid)
            canonical[tid] = tid if live is None else live
        merged: dict[int, _TemplateAcc] = {}
        for tid, acc in self.templates.items():
            into = merged.get(canonical[tid])
            if into is None:
                merged[canonical[tid]] = replace(acc, examples=list(acc.examples),
                                                 endpoints=dict(acc.endpoints))
                continue
            into.severity = max(into.severity, acc.severity)
            into.first_seen = min(into.first_seen, acc.first_seen)
            into.last_seen = max(into.last_seen, acc.last_seen)
            into.examples = (into.examples + acc.examples)[:3]
            for ep, n in acc.endpoints.items():
                into.endpoints[ep] = into.endpoints.get(ep, 0) + n
        total = 0
        windows = 0
        for requests, lines in self.windows:
            exposure = requests if self.has_spans else sum(lines.values())
            if exposure <= 0:
                continue
            total += exposure
            windows += 1
            per: dict[int, int] = {}
            for tid, n in lines.items():
                per[canonical[tid]] = per.get(canonical[tid], 0) + n
            for tid, n in per.items():
                acc = merged[tid]
                acc.count += n
                acc.sum_sq_rate += n * n / exposure
                acc.windows_seen += 1
        templates = []
        for tid, acc in sorted(merged.items()):
            if acc.count == 0:
                continue
            try:
                text = miner.template_text(self.service, tid)
            except KeyError:  # evicted by the miner's bound: keep its first line as text
                text = acc.examples[0] if acc.examples else f"#{tid}"
            templates.append(TemplateStats(
                text, acc.severity, acc.count, acc.sum_sq_rate, acc.windows_seen,
                acc.first_seen, acc.last_seen, tuple(acc.examples),
                tuple(sorted(acc.endpoints.items()))))
        endpoints = tuple(EndpointStats(
            name, e.requests, e.errors, e.sum_sq_error_rate, e.windows,
            tuple(sorted(e.latency.counts.items())), e.median_windows, e.log_median_sum,
            e.log_median_sq_sum) for name, e in sorted(self.endpoints.items()))
        return ServiceModel(
            service=self.service, versions=tuple(self.versions), window_s=self.window_ns / _NS,
            windows=windows, requests=total, exposure=unit, start_unix_nano=self.start,
            end_unix_nano=self.end, templates=tuple(templates), endpoints=endpoints,
            index=fit_index([t.text for t in templates]))


class Learner:
    """Feed events of healthy versions; :meth:`models` returns one model per service.

    ``versions``: learn only from these versions (all versions seen when None).
    """

    def __init__(self, templates: TemplatesConfig, versions: Collection[str] | None = None,
                 window_s: float = 60.0) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self._miner = TemplateMiner(templates)
        self._versions = None if versions is None else frozenset(versions)
        self._window_ns = int(window_s * _NS)
        self._services: dict[str, _ServiceLearner] = {}
        self.skipped = 0  # events of other versions, or with no version

    def observe(self, events: Iterable[Event]) -> None:
        for ev in events:
            version = ev.version
            if version is None or (self._versions is not None and version not in self._versions):
                self.skipped += 1
                continue
            learner = self._services.get(ev.service)
            if learner is None:
                learner = self._services[ev.service] = _ServiceLearner(ev.service,
                                                                       self._window_ns)
            learner.versions.setdefault(version)
            if isinstance(ev, SpanEvent):
                if ev.is_entry:
                    learner.span(ev)
                for exc in ev.exceptions:
                    body = f"{exc.type}: {exc.message}" if exc.message else exc.type
                    line = LogEvent(ev.service, version, exc.time_unix_nano, Severity.ERROR,
                                    body, ev.trace_id, ev.span_id)
                    learner.line(line, self._miner.match(ev.service, body).template_id)
            else:
                learner.line(ev, self._miner.match(ev.service, ev.body).template_id)

    def versions_seen(self) -> dict[str, tuple[str, ...]]:
        return {s: tuple(lr.versions) for s, lr in self._services.items()}

    def models(self, previous: dict[str, ServiceModel] | None = None) -> list[ServiceModel]:
        """One model per service seen; merged into ``previous`` ones where given."""
        out = []
        for service, learner in sorted(self._services.items()):
            model = learner.finish(self._miner)
            if previous and service in previous:
                model = merge_models(previous[service], model)
            out.append(model)
        return out

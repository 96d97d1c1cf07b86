"""The simulated service at work: each request played through the real OpenTelemetry SDK.

One TracerProvider and one LoggerProvider per version (Resource ``service.name`` and
``service.version``) record every request with explicit timestamps: a SERVER span, a CLIENT
child inside it, and 1-3 log lines inside the span carrying its trace and span ids. Finished
spans and records wait in in-memory sinks until :mod:`canarywatch.sim.generator` batches and
encodes them. All randomness comes from the scenario's seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import (
    LoggerProvider,
    LogRecordProcessor,
    ReadableLogRecord,
    ReadWriteLogRecord,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

from canarywatch.events import Severity
from canarywatch.sim import messages
from canarywatch.sim.scenario import Endpoint, Fault, Instrumentation, Scenario

_SCOPE = "canarywatch.sim"
_EMPTY = Resource({})
_MAX_LATENCY_MS = 30_000.0
_SEVERITY_NUMBER = {
    Severity.DEBUG: SeverityNumber.DEBUG, Severity.INFO: SeverityNumber.INFO,
    Severity.WARN: SeverityNumber.WARN, Severity.ERROR: SeverityNumber.ERROR,
    Severity.FATAL: SeverityNumber.FATAL,
}
# Base rates of the known WARN/ERROR lines, per request, in both cohorts.
_SLOW_QUERY_RATE = 0.004
_RETRY_RATE = 0.003
_SECONDARY_INFO_RATE = 0.4


class _Resource(Resource):
    """An SDK Resource whose hash is computed once: the encoders hash it for every item."""

    def __init__(self, attributes: dict[str, str]) -> None:
        super().__init__(attributes)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)


class _SeededIds(IdGenerator):
    """Trace and span ids from the scenario's own random stream (never the global one)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


class _SpanSink(SpanProcessor):
    """Keeps finished spans in memory, in the order they end."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


class _LogSink(LogRecordProcessor):
    """Keeps emitted log records in memory as the exporters see them."""

    def __init__(self) -> None:
        self.logs: list[ReadableLogRecord] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.logs.append(ReadableLogRecord(
            log_record=log_record.log_record, resource=log_record.resource or _EMPTY,
            instrumentation_scope=log_record.instrumentation_scope, limits=log_record.limits))

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@dataclass(slots=True)
class _Plan:
    """What one request does: its timing, answer, log lines and exception."""

    start_ns: int
    dur_ns: int
    status: int = 200
    lines: list[tuple[float, messages.Line]] = field(default_factory=list)
    exception: tuple[str, str] | None = None  # (message, stack trace)


@dataclass(slots=True)
class _Cohort:
    version: str
    tracer: trace.Tracer
    logger: Any  # opentelemetry.sdk._logs.Logger (its emit takes keyword fields)
    faults: tuple[tuple[Fault, frozenset[int]], ...]
    instrumentation: Instrumentation = "http"


class Simulator:
    """Plays the scenario's requests through the SDK; see :meth:`arrivals`."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.rng = random.Random(s.seed)
        ids = _SeededIds(random.Random(f"ids:{s.seed}"))
        self.span_sink = _SpanSink()
        self.log_sink = _LogSink()
        self.baseline = self._cohort(s.baseline_version, False, ids)
        self.canary = self._cohort(s.canary_version, True, ids)
        total = sum(e.weight for e in s.endpoints)
        self.cum_weights = list(_accumulate([e.weight / total for e in s.endpoints]))
        self.main_lines = [messages.main_info(e.method, e.route) for e in s.endpoints]

    def _cohort(self, version: str, is_canary: bool, ids: IdGenerator) -> _Cohort:
        resource = _Resource({"service.name": self.s.service, "service.version": version})
        tracer_provider = TracerProvider(resource=resource, id_generator=ids, sampler=ALWAYS_ON,
                                         shutdown_on_exit=False)
        tracer_provider.add_span_processor(self.span_sink)
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(self.log_sink)
        faults = tuple((f, self.s.fault_endpoints(f)) for f in self.s.faults
                       if is_canary or f.kind == "shared_outage")
        return _Cohort(version, tracer_provider.get_tracer(_SCOPE),
                       logger_provider.get_logger(_SCOPE), faults,
                       self.s.canary_instrumentation if is_canary
                       else self.s.baseline_instrumentation)

    def arrivals(self) -> Iterator[int]:
        """Plays each request; yields its start time once its spans and logs are in the sinks."""
        s, rng = self.s, self.rng
        t_s = rng.expovariate(s.rps)
        while t_s < s.duration_s:
            cohort = self.canary if rng.random() < s.canary_share else self.baseline
            index = _bisect(self.cum_weights, rng.random())
            start_ns = s.start_unix_nano + int(t_s * 1e9)
            self._request(cohort, index, t_s, start_ns)
            yield start_ns
            t_s += rng.expovariate(s.rps)

    def _latency_ms(self, endpoint: Endpoint) -> float:
        rng = self.rng
        sigma = 0.35
        if self.s.latency_tail == "heavy" and rng.random() < 0.08:
            return min(_MAX_LATENCY_MS, endpoint.latency_median_ms
                       * (1.5 + rng.paretovariate(1.3)))
        return rng.lognormvariate(math.log(endpoint.latency_median_ms), sigma)

    def _request(self, cohort: _Cohort, index: int, t_s: float, start_ns: int) -> None:
        rng, endpoint = self.rng, self.s.endpoints[index]
        active = [f for f, eps in cohort.faults if index in eps and f.active(t_s)]
        kinds = {f.kind: f for f in active}
        latency_ms = self._latency_ms(endpoint)
        for f in active:
            if f.kind in ("latency", "latency_all", "faster"):
                latency_ms *= f.magnitude
        plan = _Plan(start_ns, max(50_000, int(latency_ms * 1e6)))
        lines = plan.lines
        plain, reworded = self.main_lines[index]
        maker = reworded if "reword_info" in kinds else plain
        lines.append((rng.uniform(0.85, 0.98), (Severity.INFO, maker(rng, latency_ms))))
        if rng.random() < _SECONDARY_INFO_RATE:
            lines.append((rng.uniform(0.02, 0.3), (Severity.INFO,
                                                   messages.secondary_info(rng, latency_ms))))
        if self.s.log_corpus and rng.random() < self.s.corpus_rate:
            body = rng.choice(self.s.log_corpus)
            lines.append((rng.uniform(0.1, 0.8), (messages.corpus_severity(body), body)))
        if rng.random() < _SLOW_QUERY_RATE:
            lines.append((rng.uniform(0.3, 0.8), messages.slow_query(rng)))
        if rng.random() < _RETRY_RATE:
            lines.append((rng.uniform(0.3, 0.8), messages.retry_inventory(rng)))
        more = kinds.get("known_error_more")
        if rng.random() < max(self.s.known_error_rate, more.magnitude if more else 0.0):
            timeout = (messages.gateway_timeout_reworded if "reword_error" in kinds
                       else messages.gateway_timeout)
            lines.append((rng.uniform(0.6, 0.8), timeout(rng)))
        rare = kinds.get("rare_known_error")
        if rare and rng.random() < rare.magnitude:
            lines.append((rng.uniform(0.3, 0.6), messages.cache_failover(rng)))
        more_5xx = kinds.get("error_rate")
        if rng.random() < max(endpoint.base_error_rate, more_5xx.magnitude if more_5xx else 0.0):
            plan.status = 503
            lines.append((0.8, messages.upstream_error(rng, endpoint.dependency, 503)))
        outage = kinds.get("shared_outage")
        if outage and rng.random() < outage.magnitude:
            plan.status = 500
            lines.append((0.8, messages.shared_outage(rng)))
        new = kinds.get("new_error")
        if new and rng.random() < new.magnitude:
            plan.status = 500
            line, message, stack = messages.new_error(rng)
            lines.append((0.85, line))
            plan.exception = (message, stack)
        new_200 = kinds.get("new_error_200")
        if new_200 and rng.random() < new_200.magnitude:
            lines.append((0.9, messages.new_error_200(rng)))
        self._emit(cohort, endpoint, plan)

    def _emit(self, cohort: _Cohort, endpoint: Endpoint, plan: _Plan) -> None:
        rng, start_ns, dur_ns, status = self.rng, plan.start_ns, plan.dur_ns, plan.status
        path = endpoint.route.replace("{id}", str(rng.randrange(1, 50000)))
        name, kind, attributes = _entry_span(cohort.instrumentation, endpoint, path, status)
        server = cohort.tracer.start_span(name, kind=kind, start_time=start_ns,
                                          attributes=attributes)
        ctx = trace.set_span_in_context(server, Context())
        child_start = start_ns + int(dur_ns * rng.uniform(0.05, 0.15))
        child_end = child_start + int(dur_ns * rng.uniform(0.4, 0.8))
        name, attributes = _dependency_call(endpoint.dependency, rng, status)
        child = cohort.tracer.start_span(name, context=ctx, kind=SpanKind.CLIENT,
                                         start_time=child_start, attributes=attributes)
        if status >= 500:
            child.set_status(Status(StatusCode.ERROR))
        child.end(end_time=child_end)
        plan.lines.sort(key=lambda item: item[0])
        for frac, (severity, body) in plan.lines:
            at_ns = start_ns + int(dur_ns * frac)
            cohort.logger.emit(timestamp=at_ns, observed_timestamp=at_ns, context=ctx,
                               severity_number=_SEVERITY_NUMBER[severity],
                               severity_text=severity.name, body=body)
        if plan.exception is not None:
            message, stack = plan.exception
            server.add_event("exception", {
                "exception.type": messages.NEW_ERROR_TYPE, "exception.message": message,
                "exception.stacktrace": stack}, timestamp=start_ns + int(dur_ns * 0.85))
        if status >= 500:
            server.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        server.end(end_time=start_ns + dur_ns)


def _entry_span(style: Instrumentation, endpoint: Endpoint, path: str, status: int,
                ) -> tuple[str, SpanKind, dict[str, str | int]]:
    """Name, kind and attributes of the entry span, as the given instrumentation writes them."""
    method, route = endpoint.method, endpoint.route
    if style == "http":
        return endpoint.name, SpanKind.SERVER, {
            "http.request.method": method, "http.route": route, "url.path": path,
            "url.scheme": "https", "http.response.status_code": status}
    if style == "http_no_route":
        return method, SpanKind.SERVER, {"http.request.method": method, "url.path": path,
                                         "url.scheme": "https",
                                         "http.response.status_code": status}
    if style == "http_legacy":
        return route, SpanKind.SERVER, {"http.method": method, "http.route": route,
                                        "http.target": path, "http.scheme": "https",
                                        "http.status_code": status}
    if style == "http_legacy_no_route":
        return f"HTTP {method}", SpanKind.SERVER, {
            "http.method": method, "http.target": f"{path}?source=web", "http.scheme": "https",
            "http.status_code": status}
    if style == "raw_path":
        return f"{method} {path}", SpanKind.SERVER, {"http.method": method,
                                                     "http.status_code": status}
    if style == "messaging":
        return f"{method} {route}", SpanKind.CONSUMER, {
            "messaging.system": "kafka", "messaging.operation.type": method,
            "messaging.operation.name": method, "messaging.destination.name": route}
    return f"{route} {method}", SpanKind.CONSUMER, {  # messaging_legacy
        "messaging.system": "kafka", "messaging.operation": method,
        "messaging.destination.name": route}


def _dependency_call(dependency: str, rng: random.Random,
                     status: int) -> tuple[str, dict[str, str | int]]:
    if dependency.startswith("http:"):
        return "POST", {"http.request.method": "POST", "server.address": dependency[5:],
                        "http.response.status_code": 503 if status >= 500 else 200}
    if dependency == "redis":
        return "GET", {"db.system.name": "redis", "db.operation.name": "GET"}
    table = rng.choice(("shop.carts", "shop.orders", "catalog.products"))
    return f"SELECT {table}", {"db.system.name": dependency, "db.operation.name": "SELECT",
                               "db.collection.name": table}


def _accumulate(values: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def _bisect(cum: list[float], x: float) -> int:
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1

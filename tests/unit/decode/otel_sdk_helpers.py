"""Telemetry made by the real OpenTelemetry SDK and encoded by its OTLP encoders (test helpers)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

T0 = 1_795_000_000_000_000_000


class Sdk:
    """One service version's tracer and logger, collecting what they finish in memory."""

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        resource = Resource(dict(attributes))
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self.log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.tracer = self.tracer_provider.get_tracer("test")
        self.logger = self.logger_provider.get_logger("test")

    def request(self, name: str, attributes: Mapping[str, Any], *, start_ns: int = T0,
                duration_ns: int = 25_000_000, error: bool = False,
                kind: trace.SpanKind = trace.SpanKind.SERVER) -> trace.Span:
        span = self.tracer.start_span(name, kind=kind, start_time=start_ns,
                                      attributes=dict(attributes))
        if error:
            span.set_status(trace.Status(trace.StatusCode.ERROR, "boom"))
        span.end(end_time=start_ns + duration_ns)
        return span

    def log(self, body: Any, severity: SeverityNumber | None = SeverityNumber.INFO,
            text: str | None = "INFO", at_ns: int | None = T0, span: trace.Span | None = None,
            *, attributes: Mapping[str, Any] | None = None) -> None:
        ctx = trace.set_span_in_context(span, Context()) if span is not None else Context()
        self.logger.emit(timestamp=at_ns, observed_timestamp=T0 + 5, context=ctx,
                         severity_number=severity, severity_text=text, body=body,
                         attributes=dict(attributes or {}))

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.span_exporter.get_finished_spans())

    @property
    def logs(self) -> tuple[ReadableLogRecord, ...]:
        return tuple(self.log_exporter.get_finished_logs())


def traces_proto(spans: tuple[ReadableSpan, ...]) -> bytes:
    return bytes(encode_spans(spans).SerializeToString())


def logs_proto(logs: tuple[ReadableLogRecord, ...]) -> bytes:
    return bytes(encode_logs(logs).SerializeToString())


def _hex_ids(node: Any) -> None:
    """OTLP/JSON writes ids in hex where json_format writes base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)


def otlp_json(message: Any) -> dict[str, Any]:
    """A protobuf message as the collector's OTLP/JSON: camelCase, int enums, hex ids."""
    out: dict[str, Any] = MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(out)
    return out


def traces_json(spans: tuple[ReadableSpan, ...]) -> dict[str, Any]:
    return otlp_json(encode_spans(spans))


def logs_json(logs: tuple[ReadableLogRecord, ...]) -> dict[str, Any]:
    return otlp_json(encode_logs(logs))

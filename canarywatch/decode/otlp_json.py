"""OTLP/JSON TracesData / LogsData into events, read with the standard library.

protobuf's ``json_format`` is not used: OTLP/JSON writes trace and span ids as hex where
``json_format`` expects base64. Field names are camelCase, enums integers, 64-bit integers
strings; readers must also accept the snake_case names (``resource_spans``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from canarywatch.decode.common import (
    METHOD,
    ROUTE,
    RPC_METHOD,
    RPC_SERVICE,
    STATUS,
    STATUS_CODE_ERROR,
    UNKNOWN_SERVICE,
    VERSION_SLOT,
    EndpointNames,
    as_status,
    as_text,
    hex_id,
    kind_of,
    severity_of,
    slots_with_versions,
)
from canarywatch.decode.fastbuild import span_event
from canarywatch.events import ExceptionRecord, LogEvent, SpanEvent, SpanKind

Json = dict[str, Any]
_KIND_NAMES = {f"SPAN_KIND_{k.name}": k for k in SpanKind}


def _get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def json_value(value: Any) -> object:
    """An OTLP/JSON AnyValue object as a plain Python value."""
    if not isinstance(value, dict):
        return value
    for key, inner in value.items():
        if key in ("stringValue", "string_value", "boolValue", "bool_value",
                   "doubleValue", "double_value", "bytesValue", "bytes_value"):
            return inner
        if key in ("intValue", "int_value"):
            return int(inner)
        if key in ("arrayValue", "array_value"):
            return [json_value(v) for v in (inner or {}).get("values", ())]
        if key in ("kvlistValue", "kvlist_value"):
            return {kv.get("key", ""): json_value(kv.get("value"))
                    for kv in (inner or {}).get("values", ())}
    return None


def _attributes(items: Any) -> dict[str, object]:
    return {kv["key"]: json_value(kv.get("value")) for kv in items or ()}


def _first_version(attributes: Mapping[str, object], version_keys: Sequence[str]) -> str | None:
    for key in version_keys:
        text = as_text(attributes.get(key))
        if text:
            return text
    return None


def _nanos(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


class JsonDecoder:
    """Decodes OTLP/JSON objects (already parsed with ``json.loads``)."""

    def __init__(self, version_keys: Sequence[str]) -> None:
        self.version_keys = tuple(version_keys)
        self._slots = slots_with_versions(self.version_keys)
        self._endpoints = EndpointNames()

    def _resource(self, container: Mapping[str, Any]) -> tuple[str, str | None]:
        attributes = _attributes((container.get("resource") or {}).get("attributes"))
        service = as_text(attributes.get("service.name")) or UNKNOWN_SERVICE
        return service, _first_version(attributes, self.version_keys)

    def spans(self, data: Json) -> list[SpanEvent]:
        """Every span of a TracesData object; KeyError / TypeError / ValueError when malformed."""
        out: list[SpanEvent] = []
        for rs in _get(data, "resourceSpans", "resource_spans") or ():
            service, resource_version = self._resource(rs)
            for ss in _get(rs, "scopeSpans", "scope_spans") or ():
                for s in ss.get("spans") or ():
                    out.append(self._span(s, service, resource_version))
        return out

    def _span(self, s: Json, service: str, resource_version: str | None) -> SpanEvent:
        slots = self._slots
        present = {kv["key"]: kv.get("value") for kv in s.get("attributes") or ()
                   if kv["key"] in slots}
        values: dict[int, object] = {}
        for key, slot in slots.items():  # the first key of a slot wins; a repeated key: its last
            if key in present and slot not in values:
                values[slot] = json_value(present[key])
        version = resource_version
        if version is None:
            ranked = sorted(k for k in values if k >= VERSION_SLOT and as_text(values[k]))
            version = as_text(values[ranked[0]]) if ranked else None
        texts = [v if isinstance(v, str) else None
                 for v in (values.get(i) for i in range(VERSION_SLOT))]
        status = as_status(values.get(STATUS))
        name = str(s.get("name") or "")
        kind = s.get("kind") or 0
        span_kind = _KIND_NAMES.get(kind, SpanKind.UNSPECIFIED) if isinstance(kind, str) \
            else kind_of(int(kind))
        code = (s.get("status") or {}).get("code") or 0
        is_error = code in (STATUS_CODE_ERROR, "STATUS_CODE_ERROR") or (status or 0) >= 500
        exceptions = tuple(
            _exception(e) for e in s.get("events") or () if e.get("name") == "exception")
        return span_event(
            service, version, name, span_kind,
            self._endpoints.name(texts[METHOD], texts[ROUTE], texts[RPC_SERVICE],
                                 texts[RPC_METHOD], name),
            _nanos(_get(s, "startTimeUnixNano", "start_time_unix_nano")),
            _nanos(_get(s, "endTimeUnixNano", "end_time_unix_nano")),
            is_error, status, hex_id(_get(s, "traceId", "trace_id")),
            hex_id(_get(s, "spanId", "span_id")), exceptions)

    def logs(self, data: Json) -> list[LogEvent]:
        """Every log record of a LogsData object; KeyError / TypeError / ValueError if bad."""
        out: list[LogEvent] = []
        for rl in _get(data, "resourceLogs", "resource_logs") or ():
            service, resource_version = self._resource(rl)
            for sl in _get(rl, "scopeLogs", "scope_logs") or ():
                for r in _get(sl, "logRecords", "log_records") or ():
                    version = resource_version
                    if version is None:
                        version = _first_version(_attributes(r.get("attributes")),
                                                 self.version_keys)
                    number = _get(r, "severityNumber", "severity_number") or 0
                    text = str(_get(r, "severityText", "severity_text") or "")
                    severity = severity_of(number if isinstance(number, int) else 0, text)
                    at_ns = _nanos(_get(r, "timeUnixNano", "time_unix_nano")) or _nanos(
                        _get(r, "observedTimeUnixNano", "observed_time_unix_nano"))
                    out.append(LogEvent(
                        service, version, at_ns, severity, as_text(json_value(r.get("body"))),
                        hex_id(_get(r, "traceId", "trace_id")),
                        hex_id(_get(r, "spanId", "span_id"))))
        return out


def _exception(event: Json) -> ExceptionRecord:
    attributes = _attributes(event.get("attributes"))
    return ExceptionRecord(as_text(attributes.get("exception.type")),
                           as_text(attributes.get("exception.message")),
                           _nanos(_get(event, "timeUnixNano", "time_unix_nano")))

"""OTLP/JSON TracesData / LogsData into events, read with the standard library.

protobuf's ``json_format`` is not used: OTLP/JSON writes trace and span ids as hex where
``json_format`` expects base64. Every variant real producers write is read: camelCase or
snake_case names (``resourceSpans`` / ``resource_spans``); ids in hex or base64; enums as
integers, digit strings or names (``SPAN_KIND_SERVER``, ``STATUS_CODE_ERROR``,
``SEVERITY_NUMBER_ERROR``); 64-bit integers as strings or numbers; bodies and attribute
values that are strings, numbers, maps (``kvlistValue``), arrays or bytes (``bytesValue``,
base64: read as UTF-8 text when it is text, as the protobuf decoder does).

A span or log record that cannot be used (an impossible time, a field of the wrong type) is
left out and counted in ``rejects`` under its reason; the rest of the message is read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from canarywatch.decode.common import (
    STATUS,
    STATUS_CODE_ERROR,
    UNKNOWN_SERVICE,
    VERSION_SLOT,
    EndpointNames,
    as_status,
    as_text,
    bytes_text,
    hex_id,
    kind_of,
    severity_number,
    severity_of,
    slots_with_versions,
)
from canarywatch.decode.fastbuild import span_event
from canarywatch.decode.timecheck import (
    BadTimeError,
    check_event_time,
    check_span_times,
    json_nanos,
)
from canarywatch.events import ExceptionRecord, LogEvent, SpanEvent, SpanKind
from canarywatch.rejects import RejectReason, RejectTally

Json = dict[str, Any]
_KIND_NAMES = {f"SPAN_KIND_{k.name}": k for k in SpanKind}
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SCALARS = ("stringValue", "string_value", "boolValue", "bool_value")


def _get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _b64_text(value: object) -> str:
    """A proto3 JSON ``bytesValue`` (base64) as text (see :func:`bytes_text`)."""
    if not isinstance(value, str):
        return as_text(value)
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_"
                               if ("-" in value or "_" in value) else None, validate=True)
    except (binascii.Error, ValueError):
        return value
    return bytes_text(raw)


def json_value(value: Any) -> object:
    """An OTLP/JSON AnyValue object as a plain Python value."""
    if not isinstance(value, dict):
        return value
    for key, inner in value.items():
        if key in _SCALARS:
            return inner
        if key in ("intValue", "int_value"):
            return int(inner)
        if key in ("doubleValue", "double_value"):
            return float(inner)
        if key in ("bytesValue", "bytes_value"):
            return _b64_text(inner)
        if key in ("arrayValue", "array_value"):
            return [json_value(v) for v in (inner or {}).get("values") or ()]
        if key in ("kvlistValue", "kvlist_value"):
            return {kv.get("key", ""): json_value(kv.get("value"))
                    for kv in (inner or {}).get("values") or ()}
    return None


def _attributes(items: Any) -> dict[str, object]:
    return {kv["key"]: json_value(kv.get("value")) for kv in items or ()}


def _first_version(attributes: Mapping[str, object], version_keys: Sequence[str]) -> str | None:
    for key in version_keys:
        text = as_text(attributes.get(key))
        if text:
            return text
    return None


def _enum(value: object, names: Mapping[str, int]) -> int:
    """An enum written as an integer, a digit string or its name; 0 when unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isdigit() else names.get(text.upper(), 0)
    return 0


def in_words(exc: Exception) -> str:
    """A malformed-field exception as a sentence (no Python exception text)."""
    if isinstance(exc, KeyError):
        return f"required field {exc.args[0]!r} is missing"
    if isinstance(exc, ValueError):
        return "a number field holds something that is not a number"
    return "a field holds a value of the wrong JSON type (e.g. a string where an object or a " \
           "list belongs)"


class JsonDecoder:
    """Decodes OTLP/JSON objects (already parsed with ``json.loads``)."""

    def __init__(self, version_keys: Sequence[str], rejects: RejectTally | None = None,
                 path_rules: Mapping[str, str] | None = None) -> None:
        self.version_keys = tuple(version_keys)
        self.rejects = rejects if rejects is not None else RejectTally()
        self.slots = slots_with_versions(self.version_keys)
        self.endpoints = EndpointNames(path_rules)

    def resource_of(self, container: Mapping[str, Any]) -> tuple[str, str | None]:
        """``service.name`` and the first present version key of a ResourceSpans /
        ResourceLogs object's resource."""
        attributes = _attributes((container.get("resource") or {}).get("attributes"))
        service = as_text(attributes.get("service.name")) or UNKNOWN_SERVICE
        return service, _first_version(attributes, self.version_keys)

    def _reject(self, origin: str, what: str, exc: Exception,
                version_of: tuple[str, str | None]) -> None:
        if isinstance(exc, BadTimeError):
            self.rejects.reject(origin, exc.reason, f"{what}: {exc.detail}",
                                version_of=version_of)
        else:
            self.rejects.reject(origin, RejectReason.MALFORMED_OTLP, f"{what}: {in_words(exc)}",
                                version_of=version_of)

    def spans(self, data: Json, origin: str = "") -> list[SpanEvent]:
        """Every usable span of a TracesData object (the others counted in ``rejects``);
        KeyError / TypeError / ValueError when its structure above the spans is malformed."""
        out: list[SpanEvent] = []
        for rs in _get(data, "resourceSpans", "resource_spans") or ():
            service, resource_version = self.resource_of(rs)
            for ss in _get(rs, "scopeSpans", "scope_spans") or ():
                for s in ss.get("spans") or ():
                    try:
                        out.append(self._span(s, service, resource_version))
                    except (BadTimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                        self._reject(origin, f"span of {service}", exc,
                                     (service, resource_version))
        return out

    def _span(self, s: Json, service: str, resource_version: str | None) -> SpanEvent:
        start = json_nanos(_get(s, "startTimeUnixNano", "start_time_unix_nano"),
                           "startTimeUnixNano")
        end = json_nanos(_get(s, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
        check_span_times(start, end)
        present = {kv["key"]: kv.get("value") for kv in s.get("attributes") or ()
                   if kv["key"] in self.slots}
        name = str(s.get("name") or "")
        endpoint, status, version = self.attribute_meaning(name, present, json_value)
        if resource_version is not None:
            version = resource_version
        kind = s.get("kind") or 0
        span_kind = _KIND_NAMES.get(kind.strip().upper(), SpanKind.UNSPECIFIED) \
            if isinstance(kind, str) and not kind.strip().isdigit() else kind_of(int(kind))
        code = _enum((s.get("status") or {}).get("code"), _STATUS_NAMES)
        is_error = code == STATUS_CODE_ERROR or (status or 0) >= 500
        exceptions = tuple(
            exception_of(e) for e in s.get("events") or () if e.get("name") == "exception")
        return span_event(
            service, version, name, span_kind, endpoint, start, end, is_error, status,
            hex_id(_get(s, "traceId", "trace_id")), hex_id(_get(s, "spanId", "span_id")),
            exceptions)

    def attribute_meaning(self, name: str, present: Mapping[str, object],
                          read: Callable[[Any], object]) -> tuple[str, int | None, str | None]:
        """Endpoint, HTTP status and record-level version of a span called ``name`` from its
        attributes of interest (key -> AnyValue, still as written; ``read`` makes a plain
        value of one): the first key of a slot present decides it, a repeated key its last
        value; the version is the first version key with text."""
        values: dict[int, object] = {}
        for key, slot in self.slots.items():
            if key in present and slot not in values:
                values[slot] = read(present[key])
        ranked = sorted(k for k in values if k >= VERSION_SLOT and as_text(values[k]))
        version = as_text(values[ranked[0]]) if ranked else None
        texts = [v if isinstance(v, str) else None
                 for v in (values.get(i) for i in range(VERSION_SLOT))]
        return self.endpoints.name(texts, name), as_status(values.get(STATUS)), version

    def logs(self, data: Json, origin: str = "") -> list[LogEvent]:
        """Every usable log record of a LogsData object (the others counted in ``rejects``);
        KeyError / TypeError / ValueError when its structure above the records is bad."""
        out: list[LogEvent] = []
        for rl in _get(data, "resourceLogs", "resource_logs") or ():
            service, resource_version = self.resource_of(rl)
            for sl in _get(rl, "scopeLogs", "scope_logs") or ():
                for r in _get(sl, "logRecords", "log_records") or ():
                    try:
                        out.append(self._log(r, service, resource_version))
                    except (BadTimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                        self._reject(origin, f"log record of {service}", exc,
                                     (service, resource_version))
        return out

    def _log(self, r: Json, service: str, resource_version: str | None) -> LogEvent:
        at_ns = json_nanos(_get(r, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
        field = "timeUnixNano"
        if not at_ns:
            at_ns = json_nanos(_get(r, "observedTimeUnixNano", "observed_time_unix_nano"),
                               "observedTimeUnixNano")
            field = "timeUnixNano and observedTimeUnixNano" if not at_ns \
                else "observedTimeUnixNano"
        check_event_time(at_ns, field)
        version = resource_version
        if version is None:
            version = _first_version(_attributes(r.get("attributes")), self.version_keys)
        number = severity_number(_get(r, "severityNumber", "severity_number"))
        text = as_text(_get(r, "severityText", "severity_text"))
        return LogEvent(
            service, version, at_ns, severity_of(number, text),
            as_text(json_value(r.get("body"))),
            hex_id(_get(r, "traceId", "trace_id")), hex_id(_get(r, "spanId", "span_id")))


def exception_of(event: Json) -> ExceptionRecord:
    """A span event named ``exception`` as the exception it records."""
    attributes = _attributes(event.get("attributes"))
    return ExceptionRecord(as_text(attributes.get("exception.type")),
                           as_text(attributes.get("exception.message")),
                           json_nanos(_get(event, "timeUnixNano", "time_unix_nano"),
                                      "events[].timeUnixNano"))

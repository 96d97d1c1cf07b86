"""OTLP/JSON records on the span hot path, parsed by msgspec against a lean typed schema.

The stdlib path (:mod:`canarywatch.decode.otlp_json`) parses the whole document into dicts
and lists, then walks them; most of what it builds (resource and scope attributes, ids of
spans only counted, attributes nothing reads) is thrown away. Here msgspec's compiled parser
decodes into structs that keep only the fields canarywatch reads, both spellings of each
(``startTimeUnixNano`` / ``start_time_unix_nano``); attribute values, resources and span
events stay raw JSON (:class:`msgspec.Raw`, a slice of the input, not parsed) and are read
only when nothing cached means them yet. As in the protobuf lean path
(:mod:`canarywatch.decode.otlp_proto`), a resource is read once per distinct text, a span's
meaning (endpoint, HTTP status, version) once per distinct set of the raw values it is made
of, spans analysis does not read are only counted, and entry spans become
:data:`~canarywatch.decode.batch.SpanRow` tuples.

The stdlib path stays the reference, and decides everything unusual: this path takes no
decision of its own. Anything it does not read as the reference would (a value of another
type than producers write, an impossible time, a kind or status code written as a name, a
JSON array of messages, a document neither TracesData nor LogsData, invalid JSON) raises
:class:`UnusualRecordError` before anything is counted, and the caller decodes the record with the
reference instead. Every value is turned into meaning by the reference's own functions, so
both paths give equal events (``tests/unit/decode/test_decode_json_fast.py`` pins it).
Measured in ``benchmarks/replay_throughput.py`` (the ``--json-stdlib`` row).
"""

# The structs' fields carry OTLP/JSON's own names (camelCase beside proto3's snake_case):
# ruff: noqa: N815
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from canarywatch.decode.batch import CountedSpan, CountedSpans, DecodedBatch, Entry, latest
from canarywatch.decode.common import (
    METHOD,
    ROUTE,
    SPAN_ATTRIBUTE_SLOTS,
    STATUS,
    STATUS_CODE_ERROR,
    as_status,
    as_text,
    hex_id,
    kind_of,
    severity_number,
    severity_of,
)
from canarywatch.decode.fastbuild import log_event, span_event
from canarywatch.decode.otlp_json import JsonDecoder, exception_of, json_value
from canarywatch.decode.timecheck import MIN_UNIX_NANO, json_nanos
from canarywatch.events import ExceptionRecord, SpanKind
from canarywatch.sources.base import PayloadKind

__all__ = ["FastJsonDecoder", "UnusualRecordError"]

_KINDS: tuple[SpanKind, ...] = tuple(SpanKind)
_ENTRY_KINDS = frozenset({int(SpanKind.SERVER), int(SpanKind.CONSUMER)})
_MAX_CACHED = 65536
_HTTP_METHOD, _HTTP_ROUTE, _HTTP_STATUS = (
    "http.request.method", "http.route", "http.response.status_code")
_SHORT_KEYS = (_HTTP_METHOD, _HTTP_ROUTE, _HTTP_STATUS)
if tuple(SPAN_ATTRIBUTE_SLOTS[key] for key in _SHORT_KEYS) != (METHOD, ROUTE, STATUS) or any(
        next(k for k, slot in SPAN_ATTRIBUTE_SLOTS.items() if slot == SPAN_ATTRIBUTE_SLOTS[key])
        != key for key in _SHORT_KEYS):
    raise ImportError("SPAN_ATTRIBUTE_SLOTS no longer prefers the current HTTP keys")
Meaning = tuple[str, int | None, str | None]  # endpoint, HTTP status, record-level version
_LONG_KEY: Meaning = ("", None, None)  # the short key cannot tell (compared by identity)

Int64 = int | str | None  # OTLP/JSON writes 64-bit integers as strings, some as numbers


def _null() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class UnusualRecordError(Exception):
    """The record is not one this path reads as the reference does: use the reference."""


class _KeyValue(msgspec.Struct):
    key: str
    value: msgspec.Raw = msgspec.field(default_factory=_null)


class _Status(msgspec.Struct):
    code: int | None = None


class _Span(msgspec.Struct):
    name: str | None = None
    kind: int | None = None
    startTimeUnixNano: Int64 = None
    start_time_unix_nano: Int64 = None
    endTimeUnixNano: Int64 = None
    end_time_unix_nano: Int64 = None
    attributes: list[_KeyValue] | None = None
    events: list[msgspec.Raw] | None = None
    status: _Status | None = None
    traceId: str | None = None
    trace_id: str | None = None
    spanId: str | None = None
    span_id: str | None = None


class _ScopeSpans(msgspec.Struct):
    spans: list[_Span] | None = None


class _ResourceSpans(msgspec.Struct):
    resource: msgspec.Raw = msgspec.field(default_factory=_null)
    scopeSpans: list[_ScopeSpans] | None = None
    scope_spans: list[_ScopeSpans] | None = None


class _LogRecord(msgspec.Struct):
    timeUnixNano: Int64 = None
    time_unix_nano: Int64 = None
    observedTimeUnixNano: Int64 = None
    observed_time_unix_nano: Int64 = None
    severityNumber: int | str | None = None
    severity_number: int | str | None = None
    severityText: str | None = None
    severity_text: str | None = None
    body: dict[str, Any] | None = None
    attributes: list[_KeyValue] | None = None
    traceId: str | None = None
    trace_id: str | None = None
    spanId: str | None = None
    span_id: str | None = None


class _ScopeLogs(msgspec.Struct):
    logRecords: list[_LogRecord] | None = None
    log_records: list[_LogRecord] | None = None


class _ResourceLogs(msgspec.Struct):
    resource: msgspec.Raw = msgspec.field(default_factory=_null)
    scopeLogs: list[_ScopeLogs] | None = None
    scope_logs: list[_ScopeLogs] | None = None


class _Message(msgspec.Struct):
    """A TracesData or a LogsData: the reference tells them by which key is present."""

    resourceSpans: list[_ResourceSpans] | None = None
    resource_spans: list[_ResourceSpans] | None = None
    resourceLogs: list[_ResourceLogs] | None = None
    resource_logs: list[_ResourceLogs] | None = None


_MESSAGE = msgspec.json.Decoder(_Message)
_ANY = msgspec.json.Decoder()


def _either(camel: Any, snake: Any) -> Any:
    return snake if camel is None else camel


def _value(raw: msgspec.Raw | bytes) -> object:
    """A raw OTLP/JSON AnyValue as the reference reads it."""
    return json_value(_ANY.decode(raw))


class FastJsonDecoder:
    """Reads OTLP/JSON records into :class:`DecodedBatch` es; one per pipeline, beside the
    reference ``JsonDecoder`` it shares its version keys, endpoint names and rejects with."""

    def __init__(self, reference: JsonDecoder, count_group_ns: int = 1) -> None:
        """``count_group_ns``: counted spans are grouped per this much event time (it must
        divide the evaluation interval; see :mod:`canarywatch.decode.batch`)."""
        self.reference = reference
        self._group_ns = max(1, count_group_ns)
        slots = reference.slots
        self._keys = tuple(SPAN_ATTRIBUTE_SLOTS)
        self._keys_with_versions = tuple(slots)
        self._resources: dict[bytes, tuple[str, str | None]] = {}
        self._meanings: dict[tuple[object, ...], Meaning] = {}
        self._counted = CountedSpans(_MAX_CACHED)

    def batch(self, payload: bytes, kind: PayloadKind) -> DecodedBatch:
        """The spans or log records of one OTLP/JSON message; :class:`UnusualRecordError` when the
        reference must read it (nothing has been counted then)."""
        try:
            message = _MESSAGE.decode(payload)
            spans = message.resourceSpans is not None or message.resource_spans is not None
            logs = message.resourceLogs is not None or message.resource_logs is not None
            if kind is PayloadKind.OTLP_ANY:
                if not spans and not logs:
                    raise UnusualRecordError
                kind = PayloadKind.OTLP_SPANS if spans else PayloadKind.OTLP_LOGS
            if not (spans if kind is PayloadKind.OTLP_SPANS else logs):
                raise UnusualRecordError  # not this topic's signal: the reference says why
            if kind is PayloadKind.OTLP_SPANS:
                return self._spans(_either(message.resourceSpans, message.resource_spans)
                                   or ())
            if kind is PayloadKind.OTLP_LOGS:
                return self._logs(_either(message.resourceLogs, message.resource_logs) or ())
        except UnusualRecordError:
            raise
        except Exception as exc:  # msgspec's errors, and what the reference would reject
            raise UnusualRecordError from exc
        raise UnusualRecordError

    def _resource(self, raw: msgspec.Raw) -> tuple[str, str | None]:
        key = bytes(raw)
        found = self._resources.get(key)
        if found is None:
            found = self.reference.resource_of({"resource": _ANY.decode(key)})
            if len(self._resources) >= _MAX_CACHED:
                self._resources.clear()
            self._resources[key] = found
        return found

    def _spans(self, resource_spans: Sequence[_ResourceSpans]) -> DecodedBatch:
        entries: list[Entry] = []
        append = entries.append
        origins: dict[tuple[str, str | None], int] = {}
        every_group: list[tuple[CountedSpan, dict[int, list[int]]]] = []
        group_ns = self._group_ns
        newest = 0
        meanings, meaning_of = self._meanings, self._meaning
        nanos = json_nanos
        for rs in resource_spans:
            service, resource_version = self._resource(rs.resource)
            lookups = self._keys if resource_version is not None else self._keys_with_versions
            bare = self._counted(service, resource_version) \
                if resource_version is not None else None
            groups: dict[int, list[int]] = {}
            if bare is not None:
                every_group.append((bare, groups))
            for ss in _either(rs.scopeSpans, rs.scope_spans) or ():
                for s in ss.spans or ():
                    start = nanos(_either(s.startTimeUnixNano, s.start_time_unix_nano), "")
                    end = nanos(_either(s.endTimeUnixNano, s.end_time_unix_nano), "")
                    if start < MIN_UNIX_NANO or end < start:
                        raise UnusualRecordError  # the reference rejects it, with its reason
                    if end > newest:  # noqa: PLR1730 (cheaper than max() here)
                        newest = end
                    kind = s.kind or 0
                    events = s.events
                    if bare is not None and kind not in _ENTRY_KINDS and not events:
                        origins[(service, resource_version)] = origins.get(
                            (service, resource_version), 0) + 1
                        group = groups.get(end // group_ns)
                        if group is None:
                            groups[end // group_ns] = [len(entries), 1]
                            append((end, bare))
                        else:
                            group[1] += 1
                        continue
                    name = s.name or ""
                    values = {kv.key: kv.value for kv in s.attributes or ()}
                    get = values.get
                    meaning = _LONG_KEY
                    method = get(_HTTP_METHOD)
                    if method is not None and resource_version is not None:
                        route, status_raw = get(_HTTP_ROUTE), get(_HTTP_STATUS)
                        if route is not None and status_raw is not None:
                            key: tuple[object, ...] = (
                                name, bytes(method), bytes(route), bytes(status_raw))
                            meaning = meanings.get(key) or meaning_of(key, _SHORT_KEYS)
                    if meaning is _LONG_KEY:
                        key = (name, *(None if raw is None else bytes(raw)
                                       for raw in map(get, lookups)))
                        meaning = meanings.get(key) or meaning_of(key, lookups)
                    endpoint, status, version = meaning
                    if resource_version is not None:
                        version = resource_version
                    origin = (service, version)
                    origins[origin] = origins.get(origin, 0) + 1
                    if version is None or (kind not in _ENTRY_KINDS and not events):
                        append((end, self._counted(service, version)))
                        continue
                    code = s.status.code if s.status is not None else None
                    is_error = code == STATUS_CODE_ERROR or (status or 0) >= 500
                    span_kind = _KINDS[kind] if 0 <= kind < 6 else kind_of(kind)
                    trace_id = hex_id(_either(s.traceId, s.trace_id))
                    span_id = hex_id(_either(s.spanId, s.span_id))
                    if not events:  # an entry span: a SpanRow
                        append((end, (service, version, name, span_kind, endpoint, start, end,
                                      is_error, status, trace_id, span_id, ())))
                        continue
                    append((end, span_event(service, version, name, span_kind, endpoint,
                                            start, end, is_error, status, trace_id, span_id,
                                            _exceptions(events))))
        for bare, groups in every_group:
            for index, n in groups.values():
                if n > 1:
                    entries[index] = (entries[index][0],
                                      CountedSpan(bare.service, bare.version, n))
        return DecodedBatch(entries, newest, origins, spans=True)

    def _meaning(self, key: tuple[object, ...], attributes: Sequence[str]) -> Meaning:
        """Endpoint, HTTP status and record-level version of a span from its name and the
        raw values of ``attributes`` (None where absent), by the reference's rules; for the
        short key (method, route, status of the current HTTP conventions) :data:`_LONG_KEY`
        when these three alone cannot tell (as in the protobuf path)."""
        name, raws = str(key[0]), key[1:]
        found: Meaning
        if attributes is _SHORT_KEYS:
            method, route, status = (_value(raw) for raw in raws)  # type: ignore[arg-type]
            code = as_status(status)
            if not isinstance(method, str) or not isinstance(route, str) or not route \
                    or code is None:
                found = _LONG_KEY
            else:
                found = (self.reference.endpoints.http(method, route, name), code, None)
        else:
            present = {attribute: raw for attribute, raw in zip(attributes, raws, strict=True)
                       if raw is not None}
            found = self.reference.attribute_meaning(name, present, _value)
        if len(self._meanings) >= _MAX_CACHED:
            self._meanings.clear()
        self._meanings[key] = found
        return found

    def _logs(self, resource_logs: Sequence[_ResourceLogs]) -> DecodedBatch:
        entries: list[Entry] = []
        append = entries.append
        origins: dict[tuple[str, str | None], int] = {}
        version_keys = self.reference.version_keys
        nanos = json_nanos
        for rl in resource_logs:
            service, resource_version = self._resource(rl.resource)
            for sl in _either(rl.scopeLogs, rl.scope_logs) or ():
                for r in _either(sl.logRecords, sl.log_records) or ():
                    at = nanos(_either(r.timeUnixNano, r.time_unix_nano), "")
                    if not at:
                        at = nanos(_either(r.observedTimeUnixNano, r.observed_time_unix_nano),
                                   "")
                    if at < MIN_UNIX_NANO:
                        raise UnusualRecordError  # the reference rejects it, with its reason
                    version = resource_version
                    if version is None:
                        version = _first_version(r.attributes or (), version_keys)
                    here = (service, version)
                    origins[here] = origins.get(here, 0) + 1
                    number = severity_number(_either(r.severityNumber, r.severity_number))
                    text = as_text(_either(r.severityText, r.severity_text))
                    append((at, log_event(
                        service, version, at, severity_of(number, text),
                        as_text(json_value(r.body)), hex_id(_either(r.traceId, r.trace_id)),
                        hex_id(_either(r.spanId, r.span_id)))))
        return DecodedBatch(entries, latest(entries), origins, spans=False)


def _first_version(attributes: Sequence[_KeyValue], version_keys: Sequence[str]) -> str | None:
    values: Mapping[str, msgspec.Raw] = {kv.key: kv.value for kv in attributes}
    for key in version_keys:
        raw = values.get(key)
        if raw is not None:
            text = as_text(_value(raw))
            if text:
                return text
    return None


def _exceptions(events: Sequence[msgspec.Raw]) -> tuple[ExceptionRecord, ...]:
    """The exceptions among raw span events, read by the reference (spans with events are
    few: errors)."""
    decoded = [_ANY.decode(raw) for raw in events]
    return tuple(exception_of(e) for e in decoded if e.get("name") == "exception")


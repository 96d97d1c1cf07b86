"""OTLP protobuf (``otlp_proto``) TracesData / LogsData into events: the hot path.

Spans are parsed with the lean schema of :mod:`canarywatch.decode.otlp_lite` (attributes stay
raw bytes, matched by key prefix); service and version are read once per distinct resource
and cached. Logs use the full OTLP classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData

from canarywatch.decode.batch import (
    CountedSpan,
    CountedSpans,
    DecodedBatch,
    Entry,
    batch_of,
    latest,
)
from canarywatch.decode.common import (
    METHOD,
    ROUTE,
    SPAN_ATTRIBUTE_SLOTS,
    STATUS,
    STATUS_CODE_ERROR,
    UNKNOWN_SERVICE,
    VERSION_SLOT,
    EndpointNames,
    any_value,
    as_status,
    as_text,
    kind_of,
    severity_of,
    slots_with_versions,
)
from canarywatch.decode.fastbuild import log_event, span_event
from canarywatch.decode.otlp_lite import LiteTracesData, any_value_raw, status_is_error
from canarywatch.decode.timecheck import (
    MIN_UNIX_NANO,
    BadTimeError,
    check_event_time,
    check_span_times,
)
from canarywatch.events import ExceptionRecord, LogEvent, SpanEvent, SpanKind
from canarywatch.rejects import RejectTally

_KINDS: tuple[SpanKind, ...] = tuple(SpanKind)
_ENTRY_KINDS = frozenset({int(SpanKind.SERVER), int(SpanKind.CONSUMER)})  # what analysis reads
_MAX_CACHED_RESOURCES = 4096
_MAX_CACHED_MEANINGS = 65536

# Current HTTP semantic conventions: method, route and status code. A span of a versioned
# resource that has all three, usable, means what they say whatever else it carries (each is
# the preferred key of its slot and a route outranks RPC names), so three lookups key it; any
# other span is keyed by every attribute the decoder reads.
_HTTP_METHOD = "http.request.method"
_HTTP_ROUTE = "http.route"
_HTTP_STATUS = "http.response.status_code"
_SHORT_SLOTS = (METHOD, ROUTE, STATUS)


def _first_key_of(slot: int) -> str:
    return next(key for key, s in SPAN_ATTRIBUTE_SLOTS.items() if s == slot)


if tuple(map(_first_key_of, _SHORT_SLOTS)) != (_HTTP_METHOD, _HTTP_ROUTE, _HTTP_STATUS):
    raise ImportError("SPAN_ATTRIBUTE_SLOTS no longer prefers the current HTTP keys")
# The meaning of a short key that cannot tell (compared by identity): use the long key.
_LONG_KEY: tuple[str, int | None, str | None] = ("", None, None)


def versions_in(attributes: Iterable[Any], version_keys: Sequence[str]) -> str | None:
    """The first of ``version_keys`` present (non-empty) in OTLP KeyValue attributes."""
    found: dict[str, str] = {}
    wanted = set(version_keys)
    for kv in attributes:
        if kv.key in wanted:
            text = as_text(any_value(kv.value))
            if text:
                found[kv.key] = text
    return next((found[k] for k in version_keys if k in found), None)


def resource_identity(attributes: Iterable[Any],
                      version_keys: Sequence[str]) -> tuple[str, str | None]:
    """``service.name`` and the first present version key of a resource."""
    attributes = list(attributes)
    service = next((kv.value.string_value for kv in attributes if kv.key == "service.name"), "")
    return service or UNKNOWN_SERVICE, versions_in(attributes, version_keys)


class ProtoDecoder:
    """Decodes otlp_proto payloads; one instance per pipeline (it caches resources, names)."""

    def __init__(self, version_keys: Sequence[str], count_group_ns: int = 1,
                 rejects: RejectTally | None = None,
                 path_rules: Mapping[str, str] | None = None) -> None:
        """``count_group_ns``: counted spans are grouped per this much event time (see
        :mod:`canarywatch.decode.batch`); it must divide the evaluation interval. Events with
        impossible times are left out and counted in ``rejects``. ``path_rules``: endpoint
        path templating (see :mod:`canarywatch.decode.endpoints`)."""
        if count_group_ns < 1:
            raise ValueError("count_group_ns must be at least 1")
        self.rejects = rejects if rejects is not None else RejectTally()
        self.version_keys = tuple(version_keys)
        self._group_ns = count_group_ns
        self._slots = slots_with_versions(self.version_keys)
        # The attribute keys looked up on a span, in order of preference per slot; the
        # version keys only when the resource has no version.
        self._keys = tuple(SPAN_ATTRIBUTE_SLOTS)
        self._keys_with_versions = tuple(self._slots)
        self._endpoints = EndpointNames(path_rules)
        self._resources: dict[bytes, tuple[str, str | None]] = {}
        self._resolved: dict[tuple[str | bytes | None, ...],
                             tuple[str, int | None, str | None]] = {}
        self._counted = CountedSpans(_MAX_CACHED_RESOURCES)

    def _resource(self, raw: bytes) -> tuple[str, str | None]:
        found = self._resources.get(raw)
        if found is None:
            found = resource_identity(Resource.FromString(raw).attributes, self.version_keys)
            if len(self._resources) >= _MAX_CACHED_RESOURCES:
                self._resources.clear()
            self._resources[raw] = found
        return found

    def _bad_time(self, origin: str, start: int, end: int,
                  version_of: tuple[str, str | None]) -> None:
        try:
            check_span_times(start, end)
        except BadTimeError as bad:
            self.rejects.reject(origin, bad.reason, f"span of {version_of[0]}: {bad.detail}",
                                version_of=version_of)

    def spans(self, payload: bytes, origin: str = "") -> list[SpanEvent]:
        """Every span of a TracesData; raises protobuf's DecodeError on bad bytes.

        Attributes the lean path cannot read (an empty or cut KeyValue) send the payload
        through the full OTLP classes instead, which decide.
        """
        try:
            return cast(list[SpanEvent],
                        self._spans_lean(payload, count_only=False, where=origin).events)
        except (IndexError, UnicodeDecodeError):
            return self.spans_full(payload, origin)

    def span_batch(self, payload: bytes, origin: str = "") -> DecodedBatch:
        """Like :meth:`spans`, but the spans analysis does not look at are only counted (in
        CountedSpan entries): those neither SERVER nor CONSUMER without span events, and
        those without a version."""
        try:
            return self._spans_lean(payload, count_only=True, where=origin)
        except (IndexError, UnicodeDecodeError):
            return batch_of(self.spans_full(payload, origin))

    def spans_full(self, payload: bytes, origin: str = "") -> list[SpanEvent]:
        """The same as :meth:`spans` through the full OTLP classes (slower, the reference)."""
        out: list[SpanEvent] = []
        slots = self._slots
        for rs in TracesData.FromString(payload).resource_spans:
            service, resource_version = resource_identity(rs.resource.attributes,
                                                          self.version_keys)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    if s.start_time_unix_nano < MIN_UNIX_NANO \
                            or s.end_time_unix_nano < s.start_time_unix_nano:
                        self._bad_time(origin, s.start_time_unix_nano, s.end_time_unix_nano,
                                       (service, resource_version))
                        continue
                    present = {kv.key: kv.value for kv in s.attributes if kv.key in slots}
                    values: dict[int, object] = {}
                    for key in slots:  # the first key of a slot wins; a repeated key: its last
                        if key in present and slots[key] not in values:
                            values[slots[key]] = any_value(present[key])
                    version = resource_version
                    if version is None:
                        ranked = sorted(k for k in values
                                        if k >= VERSION_SLOT and as_text(values[k]))
                        version = as_text(values[ranked[0]]) if ranked else None
                    status = as_status(values.get(STATUS))
                    texts = [v if isinstance(v, str) else None
                             for v in (values.get(i) for i in range(VERSION_SLOT))]
                    exceptions = _exceptions(e.SerializeToString() for e in s.events)
                    out.append(SpanEvent(
                        service, version, s.name, kind_of(s.kind),
                        self._endpoints.name(texts, s.name),
                        s.start_time_unix_nano, s.end_time_unix_nano,
                        s.status.code == STATUS_CODE_ERROR or (status or 0) >= 500,
                        status, s.trace_id.hex(), s.span_id.hex(), exceptions))
        return out

    def _spans_lean(self, payload: bytes, count_only: bool, where: str) -> DecodedBatch:
        entries: list[Entry] = []
        append = entries.append
        origins: dict[tuple[str, str | None], int] = {}
        # Counted spans of a resource version: time group -> [entry index, spans].
        groups: dict[int, list[int]] = {}
        every_group: list[tuple[CountedSpan, dict[int, list[int]]]] = []
        group_ns = self._group_ns
        newest = 0
        kinds, unspecified = _KINDS, SpanKind.UNSPECIFIED
        event, resolved, resolve = span_event, self._resolved, self._resolve
        counted = self._counted
        for rs in LiteTracesData.FromString(payload).resource_spans:
            service, resource_version = self._resource(rs.resource)
            lookups = self._keys if resource_version is not None else self._keys_with_versions
            bare = (counted(service, resource_version)
                    if count_only and resource_version is not None else None)
            if bare is not None:
                groups = {}
                every_group.append((bare, groups))
            for ss in rs.scope_spans:
                spans = ss.spans
                if resource_version is not None:
                    here = (service, resource_version)
                    origins[here] = origins.get(here, 0) + len(spans)
                for s in spans:
                    end = s.end_time_unix_nano
                    start = s.start_time_unix_nano
                    if start < MIN_UNIX_NANO or end < start:  # one test for every bad time
                        self._bad_time(where, start, end, (service, resource_version))
                        if resource_version is not None:
                            origins[here] -= 1
                        continue
                    if end > newest:  # noqa: PLR1730 (cheaper than max() here)
                        newest = end
                    kind = s.kind
                    events = s.events
                    if bare is not None and kind not in _ENTRY_KINDS and not events:
                        group = groups.get(end // group_ns)
                        if group is None:
                            groups[end // group_ns] = [len(entries), 1]
                            append((end, bare))
                        else:
                            group[1] += 1
                        continue
                    name = s.name
                    # The wanted attribute values, still raw, with the name: the key of what
                    # they mean (short for a current-conventions HTTP span, see above).
                    get = s.attributes.get
                    method = get(_HTTP_METHOD)
                    meaning = _LONG_KEY
                    if method is not None and resource_version is not None:
                        key = (name, method, get(_HTTP_ROUTE), get(_HTTP_STATUS))
                        meaning = resolved.get(key) or resolve(key)
                    if meaning is _LONG_KEY:
                        key = (name, *map(get, lookups))
                        meaning = resolved.get(key) or resolve(key)
                    endpoint, status, version = meaning
                    if resource_version is not None:
                        version = resource_version
                    else:
                        origin = (service, version)
                        origins[origin] = origins.get(origin, 0) + 1
                        if count_only and (version is None or (
                                kind not in _ENTRY_KINDS and not events)):
                            append((end, counted(service, version)))
                            continue
                    raw_status = s.status
                    is_error = (status or 0) >= 500 or (bool(raw_status)
                                                        and status_is_error(raw_status))
                    if count_only and not events:  # an entry span (has a version): a SpanRow
                        append((end, (service, version, name,  # type: ignore[arg-type]
                                      kinds[kind], endpoint, start, end,
                                      is_error, status, s.trace_id.hex(), s.span_id.hex(),
                                      ())))
                        continue
                    append((end, event(
                        service, version, name,
                        kinds[kind] if 0 <= kind < 6 else unspecified, endpoint,
                        start, end, is_error, status, s.trace_id.hex(),
                        s.span_id.hex(), _exceptions(events) if events else ())))
        for bare, groups in every_group:
            for index, n in groups.values():
                if n > 1:
                    entries[index] = (entries[index][0],
                                      CountedSpan(bare.service, bare.version, n))
        return DecodedBatch(entries, newest, origins, spans=True)

    def _resolve(self, key: tuple[str | bytes | None, ...],
                 ) -> tuple[str, int | None, str | None]:
        """Endpoint, HTTP status and record-level version from a span's name and the raw
        values of the looked-up attribute keys (None where absent)."""
        name, raws = str(key[0]), key[1:]
        if len(raws) == len(_SHORT_SLOTS):
            return self._remember(key, self._resolve_short(name, raws))
        lookups = self._keys if len(raws) == len(self._keys) else self._keys_with_versions
        texts: dict[int, str] = {}
        status: int | None = None
        version: str | None = None
        taken: set[int] = set()
        for attribute, raw in zip(lookups, raws, strict=True):
            slot = self._slots[attribute]
            if raw is None or slot in taken:
                continue
            value = any_value_raw(cast(bytes, raw))
            if slot >= VERSION_SLOT:  # the first version key with text, in rank order
                text = as_text(value)
                if text and version is None:
                    version = text
                continue
            taken.add(slot)  # the first key present decides its slot, as in spans_full
            if slot == STATUS:
                status = as_status(value)
            elif isinstance(value, str):
                texts[slot] = value
        return self._remember(key, (
            self._endpoints.name([texts.get(i) for i in range(VERSION_SLOT)], name),
            status, version))

    def _resolve_short(self, name: str, raws: tuple[str | bytes | None, ...],
                       ) -> tuple[str, int | None, str | None]:
        """The meaning of (method, route, status), or _LONG_KEY when they cannot decide it
        alone: one is missing or unusable, or the route is empty (RPC names would count)."""
        method_raw, route_raw, status_raw = raws
        if route_raw is None or status_raw is None:
            return _LONG_KEY
        method = any_value_raw(cast(bytes, method_raw))
        route = any_value_raw(cast(bytes, route_raw))
        status = as_status(any_value_raw(cast(bytes, status_raw)))
        if not isinstance(method, str) or not isinstance(route, str) or not route \
                or status is None:
            return _LONG_KEY
        return self._endpoints.http(method, route, name), status, None

    def _remember(self, key: tuple[str | bytes | None, ...],
                  meaning: tuple[str, int | None, str | None],
                  ) -> tuple[str, int | None, str | None]:
        if len(self._resolved) >= _MAX_CACHED_MEANINGS:
            self._resolved.clear()
        self._resolved[key] = meaning
        return meaning

    def logs(self, payload: bytes, origin: str = "") -> list[LogEvent]:
        """Every log record of a LogsData; raises protobuf's DecodeError on bad bytes."""
        return cast(list[LogEvent], self.log_batch(payload, origin).events)

    def log_batch(self, payload: bytes, origin: str = "") -> DecodedBatch:
        """The log records of a LogsData as a batch; raises protobuf's DecodeError. Event
        time is ``time_unix_nano``, else ``observed_time_unix_nano``; a record with neither
        usable is rejected (counted in ``rejects``)."""
        entries: list[Entry] = []
        append = entries.append
        origins: dict[tuple[str, str | None], int] = {}
        version_keys = self.version_keys
        for rl in LogsData.FromString(payload).resource_logs:
            service, resource_version = resource_identity(rl.resource.attributes, version_keys)
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    at = r.time_unix_nano or r.observed_time_unix_nano
                    if at < MIN_UNIX_NANO:
                        try:
                            check_event_time(at, "timeUnixNano" if r.time_unix_nano
                                             else "timeUnixNano and observedTimeUnixNano")
                        except BadTimeError as bad:
                            self.rejects.reject(origin, bad.reason,
                                                f"log record of {service}: {bad.detail}",
                                                version_of=(service, resource_version))
                        continue
                    version = resource_version
                    if version is None:
                        version = versions_in(r.attributes, version_keys)
                    body = r.body
                    text = body.string_value
                    if not text and body.WhichOneof("value") != "string_value":
                        text = as_text(any_value(body))
                    here = (service, version)
                    origins[here] = origins.get(here, 0) + 1
                    append((at, log_event(
                        service, version, at, severity_of(r.severity_number, r.severity_text),
                        text, r.trace_id.hex(), r.span_id.hex())))
        return DecodedBatch(entries, latest(entries), origins, spans=False)


def _exceptions(raw_events: Iterable[bytes]) -> tuple[ExceptionRecord, ...]:
    found: list[ExceptionRecord] = []
    for raw in raw_events:
        event = Span.Event.FromString(raw)
        if event.name != "exception":
            continue
        type_, message = "", ""
        for kv in event.attributes:
            if kv.key == "exception.type":
                type_ = as_text(any_value(kv.value))
            elif kv.key == "exception.message":
                message = as_text(any_value(kv.value))
        found.append(ExceptionRecord(type_, message, event.time_unix_nano))
    return tuple(found)

"""OTLP decoder: TracesData / LogsData as otlp_proto or OTLP/JSON, told apart by first byte.

For ``PayloadKind.OTLP_ANY`` (the collector's file exporter mixes nothing, but a file can hold
either) the decoder also tells traces from logs: JSON by its top-level key, protobuf by the
wire types of the innermost record's fields (a Span's field 1 ``trace_id`` is
length-delimited, a LogRecord's field 1 ``time_unix_nano`` is fixed64, and so on).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from google.protobuf.message import DecodeError as ProtobufDecodeError

from canarywatch.decode.batch import DecodedBatch, batch_of
from canarywatch.decode.otlp_json import JsonDecoder, in_words
from canarywatch.decode.otlp_json_fast import FastJsonDecoder, UnusualRecordError
from canarywatch.decode.otlp_proto import ProtoDecoder
from canarywatch.errors import DecodeError
from canarywatch.events import Event
from canarywatch.rejects import RejectReason, RejectTally
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.detect import (
    Compression,
    decompress_payload,
    looks_binary,
    payload_compression,
)

_T = TypeVar("_T")

log = logging.getLogger(__name__)

_WHITESPACE = b" \t\r\n"
# (field number, wire type) pairs only a Span (resp. only a LogRecord) can carry.
_SPAN_ONLY = frozenset({(1, 2), (2, 2), (4, 2), (6, 0), (7, 1), (8, 1), (10, 0), (11, 2), (12, 0),
                        (13, 2), (14, 0), (15, 2), (16, 5)})
_LOG_ONLY = frozenset({(1, 1), (2, 0), (6, 2), (7, 0), (8, 5), (10, 2), (11, 1), (12, 2)})


def is_json(payload: bytes) -> bool:
    """OTLP/JSON starts with ``{`` or, for an array of messages, ``[`` (after whitespace);
    otlp_proto (almost) never does: see the fallback in :meth:`OtlpDecoder.decode`."""
    return payload[:64].lstrip(_WHITESPACE)[:1] in (b"{", b"[")


class OtlpDecoder:
    """Decodes OTLP records of kind OTLP_SPANS, OTLP_LOGS and OTLP_ANY into events."""

    def __init__(self, version_keys: Sequence[str], count_group_ns: int = 1,
                 rejects: RejectTally | None = None,
                 path_rules: Mapping[str, str] | None = None) -> None:
        """Spans and log records with impossible times are left out and counted in
        ``rejects`` (shared with the pipeline); ``path_rules``: endpoint path templating."""
        self.rejects = rejects if rejects is not None else RejectTally()
        self.proto = ProtoDecoder(version_keys, count_group_ns, self.rejects, path_rules)
        self.json = JsonDecoder(version_keys, self.rejects, path_rules)
        self.fast_json = FastJsonDecoder(self.json, count_group_ns)

    def share_rejects(self, rejects: RejectTally) -> None:
        """Count left-out spans and log records in ``rejects`` from now on."""
        self.rejects = self.proto.rejects = self.json.rejects = rejects

    def decode(self, record: Record) -> Sequence[Event]:
        """The events of one record; DecodeError (with its reason) when it is unreadable."""
        return self._decode_payload(_payload(record), record.kind, record.origin)

    def _decode_payload(self, payload: bytes, kind: PayloadKind, origin: str,
                        ) -> Sequence[Event]:
        if is_json(payload):
            try:
                return self._decode_json(payload, kind, origin)
            except DecodeError as json_error:
                # otlp_proto begins with 0x0A, a newline: whitespace-looking bytes then "{"
                # could in theory still be protobuf, so that is tried before giving up.
                if payload[:1] != b"\n":
                    raise
                try:
                    return self._decode_proto(payload, kind, origin)
                except DecodeError:
                    raise json_error from None
        return self._decode_proto(payload, kind, origin)

    def decode_batch(self, record: Record) -> DecodedBatch:
        """Like :meth:`decode`, with the spans analysis does not read only counted (see
        :mod:`canarywatch.decode.batch`); OTLP/JSON through msgspec's lean schema
        (:mod:`canarywatch.decode.otlp_json_fast`), anything unusual through the reference."""
        payload = _payload(record)
        if is_json(payload):
            try:
                return self.fast_json.batch(payload, record.kind)
            except UnusualRecordError:  # the reference decides (and counts) the unusual
                return batch_of(self._decode_payload(payload, record.kind, record.origin))
        proto = self.proto
        return _read_proto(payload, record.kind, record.origin,
                           proto.span_batch, proto.log_batch)

    def _decode_proto(self, payload: bytes, kind: PayloadKind, origin: str) -> Sequence[Event]:
        return _read_proto(payload, kind, origin, self.proto.spans, self.proto.logs)

    def _decode_json(self, payload: bytes, kind: PayloadKind, origin: str) -> Sequence[Event]:
        try:
            data = json.loads(payload)
        except UnicodeDecodeError:
            raise DecodeError(origin, "OTLP/JSON payload is not UTF-8 text",
                              RejectReason.INVALID_JSON) from None
        except json.JSONDecodeError as exc:
            raise DecodeError(origin, f"not valid OTLP/JSON ({exc.msg} at line {exc.lineno} column "
                              f"{exc.colno})", RejectReason.INVALID_JSON) from None
        except RecursionError:
            raise DecodeError(origin, "OTLP/JSON nested deeper than the decoder can follow",
                              RejectReason.TOO_DEEP) from None
        except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits()
            raise DecodeError(origin, f"not valid OTLP/JSON ({exc})",
                              RejectReason.INVALID_JSON) from None
        if isinstance(data, list):  # a JSON array of TracesData / LogsData objects
            events: list[Event] = []
            for item in data:
                events.extend(self._decode_object(item, kind, origin))
            return events
        return self._decode_object(data, kind, origin)

    def _decode_object(self, data: object, kind: PayloadKind, origin: str) -> Sequence[Event]:
        if not isinstance(data, dict):
            raise DecodeError(origin, f"OTLP/JSON must be an object, not a {type(data).__name__}",
                              RejectReason.NOT_OTLP_JSON)
        spans = "resourceSpans" in data or "resource_spans" in data
        logs = "resourceLogs" in data or "resource_logs" in data
        if kind is PayloadKind.OTLP_ANY:
            if not spans and not logs:
                raise DecodeError(origin, "JSON object has neither resourceSpans nor "
                                  "resourceLogs", RejectReason.NOT_OTLP_JSON)
            kind = PayloadKind.OTLP_SPANS if spans else PayloadKind.OTLP_LOGS
        elif kind in (PayloadKind.OTLP_SPANS, PayloadKind.OTLP_LOGS) and not (
                spans if kind is PayloadKind.OTLP_SPANS else logs):
            # A topic of one signal carrying another (logs or metrics on the spans topic) or
            # JSON that is no OTLP at all: a misrouted pipeline must not look like quiet.
            other = [k for k in ("resourceSpans", "resourceLogs", "resourceMetrics",
                                 "resource_spans", "resource_logs", "resource_metrics")
                     if k in data]
            want = "resourceSpans" if kind is PayloadKind.OTLP_SPANS else "resourceLogs"
            if other:
                raise DecodeError(origin, f"{other[0]} on a {kind.value} topic (expected "
                                  f"{want})", RejectReason.WRONG_KIND)
            raise DecodeError(origin, f"JSON object has no {want}: not OTLP/JSON",
                              RejectReason.NOT_OTLP_JSON)
        try:
            if kind is PayloadKind.OTLP_SPANS:
                return self.json.spans(data, origin)
            if kind is PayloadKind.OTLP_LOGS:
                return self.json.logs(data, origin)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DecodeError(origin, f"malformed OTLP/JSON: {in_words(exc)}",
                              RejectReason.MALFORMED_OTLP) from None
        raise DecodeError(origin, f"the OTLP decoder cannot read {kind.value} records",
                          RejectReason.WRONG_KIND)


def _payload(record: Record) -> bytes:
    """The record's payload, decompressed when it is a gzip / zstd / lz4 message; a
    DecodeError for records a source could not read, empty, corrupt or binary payloads."""
    if record.error is not None:
        raise DecodeError(record.origin, record.error, record.reason)
    payload = record.payload
    if not payload:
        raise DecodeError(record.origin, "empty payload", RejectReason.EMPTY_PAYLOAD)
    if payload[:1] == b"\n":  # otlp_proto: the fast path
        return payload
    compression = payload_compression(payload)
    if compression is not Compression.NONE:
        try:
            payload = decompress_payload(payload, compression)
        except ValueError as exc:
            raise DecodeError(record.origin, str(exc), RejectReason.CORRUPT_COMPRESSION) from None
        if not payload:
            raise DecodeError(record.origin, f"empty {compression.value} message",
                              RejectReason.EMPTY_PAYLOAD)
    return payload


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ProtobufDecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes, pos: int = 0, end: int | None = None,
            ) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of each field of the message in
    ``buf[pos:end]``, read lazily, as positions in ``buf`` (nothing is copied)."""
    end = len(buf) if end is None else end
    while pos < end:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        start = pos
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, start = _varint(buf, pos)
            pos = start + size
        else:
            raise ProtobufDecodeError(f"unsupported wire type {wire}")
        if pos > end:
            raise ProtobufDecodeError("truncated field")
        yield number, wire, start, pos


def _children(buf: bytes, number: int, within: tuple[int, int] | None = None,
              ) -> Iterator[tuple[int, int]]:
    """Where the length-delimited fields ``number`` of the message at ``within`` are."""
    pos, end = within or (0, len(buf))
    return ((s, e) for n, w, s, e in _fields(buf, pos, end) if n == number and w == 2)


def sniff_proto(payload: bytes) -> PayloadKind:
    """Tell an otlp_proto TracesData from a LogsData by the shape of its innermost records.

    Both nest as field 1 -> field 2 -> field 2; the record there is told by the first field
    whose (number, wire type) only one of Span and LogRecord can have. A message with no
    record in it holds no events either way and reads as traces. The walk stops at the
    first field that tells (a file of collector batches is sniffed record by record: copying
    or walking every span of a batch cost a third of decoding it).
    """
    for resource in _children(payload, 1):
        for scope in _children(payload, 2, resource):
            for inner in _children(payload, 2, scope):
                for number, wire, _, _ in _fields(payload, *inner):
                    if (number, wire) in _SPAN_ONLY:
                        return PayloadKind.OTLP_SPANS
                    if (number, wire) in _LOG_ONLY:
                        return PayloadKind.OTLP_LOGS
    return PayloadKind.OTLP_SPANS


def _read_proto(payload: bytes, kind: PayloadKind, origin: str,
                spans: Callable[[bytes, str], _T], logs: Callable[[bytes, str], _T]) -> _T:
    """Read an otlp_proto payload with ``spans`` or ``logs`` by its kind (sniffed for
    OTLP_ANY); a bad message or a kind OTLP cannot hold is a DecodeError for ``origin``."""
    try:
        if kind is PayloadKind.OTLP_ANY:
            kind = sniff_proto(payload)
        if kind is PayloadKind.OTLP_SPANS:
            return spans(payload, origin)
        if kind is PayloadKind.OTLP_LOGS:
            return logs(payload, origin)
    except ProtobufDecodeError:
        what = "binary data" if looks_binary(payload[:512]) else "text"
        raise DecodeError(origin, f"not a valid otlp_proto message (nor OTLP/JSON): {what} "
                          "that does not parse as TracesData or LogsData",
                          RejectReason.INVALID_PROTOBUF) from None
    raise DecodeError(origin, f"the OTLP decoder cannot read {kind.value} records",
                      RejectReason.WRONG_KIND)

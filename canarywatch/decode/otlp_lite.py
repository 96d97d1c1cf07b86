"""A lean, wire-compatible view of OTLP ``TracesData`` for the span hot path.

The protobuf C runtime parses a payload against a private schema that keeps only the span
fields canarywatch reads. Span events, status and resource stay raw ``bytes``. Span
attributes are read as a map from key to the raw ``AnyValue``: a ``KeyValue`` (key = 1,
value = 2) is exactly a map entry on the wire, so the wanted keys are looked up in C and no
Python object is made for the others; only wanted values are decoded (short strings and
integers inline, anything else through the full OTLP classes). Field numbers and wire types
are those of ``opentelemetry/proto/trace/v1/trace.proto``.

The schema is proto2 so that the parser does not check UTF-8: a key that nothing looks up
stays unread even if it is not text (a string the code does read and that is not UTF-8
raises UnicodeDecodeError, and the caller falls back to the full OTLP classes). Keys must be
unique in OTLP; if one repeats, the map keeps its last value.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from canarywatch.decode.common import any_value

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "canarywatch.otlp_lite"

# (message, [(field, number, type, repeated, message type)]); "Span.AttributesEntry" is the
# map entry (key string = 1, value bytes = 2).
_SCHEMA: tuple[tuple[str, tuple[tuple[str, int, int, bool, str], ...]], ...] = (
    ("Span", (
        ("trace_id", 1, _F.TYPE_BYTES, False, ""),
        ("span_id", 2, _F.TYPE_BYTES, False, ""),
        ("name", 5, _F.TYPE_STRING, False, ""),
        ("kind", 6, _F.TYPE_INT32, False, ""),
        ("start_time_unix_nano", 7, _F.TYPE_FIXED64, False, ""),
        ("end_time_unix_nano", 8, _F.TYPE_FIXED64, False, ""),
        ("attributes", 9, _F.TYPE_MESSAGE, True, "Span.AttributesEntry"),
        ("events", 11, _F.TYPE_BYTES, True, ""),
        ("status", 15, _F.TYPE_BYTES, False, ""),
    )),
    ("ScopeSpans", (("spans", 2, _F.TYPE_MESSAGE, True, "Span"),)),
    ("ResourceSpans", (
        ("resource", 1, _F.TYPE_BYTES, False, ""),
        ("scope_spans", 2, _F.TYPE_MESSAGE, True, "ScopeSpans"),
    )),
    ("TracesData", (("resource_spans", 1, _F.TYPE_MESSAGE, True, "ResourceSpans"),)),
)


def _build() -> Any:
    proto = descriptor_pb2.FileDescriptorProto(
        name="canarywatch/otlp_lite_trace.proto", package=_PACKAGE, syntax="proto2")
    for message_name, fields in _SCHEMA:
        message = proto.message_type.add(name=message_name)
        if message_name == "Span":
            entry = message.nested_type.add(name="AttributesEntry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
            entry.field.add(name="value", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
        for name, number, type_, repeated, type_name in fields:
            field = message.field.add(
                name=name, number=number, type=type_,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.TracesData"))


LiteTracesData: Any = _build()

_STATUS_ERROR_TAIL = b"\x18\x02"  # Status.code (field 3, varint) == STATUS_CODE_ERROR


def status_is_error(raw: bytes) -> bool:
    """True when a raw Status message carries code ERROR."""
    if not raw:
        return False
    if raw[-2:] == _STATUS_ERROR_TAIL:  # serializers write fields in number order: code last
        return True
    return bool(Status.FromString(raw).code == Status.STATUS_CODE_ERROR)


def any_value_raw(raw: bytes) -> object:
    """The value of a raw AnyValue: short strings and ints inline, the rest via AnyValue."""
    if len(raw) >= 2:
        tag = raw[0]
        if tag == 0x0A and raw[1] < 0x80 and len(raw) == raw[1] + 2:  # string_value < 128
            return raw[2:].decode()
        if tag == 0x18:  # int_value: a varint that must end the message
            value, end = _varint(raw, 1)
            if end == len(raw):
                return value
    return any_value(AnyValue.FromString(raw))


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` as int64, and the position after it (IndexError if cut)."""
    result = shift = 0
    while True:
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            break
        shift += 7
    # int64 on the wire: ten-byte varints are negative numbers in two's complement.
    return (result - (1 << 64) if result >= 1 << 63 else result), pos

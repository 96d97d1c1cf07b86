"""A lean, wire-compatible view of OTLP ``TracesData`` for the span hot path.

The protobuf C runtime parses a payload against a private schema that keeps only the span
fields canarywatch reads, and declares span attributes, span events, status and resource as
raw ``bytes``. Parsing then builds no Python object per attribute: each attribute is one
``bytes`` whose key is matched by prefix, and only wanted values are decoded (short strings
and integers inline, anything else through the full OTLP classes). Field numbers and wire
types are those of ``opentelemetry/proto/trace/v1/trace.proto``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from canarywatch.decode.common import any_value

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "canarywatch.otlp_lite"

# (message, [(field, number, type, repeated, message type)])
_SCHEMA: tuple[tuple[str, tuple[tuple[str, int, int, bool, str], ...]], ...] = (
    ("Span", (
        ("trace_id", 1, _F.TYPE_BYTES, False, ""),
        ("span_id", 2, _F.TYPE_BYTES, False, ""),
        ("name", 5, _F.TYPE_STRING, False, ""),
        ("kind", 6, _F.TYPE_INT32, False, ""),
        ("start_time_unix_nano", 7, _F.TYPE_FIXED64, False, ""),
        ("end_time_unix_nano", 8, _F.TYPE_FIXED64, False, ""),
        ("attributes", 9, _F.TYPE_BYTES, True, ""),
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
        name="canarywatch/otlp_lite_trace.proto", package=_PACKAGE, syntax="proto3")
    for message_name, fields in _SCHEMA:
        message = proto.message_type.add(name=message_name)
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


def key_prefix(key: str) -> bytes:
    """How a KeyValue with this key begins on the wire (tag, length, key bytes).

    Keys of 128 bytes or more have a two-byte length and are never matched by prefix.
    """
    encoded = key.encode()
    return b"\n" + bytes([len(encoded)]) + encoded if len(encoded) < 128 else b"\xff"


def status_is_error(raw: bytes) -> bool:
    """True when a raw Status message carries code ERROR."""
    if not raw:
        return False
    if raw[-2:] == _STATUS_ERROR_TAIL:  # serializers write fields in number order: code last
        return True
    return bool(Status.FromString(raw).code == Status.STATUS_CODE_ERROR)


def attribute_value(raw: bytes) -> object:
    """The value of a raw KeyValue: short strings and ints inline, the rest via KeyValue."""
    pos = raw[1] + 2
    if raw[pos] == 0x12 and raw[pos + 1] < 0x80:
        tag = raw[pos + 2]
        if tag == 0x0A and raw[pos + 3] < 0x80:  # string_value, length < 128
            return raw[pos + 4:pos + 4 + raw[pos + 3]].decode()
        if tag == 0x18:  # int_value, varint
            return _varint(raw, pos + 3)
    return any_value(KeyValue.FromString(raw).value)


def _varint(buf: bytes, pos: int) -> int:
    result = shift = 0
    while True:
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        pos += 1
        shift += 7
    # int64 on the wire: ten-byte varints are negative numbers in two's complement.
    return result - (1 << 64) if result >= 1 << 63 else result

"""Helpers shared by the OTLP decoders (protobuf and JSON): endpoints, values, ids."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from canarywatch.decode.endpoints import (
    DB_COLLECTION,
    DB_OPERATION,
    DB_SUMMARY,
    METHOD,
    MSG_DESTINATION,
    MSG_OPERATION,
    ROUTE,
    RPC_METHOD,
    RPC_SERVICE,
    SPAN_ATTRIBUTE_SLOTS,
    STATUS,
    URL_PATH,
    VERSION_SLOT,
    EndpointNames,
)
from canarywatch.events import Severity, SpanKind
from canarywatch.sources.detect import looks_binary

__all__ = [
    "DB_COLLECTION", "DB_OPERATION", "DB_SUMMARY", "METHOD", "MSG_DESTINATION", "MSG_OPERATION",
    "ROUTE", "RPC_METHOD", "RPC_SERVICE", "SPAN_ATTRIBUTE_SLOTS", "SPAN_KINDS", "STATUS",
    "STATUS_CODE_ERROR", "UNKNOWN_SERVICE", "URL_PATH", "VERSION_SLOT", "EndpointNames",
    "any_value", "as_status", "as_text", "hex_id", "kind_of", "severity_of",
    "slots_with_versions",
]

UNKNOWN_SERVICE = "unknown_service"
SPAN_KINDS: tuple[SpanKind, ...] = tuple(SpanKind)
STATUS_CODE_ERROR = 2


def slots_with_versions(version_keys: Sequence[str]) -> dict[str, int]:
    """Span attribute slots plus the version keys, ranked in their configured order."""
    slots = dict(SPAN_ATTRIBUTE_SLOTS)
    for rank, key in enumerate(version_keys):
        slots.setdefault(key, VERSION_SLOT + rank)
    return slots


def any_value(value: Any) -> object:
    """An OTLP AnyValue message as a plain Python value (bytes as text, see bytes_text)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return bytes_text(value.bytes_value)
    return getattr(value, which)


def bytes_text(data: bytes) -> str:
    """A ``bytesValue`` as text: its UTF-8 text when it is text, else its hex digits."""
    if not looks_binary(data):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return data.hex()


def kind_of(number: int) -> SpanKind:
    return SPAN_KINDS[number] if 0 <= number < len(SPAN_KINDS) else SpanKind.UNSPECIFIED


_SEVERITY_NAMES: dict[str, int] = {"SEVERITY_NUMBER_UNSPECIFIED": 0, **{
    f"SEVERITY_NUMBER_{name}{'' if step == 0 else step + 1}": base + step
    for base, name in ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"),
                       (21, "FATAL"))
    for step in range(4)}}


def severity_number(value: object) -> int:
    """An OTLP ``severityNumber`` written as an integer, a digit string or an enum name
    (``SEVERITY_NUMBER_ERROR``); 0 (unspecified) when it is none of these."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= 24 else 0
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return severity_number(int(text))
        return _SEVERITY_NAMES.get(text.upper(), 0)
    return 0


# Severity.from_number of 0..24, looked up per log record instead of computed
_SEVERITY_OF_NUMBER: tuple[Severity, ...] = tuple(Severity.from_number(n) for n in range(25))


def severity_of(number: int, text: str) -> Severity:
    """Severity from the OTel severity number, else from its text."""
    if number:
        if 0 < number <= 24:
            return _SEVERITY_OF_NUMBER[number]
        return Severity.from_number(number)
    return Severity.from_text(text) if text else Severity.UNSPECIFIED


def as_status(value: object) -> int | None:
    """An HTTP status code from an int, float or digit string attribute value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def as_text(value: object) -> str:
    """A scalar or structured attribute / body value as text (JSON for lists and maps)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def hex_id(value: object) -> str:
    """A trace or span id as lowercase hex: OTLP/JSON writes hex; the generic proto3 JSON
    mapping (``json_format``) writes base64, padded or not, standard or URL-safe alphabet."""
    if not isinstance(value, str) or not value:
        return ""
    if len(value) in (32, 16):  # base64 of 16 or 8 bytes is never this long: hex
        return value.lower()
    if len(value) in (24, 22, 12, 11):
        padded = value + "=" * (-len(value) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            return value.lower()
        if len(raw) in (16, 8):
            return raw.hex()
    return value.lower()

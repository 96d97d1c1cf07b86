"""Helpers shared by the OTLP decoders (protobuf and JSON): endpoints, values, ids."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from canarywatch.events import Severity, SpanKind
from canarywatch.sources.detect import looks_binary

UNKNOWN_SERVICE = "unknown_service"
SPAN_KINDS: tuple[SpanKind, ...] = tuple(SpanKind)
STATUS_CODE_ERROR = 2

# Slots of the span attributes the decoders read; version keys follow at VERSION_SLOT + rank.
METHOD, ROUTE, STATUS, RPC_SERVICE, RPC_METHOD, VERSION_SLOT = range(6)
SPAN_ATTRIBUTE_SLOTS: dict[str, int] = {
    "http.request.method": METHOD,
    "http.method": METHOD,
    "http.route": ROUTE,
    "http.response.status_code": STATUS,
    "http.status_code": STATUS,
    "rpc.service": RPC_SERVICE,
    "rpc.method": RPC_METHOD,
}


def slots_with_versions(version_keys: Sequence[str]) -> dict[str, int]:
    """Span attribute slots plus the version keys, ranked in their configured order."""
    slots = dict(SPAN_ATTRIBUTE_SLOTS)
    for rank, key in enumerate(version_keys):
        slots.setdefault(key, VERSION_SLOT + rank)
    return slots


class EndpointNames:
    """Builds endpoint names (``GET /cart``, ``svc/Method``, span name) and interns them."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str | None, str | None, str | None, str | None, str], str] = {}

    def name(self, method: str | None, route: str | None, rpc_service: str | None,
             rpc_method: str | None, span_name: str) -> str:
        key = (method, route, rpc_service, rpc_method, span_name)
        found = self._cache.get(key)
        if found is None:
            if route:
                found = f"{method} {route}" if method else route
            elif rpc_service and rpc_method:
                found = f"{rpc_service}/{rpc_method}"
            else:
                found = span_name
            if len(self._cache) < 100_000:  # bounded: route templates are few, names may not be
                self._cache[key] = found
        return found


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


def severity_of(number: int, text: str) -> Severity:
    """Severity from the OTel severity number, else from its text."""
    if number:
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

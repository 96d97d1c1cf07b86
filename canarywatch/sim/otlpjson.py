"""OTLP/JSON as the collector writes it: camelCase, enums as integers, ids as hex.

protobuf's ``json_format`` writes bytes as base64; OTLP/JSON wants trace and span ids as
lowercase hex, so the ids are rewritten after conversion.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(obj: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            obj[key] = base64.b64decode(value).hex()


def to_otlp_json(message: Message) -> dict[str, Any]:
    """An ExportTrace/LogsServiceRequest (or TracesData/LogsData) as an OTLP/JSON object."""
    out: dict[str, Any] = MessageToDict(message, use_integers_for_enums=True)
    for resource_spans in out.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    for resource_logs in out.get("resourceLogs", ()):
        for scope_logs in resource_logs.get("scopeLogs", ()):
            for record in scope_logs.get("logRecords", ()):
                _hex_ids(record)
    return out

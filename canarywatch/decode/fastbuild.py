"""A faster constructor for :class:`SpanEvent`, the object the span hot path makes most.

A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` once per field, which
costs about as much as parsing the span. Writing the slots through their member descriptors
gives an equal object in half the time. Should ``SpanEvent``'s fields ever change, the plain
constructor is used instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from canarywatch.events import SpanEvent

_FIELDS = ("service", "version", "name", "kind", "endpoint", "start_time_unix_nano",
           "end_time_unix_nano", "is_error", "http_status", "trace_id", "span_id", "exceptions")


def _builder() -> Callable[..., SpanEvent]:
    if tuple(f.name for f in dataclasses.fields(SpanEvent)) != _FIELDS:
        return SpanEvent
    new = object.__new__
    slot: dict[str, Any] = {name: SpanEvent.__dict__[name].__set__ for name in _FIELDS}
    s_service, s_version, s_name, s_kind = (slot[n] for n in _FIELDS[:4])
    s_endpoint, s_start, s_end, s_error = (slot[n] for n in _FIELDS[4:8])
    s_status, s_trace, s_span, s_exceptions = (slot[n] for n in _FIELDS[8:])

    def build(  # noqa: PLR0917 (the dataclass's own positional order)
            service: Any, version: Any, name: Any, kind: Any, endpoint: Any, start: Any,
              end: Any, is_error: Any, http_status: Any, trace_id: Any, span_id: Any,
              exceptions: Any) -> SpanEvent:
        event: SpanEvent = new(SpanEvent)
        s_service(event, service)
        s_version(event, version)
        s_name(event, name)
        s_kind(event, kind)
        s_endpoint(event, endpoint)
        s_start(event, start)
        s_end(event, end)
        s_error(event, is_error)
        s_status(event, http_status)
        s_trace(event, trace_id)
        s_span(event, span_id)
        s_exceptions(event, exceptions)
        return event

    return build


span_event: Callable[..., SpanEvent] = _builder()

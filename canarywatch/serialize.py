"""Plain-JSON forms of events and verdicts, for state snapshots and the summaries."""

from __future__ import annotations

from typing import Any

from canarywatch.events import (
    Action,
    Event,
    ExceptionRecord,
    LogEvent,
    Reason,
    Severity,
    Signal,
    SpanEvent,
    SpanKind,
    Verdict,
)

_REASON_FIELDS = {"signal", "summary", "failed", "p_value", "effect_size", "endpoint",
                  "template_id", "template", "baseline_count", "canary_count"}


def event_to_json(ev: Event) -> dict[str, Any]:
    if isinstance(ev, SpanEvent):
        return {
            "t": "span", "service": ev.service, "version": ev.version, "name": ev.name,
            "kind": int(ev.kind), "endpoint": ev.endpoint,
            "start": ev.start_time_unix_nano, "end": ev.end_time_unix_nano,
            "error": ev.is_error, "status": ev.http_status, "trace_id": ev.trace_id,
            "span_id": ev.span_id,
            "exceptions": [[x.type, x.message, x.time_unix_nano] for x in ev.exceptions],
        }
    return {"t": "log", "service": ev.service, "version": ev.version,
            "time": ev.time_unix_nano, "severity": int(ev.severity), "body": ev.body,
            "trace_id": ev.trace_id, "span_id": ev.span_id}


def event_from_json(data: dict[str, Any]) -> Event:
    if data["t"] == "span":
        return SpanEvent(
            service=data["service"], version=data["version"], name=data["name"],
            kind=SpanKind(data["kind"]), endpoint=data["endpoint"],
            start_time_unix_nano=int(data["start"]), end_time_unix_nano=int(data["end"]),
            is_error=bool(data["error"]), http_status=data["status"],
            trace_id=data["trace_id"], span_id=data["span_id"],
            exceptions=tuple(ExceptionRecord(t, m, int(at)) for t, m, at in data["exceptions"]),
        )
    return LogEvent(service=data["service"], version=data["version"],
                    time_unix_nano=int(data["time"]), severity=Severity(data["severity"]),
                    body=data["body"], trace_id=data["trace_id"], span_id=data["span_id"])


def reason_from_json(data: dict[str, Any]) -> Reason:
    details = tuple((k, v) for k, v in data.items() if k not in _REASON_FIELDS)
    return Reason(
        signal=Signal(data["signal"]), summary=data["summary"], failed=bool(data["failed"]),
        p_value=data.get("p_value"), effect_size=data.get("effect_size"),
        endpoint=data.get("endpoint"), template_id=data.get("template_id"),
        template=data.get("template"), baseline_count=int(data.get("baseline_count", 0)),
        canary_count=int(data.get("canary_count", 0)), details=details,
    )


def verdict_from_json(data: dict[str, Any]) -> Verdict:
    return Verdict(
        service=data["service"], baseline_version=data["baseline_version"],
        canary_version=data["canary_version"], action=Action(data["action"]),
        at_unix_nano=int(data["at_unix_nano"]), score=float(data["score"]),
        reasons=tuple(reason_from_json(r) for r in data.get("reasons", [])),
    )

"""Typed values that cross pipeline stages: decoded events, template matches, verdicts.

Every timestamp is event time in Unix nanoseconds (``*_unix_nano``); durations carry their
unit in the name. Nothing here touches the outside world.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone


class Severity(enum.IntEnum):
    """OpenTelemetry severity number ranges, reduced to their base level."""

    UNSPECIFIED = 0
    TRACE = 1
    DEBUG = 5
    INFO = 9
    WARN = 13
    ERROR = 17
    FATAL = 21

    @classmethod
    def from_number(cls, number: int) -> Severity:
        """Map an OTel severity number (1-24) to its level; 0 or out of range is UNSPECIFIED."""
        if number <= 0 or number > 24:
            return cls.UNSPECIFIED
        for level in (cls.FATAL, cls.ERROR, cls.WARN, cls.INFO, cls.DEBUG, cls.TRACE):
            if number >= level:
                return level
        return cls.UNSPECIFIED

    @classmethod
    def from_text(cls, text: str) -> Severity:
        """Map a level name in any spelling (``error``, ``WARNING``, ``E``, ``crit``,
        ``Information``, ``ERROR2``, ``SEVERITY_NUMBER_WARN``, ``<3>`` ...) to its level."""
        word = text.strip().upper()
        found = _SEVERITY_TEXT.get(word)
        if found is not None:
            return found
        word = word.strip("[]<>():").removeprefix("SEVERITY_NUMBER_").rstrip("0123456789")
        return _SEVERITY_TEXT.get(word, cls.UNSPECIFIED)


_SEVERITY_TEXT: dict[str, Severity] = {
    "TRACE": Severity.TRACE, "T": Severity.TRACE,
    "DEBUG": Severity.DEBUG, "D": Severity.DEBUG, "FINE": Severity.DEBUG,
    "INFO": Severity.INFO, "I": Severity.INFO, "NOTICE": Severity.INFO,
    "INFORMATION": Severity.INFO,
    "WARN": Severity.WARN, "WARNING": Severity.WARN, "W": Severity.WARN,
    "ERROR": Severity.ERROR, "ERR": Severity.ERROR, "E": Severity.ERROR,
    "SEVERE": Severity.ERROR,
    "FATAL": Severity.FATAL, "CRITICAL": Severity.FATAL, "CRIT": Severity.FATAL,
    "F": Severity.FATAL, "EMERG": Severity.FATAL, "ALERT": Severity.FATAL,
    "PANIC": Severity.FATAL,
    # more spellings real loggers write (logrus, zap, .NET, syslog, java.util.logging ...)
    "TRC": Severity.TRACE, "FINEST": Severity.TRACE, "FINER": Severity.DEBUG,
    "DBG": Severity.DEBUG, "VERBOSE": Severity.DEBUG,
    "INF": Severity.INFO, "INFORMATIONAL": Severity.INFO, "CONFIG": Severity.INFO,
    "WRN": Severity.WARN, "WARNG": Severity.WARN,
    "ERRO": Severity.ERROR, "ERRORS": Severity.ERROR, "EROR": Severity.ERROR,
    "DPANIC": Severity.FATAL, "FTL": Severity.FATAL, "CRT": Severity.FATAL,
    "EMERGENCY": Severity.FATAL,
}


class SpanKind(enum.IntEnum):
    """OTLP span kinds, numbered as on the wire."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """An exception recorded as a span event (``exception.type`` / ``exception.message``)."""

    type: str
    message: str
    time_unix_nano: int


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """One decoded span, with the version of the process that produced it."""

    service: str
    version: str | None
    name: str
    kind: SpanKind
    endpoint: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    is_error: bool
    http_status: int | None
    trace_id: str  # lowercase hex, "" when absent
    span_id: str
    exceptions: tuple[ExceptionRecord, ...] = ()

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_time_unix_nano - self.start_time_unix_nano) / 1e6

    @property
    def is_entry(self) -> bool:
        """SERVER and CONSUMER spans are the requests a service answers."""
        return self.kind in (SpanKind.SERVER, SpanKind.CONSUMER)


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One decoded log record."""

    service: str
    version: str | None
    time_unix_nano: int
    severity: Severity
    body: str
    trace_id: str = ""
    span_id: str = ""
    # A structured line's fields other than its message, level, time, service, version and
    # trace context, as (name, text) pairs: evidence shown with example lines, never mined.
    attributes: tuple[tuple[str, str], ...] = ()


Event = SpanEvent | LogEvent


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """Where the template miner put one log line."""

    template_id: int
    template: str
    is_new_template: bool


class Action(str, enum.Enum):
    """What a router should do with a canary."""

    CONTINUE = "continue"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


# The summary start of the reason a thin-data look carries (the judge writes it; reports tell
# "no data" from "not enough yet" by it and its ``canary_count`` / ``canary_logs``).
NOT_ENOUGH_DATA = "not enough canary data yet"


class Signal(str, enum.Enum):
    LOG_SIGNATURE = "log_signature"
    ERROR_RATE = "error_rate"
    LATENCY = "latency"


@dataclass(frozen=True, slots=True)
class Reason:
    """Evidence for a verdict: one signal on one template or endpoint.

    ``details`` carries signal-specific evidence as JSON-ready scalars and lists (counts,
    rates, example lines with trace ids, template text); ``summary`` is one human sentence.
    """

    signal: Signal
    summary: str
    failed: bool
    p_value: float | None = None
    effect_size: float | None = None
    endpoint: str | None = None
    template_id: int | None = None
    template: str | None = None
    baseline_count: int = 0
    canary_count: int = 0
    details: tuple[tuple[str, object], ...] = ()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "signal": self.signal.value,
            "summary": self.summary,
            "failed": self.failed,
            "baseline_count": self.baseline_count,
            "canary_count": self.canary_count,
        }
        if self.p_value is not None:
            out["p_value"] = self.p_value
        if self.effect_size is not None:
            out["effect_size"] = self.effect_size
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        if self.template_id is not None:
            out["template_id"] = self.template_id
        if self.template is not None:
            out["template"] = self.template
        for key, value in self.details:
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one canary version of one service at one moment of event time."""

    service: str
    baseline_version: str
    canary_version: str
    action: Action
    at_unix_nano: int
    score: float
    reasons: tuple[Reason, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {
            "type": "verdict",
            "service": self.service,
            "baseline_version": self.baseline_version,
            "canary_version": self.canary_version,
            "action": self.action.value,
            "at_unix_nano": self.at_unix_nano,
            "at": format_unix_nano(self.at_unix_nano),
            "score": self.score,
            "reasons": [r.to_json() for r in self.reasons],
        }

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.canary_version)


def format_unix_nano(t_unix_nano: int) -> str:
    """RFC 3339 UTC with second precision, as verdict lines carry it."""
    dt = datetime.fromtimestamp(t_unix_nano // 1_000_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

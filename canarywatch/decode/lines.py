"""One log line per record: JSON objects with mapped fields, or plain text.

A line without a usable time takes the previous line's time from the same stream (file or
topic partition), or 0 when there is none; such lines are counted and the first one of each
stream is logged. Service and version come from the line, else from the record (topics with
a fixed service), else from ``logs.default_service`` / ``logs.default_version``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence

from canarywatch.config import LogFieldMapping, LogInputConfig
from canarywatch.decode.common import as_text
from canarywatch.decode.structured import (
    ERROR_FIELDS,
    LEVEL_FIELDS,
    MESSAGE_FIELDS,
    TIME_FIELDS,
    first_field,
)
from canarywatch.decode.timecheck import MAX_UINT64, MIN_UNIX_NANO
from canarywatch.decode.timefmt import leading_time, parse_time
from canarywatch.errors import DecodeError
from canarywatch.events import Event, LogEvent, Severity
from canarywatch.rejects import RejectReason
from canarywatch.sources.base import Record
from canarywatch.sources.detect import looks_binary

log = logging.getLogger(__name__)

_PINO_LEVELS = {10: Severity.TRACE, 20: Severity.DEBUG, 30: Severity.INFO, 40: Severity.WARN,
                50: Severity.ERROR, 60: Severity.FATAL}
_LEVEL_WORDS = ("TRACE|DEBUG|INFO|INFORMATION|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL"
                "|CRITICAL|CRIT|PANIC|ALERT|EMERG")
# A level right at the start of the rest of the line: "ERROR x", "[error] x", "<WARN>: x".
_LEADING_LEVEL = re.compile(
    rf"\s*(?:({_LEVEL_WORDS})|[\[(<](?i:({_LEVEL_WORDS}))[\])>]):?(?=\s|$)\s*")
# A level further on: an upper-case word, a bracketed word, or level=word.
_LATER_LEVEL = re.compile(
    rf"\b({_LEVEL_WORDS})\b|\[(?i:({_LEVEL_WORDS}))\]|\blevel=\"?(?i:({_LEVEL_WORDS}))\b")


def lookup(obj: Mapping[str, object], path: str) -> object:
    """The value at a dotted path; a key that itself contains dots is found too."""
    if path in obj:
        return obj[path]
    head = ""
    for part in path.split("."):
        head = f"{head}.{part}" if head else part
        child = obj.get(head)
        if isinstance(child, Mapping) and head != path:
            found = lookup(child, path[len(head) + 1:])
            if found is not None:
                return found
    return None


def level_of(value: object) -> Severity:
    """A JSON level field: a name, an OTel severity number, or a pino/bunyan number."""
    if isinstance(value, str):
        return Severity.from_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _PINO_LEVELS.get(value, Severity.UNSPECIFIED) if value > 24 \
            else Severity.from_number(value)
    return Severity.UNSPECIFIED


def _stream_of(origin: str) -> str:
    """``file:line`` -> ``file``; ``topic:partition:offset`` -> ``topic:partition``."""
    return origin.rpartition(":")[0] or origin


class _Clock:
    """The last known time per stream, for lines that carry none."""

    def __init__(self) -> None:
        self._last_ns: dict[str, int] = {}
        self.untimed = 0

    def resolve(self, origin: str, at_ns: int | None) -> int:
        stream = _stream_of(origin)
        if at_ns is not None:
            self._last_ns[stream] = at_ns
            return at_ns
        self.untimed += 1
        previous = self._last_ns.get(stream)
        if previous is None:
            self._last_ns[stream] = 0
            log.warning("%s: log line without a usable timestamp; using time 0 and then the "
                        "previous line's time for such lines in this stream", origin)
            return 0
        return previous


class _LineDecoder:
    """What both line decoders share: the defaults for lines that name no service or version,
    and the clock for lines without a time."""

    def __init__(self, default_service: str, default_version: str | None) -> None:
        self.default_service = default_service
        self.default_version = default_version
        self._clock = _Clock()

    @property
    def untimed(self) -> int:
        """Lines so far that had no usable time."""
        return self._clock.untimed


class JsonLineDecoder(_LineDecoder):
    """One JSON object per record; field paths from a LogFieldMapping.

    Where the mapped message or level field is absent, the names structured loggers use
    (``msg``, ``log``, ``event`` ...; ``severity``, ``lvl`` ...; ``ts``, ``@timestamp`` ...)
    are tried in turn. An error
    or stack-trace field (``error``, ``stack_trace`` ...) joins the body: a multi-line one
    on the lines after the message, as a text log writes it.
    """

    def __init__(self, fields: LogFieldMapping | None = None, default_service: str = "unknown",
                 default_version: str | None = None) -> None:
        super().__init__(default_service, default_version)
        self.fields = fields or LogFieldMapping()

    @classmethod
    def from_config(cls, logs: LogInputConfig) -> JsonLineDecoder:
        return cls(logs.fields, logs.default_service, logs.default_version)

    def decode(self, record: Record) -> Sequence[Event]:
        if record.error is not None:
            raise DecodeError(record.origin, record.error, record.reason)
        try:
            obj = json.loads(record.payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(record.origin, f"not a JSON log line: {exc}",
                              RejectReason.NOT_A_JSON_LOG) from None
        if not isinstance(obj, dict):
            raise DecodeError(record.origin, "a JSON log line must be an object",
                              RejectReason.NOT_A_JSON_LOG)
        f = self.fields
        used: set[str] = set()
        message = lookup(obj, f.message)
        if message is None:  # structured loggers' own names: msg, log, event ...
            found = first_field(obj, MESSAGE_FIELDS, text_only=True)
            message = None if found is None else found[1]
            used.add("" if found is None else found[0])
        if message is None:
            raise DecodeError(record.origin,
                              f"no message at {f.message!r} (logs.fields.message)",
                              RejectReason.NO_MESSAGE)
        body = as_text(message)
        error = first_field(obj, ERROR_FIELDS)
        if error is not None and error[1] is not message:
            # A stack trace or error beside the message is part of the record (logback's
            # JSON encoders write ``stack_trace``, zap ``error``): the signature needs it.
            used.add(error[0])
            cause = as_text(error[1]).strip()
            body = f"{body}\n{cause}" if "\n" in cause else f"{body} {error[0]}: {cause}"
        service = as_text(lookup(obj, f.service)) or record.service or self.default_service
        version = as_text(lookup(obj, f.version)) or record.version or self.default_version
        mapped = lookup(obj, f.trace_id)  # as the user mapped it, whatever its form
        trace_id = mapped.lower() if isinstance(mapped, str) and mapped else _context_id(
            obj, TRACE_ID_FIELDS, (16, 32), used)
        span_id = _context_id(obj, SPAN_ID_FIELDS, (16,), used)
        at_ns = parse_time(self._time(obj, used))
        if at_ns is not None and not MIN_UNIX_NANO <= at_ns <= MAX_UINT64:
            raise DecodeError(record.origin, f"time field {f.time!r} holds {at_ns} ns, before "
                              "2000-01-01 or beyond the uint64 range",
                              RejectReason.TIME_BEFORE_2000 if at_ns < MIN_UNIX_NANO
                              else RejectReason.TIME_BEYOND_UINT64)
        severity = self._level(obj, used)
        used.update((f.message, f.service, f.version, f.trace_id))
        return (LogEvent(
            service, version, self._clock.resolve(record.origin, at_ns), severity, body,
            trace_id, span_id, _attributes(obj, used)),)

    def _time(self, obj: dict[str, object], used: set[str]) -> object:
        return _mapped_or_known(obj, self.fields.time, TIME_FIELDS, used)

    def _level(self, obj: dict[str, object], used: set[str]) -> Severity:
        return level_of(_mapped_or_known(obj, self.fields.level, LEVEL_FIELDS, used))


def _mapped_or_known(obj: dict[str, object], path: str, known: tuple[str, ...],
                     used: set[str]) -> object:
    """The value at the mapped ``path``, else at the first of the ``known`` names present;
    the names read are added to ``used``."""
    used.add(path)
    value = lookup(obj, path)
    if value is None:
        found = first_field(obj, known)
        if found is not None:
            used.add(found[0])
            value = found[1]
    return value


# Where structured loggers put the trace context (after ``logs.fields.trace_id``): the
# OpenTelemetry Java agent's MDC (``trace_id``), OTLP/JSON and Micrometer/Sleuth
# (``traceId``), Elastic Common Schema (``trace.id``), OpenTelemetry Python's logging
# instrumentation (``otelTraceID``), Google Cloud Logging (``logging.googleapis.com/trace``,
# ``projects/P/traces/ID``).
TRACE_ID_FIELDS = ("trace_id", "traceId", "trace.id", "traceid", "otelTraceID",
                   "logging.googleapis.com/trace")
SPAN_ID_FIELDS = ("span_id", "spanId", "span.id", "spanid", "otelSpanID",
                  "logging.googleapis.com/spanId")
MAX_ATTRIBUTES = 16  # fields kept per line as evidence
MAX_ATTRIBUTE_CHARS = 200


def _hex_id(value: object, lengths: tuple[int, ...]) -> str:
    """A W3C trace-context id (lower-case hex of one of ``lengths``), else ""."""
    if not isinstance(value, str):
        return ""
    text = value.rpartition("/")[2].strip().lower()  # GCP: projects/P/traces/ID
    if len(text) in lengths and all(c in "0123456789abcdef" for c in text) \
            and text.strip("0"):
        return text
    return ""


def _context_id(obj: Mapping[str, object], names: tuple[str, ...], lengths: tuple[int, ...],
                used: set[str]) -> str:
    for name in names:
        value = obj.get(name)
        if value is None and "." in name:
            value = lookup(obj, name)
        if value is not None:
            used.add(name)
            return _hex_id(value, lengths)
    return ""


def _attributes(obj: Mapping[str, object], used: set[str]) -> tuple[tuple[str, str], ...]:
    """The fields of a line that are neither its message nor what was read from it, as
    (name, text) pairs: at most MAX_ATTRIBUTES, each cut at MAX_ATTRIBUTE_CHARS."""
    out: list[tuple[str, str]] = []
    heads = {path.partition(".")[0] for path in used}  # an object a read path went into
    for name, value in obj.items():
        if name in used or name in heads or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)[
            :MAX_ATTRIBUTE_CHARS] if isinstance(value, (dict, list)) else as_text(value)
        out.append((name, text[:MAX_ATTRIBUTE_CHARS]))
        if len(out) >= MAX_ATTRIBUTES:
            break
    return tuple(out)


class TextLineDecoder(_LineDecoder):
    """One plain-text line per record: best-effort leading timestamp and level."""

    def __init__(self, default_service: str = "unknown",
                 default_version: str | None = None) -> None:
        super().__init__(default_service, default_version)

    @classmethod
    def from_config(cls, logs: LogInputConfig) -> TextLineDecoder:
        return cls(logs.default_service, logs.default_version)

    def decode(self, record: Record) -> Sequence[Event]:
        if record.error is not None:
            raise DecodeError(record.origin, record.error, record.reason)
        try:
            line = record.payload.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            if looks_binary(record.payload):
                raise DecodeError(record.origin, "binary data, not a text log line",
                                  RejectReason.BINARY_CONTENT) from None
            line = record.payload.decode("utf-8", errors="replace").rstrip("\r\n")
        else:
            if looks_binary(record.payload):
                raise DecodeError(record.origin, "control characters, not a text log line",
                                  RejectReason.BINARY_CONTENT)
        if not line.strip():
            raise DecodeError(record.origin, "empty log line", RejectReason.EMPTY_LINE)
        at_ns, rest_at = leading_time(line)
        severity, body = split_level(line[rest_at:])
        return (LogEvent(
            record.service or self.default_service, record.version or self.default_version,
            self._clock.resolve(record.origin, at_ns), severity, body or line.strip()),)


def split_level(rest: str) -> tuple[Severity, str]:
    """The level of a line (after its timestamp) and the message with a leading level cut."""
    match = _LEADING_LEVEL.match(rest)
    if match:
        word = match.group(1) or match.group(2)
        return Severity.from_text(word), rest[match.end():].strip()
    later = _LATER_LEVEL.search(rest, 0, 80)
    if later:
        word = later.group(1) or later.group(2) or later.group(3)
        return Severity.from_text(word), rest.strip()
    return Severity.UNSPECIFIED, rest.strip()

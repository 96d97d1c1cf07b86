"""JSON-lines and plain-text log decoders: mapped fields, times, levels, defaults."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from canarywatch.config import LogFieldMapping
from canarywatch.decode.lines import JsonLineDecoder, TextLineDecoder
from canarywatch.errors import DecodeError
from canarywatch.events import LogEvent, Severity
from canarywatch.sources.base import PayloadKind, Record

UTC = timezone.utc


def ns(dt: datetime, extra_ns: int = 0) -> int:
    """Unix ns of an aware datetime (whole seconds) plus a sub-second part."""
    return int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000 + extra_ns


def json_record(obj: object, origin: str = "app.log:1", service: str | None = None,
                version: str | None = None) -> Record:
    return Record(json.dumps(obj).encode(), PayloadKind.LOG_JSON, origin, service=service,
                  version=version)


def one(events: object) -> LogEvent:
    assert isinstance(events, tuple) and len(events) == 1
    event = events[0]
    assert isinstance(event, LogEvent)
    return event


def test_json_line_with_default_mapping() -> None:
    """message, level, service, version, time (RFC 3339, ns, offset) and trace_id are read."""
    line = {"time": "2026-11-20T11:05:12.123456789+01:00", "level": "error",
            "message": "payment gateway timeout after 3000 ms for order 8812",
            "service": "checkout", "version": "1.5.0",
            "trace_id": "5BCB0B6F4130776240D8B6A2D487B2B8"}
    event = one(JsonLineDecoder().decode(json_record(line)))
    assert event.time_unix_nano == ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC), 123456789)
    assert (event.severity, event.service, event.version) == (Severity.ERROR, "checkout", "1.5.0")
    assert event.body == "payment gateway timeout after 3000 ms for order 8812"
    assert event.trace_id == "5bcb0b6f4130776240d8b6a2d487b2b8"


def test_dotted_paths_reach_nested_and_flat_dotted_keys() -> None:
    """A dotted path finds nested objects and keys that themselves contain dots."""
    fields = LogFieldMapping(message="log.msg", level="log.level", service="resource.service.name",
                             version="k8s.labels.version", time="@timestamp",
                             trace_id="trace.id")
    line = {"log": {"msg": "hello", "level": "WARN"}, "resource": {"service.name": "cart"},
            "k8s": {"labels": {"version": "3"}}, "@timestamp": 1795000000.5,
            "trace": {"id": "abc"}}
    event = one(JsonLineDecoder(fields).decode(json_record(line)))
    assert (event.body, event.severity, event.service, event.version) == (
        "hello", Severity.WARN, "cart", "3")
    assert (event.time_unix_nano, event.trace_id) == (1_795_000_000_500_000_000, "abc")


@pytest.mark.parametrize(("value", "expected"), [
    (1795000000, 1_795_000_000_000_000_000),
    (1795000000123, 1_795_000_000_123_000_000),
    (1795000000123456, 1_795_000_000_123_456_000),
    (1795000000123456789, 1_795_000_000_123_456_789),
    ("1795000000123", 1_795_000_000_123_000_000),
    ("2026-11-20T10:05:12Z", ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC))),
    ("2026-11-20 10:05:12,250", ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC), 250_000_000)),
])
def test_epoch_units_and_time_strings(value: object, expected: int) -> None:
    """Epoch seconds / ms / µs / ns are told by magnitude; RFC 3339 variants are parsed."""
    event = one(JsonLineDecoder().decode(json_record({"message": "m", "time": value})))
    assert event.time_unix_nano == expected


@pytest.mark.parametrize(("level", "expected"), [
    (30, Severity.INFO), (50, Severity.ERROR), (60, Severity.FATAL), (17, Severity.ERROR),
    ("Warning", Severity.WARN), ("crit", Severity.FATAL), (None, Severity.UNSPECIFIED),
])
def test_levels_by_name_otel_number_or_pino_number(level: object, expected: Severity) -> None:
    """Level names, OTel severity numbers and pino's 10..60 levels all map to a Severity."""
    event = one(JsonLineDecoder().decode(json_record({"message": "m", "level": level})))
    assert event.severity is expected


def test_service_and_version_fall_back_to_record_then_defaults() -> None:
    """A line without service/version takes the record's, then the configured defaults."""
    decoder = JsonLineDecoder(default_service="svc", default_version="0.9")
    from_record = one(decoder.decode(json_record({"message": "m"}, service="topic-svc",
                                                 version="2.0")))
    from_defaults = one(decoder.decode(json_record({"message": "m"})))
    from_line = one(decoder.decode(json_record({"message": "m", "service": "own"},
                                               service="topic-svc")))
    assert (from_record.service, from_record.version) == ("topic-svc", "2.0")
    assert (from_defaults.service, from_defaults.version) == ("svc", "0.9")
    assert from_line.service == "own"


def test_missing_time_uses_previous_line_of_the_same_stream() -> None:
    """An untimed line takes the previous line's time in its stream, 0 first; it is counted."""
    decoder = JsonLineDecoder()
    first = one(decoder.decode(json_record({"message": "a"}, "a.log:1")))
    timed = one(decoder.decode(json_record({"message": "b", "time": 1795000000}, "a.log:2")))
    after = one(decoder.decode(json_record({"message": "c", "time": "garbage"}, "a.log:3")))
    other = one(decoder.decode(json_record({"message": "d"}, "b.log:1")))
    assert (first.time_unix_nano, timed.time_unix_nano) == (0, 1_795_000_000_000_000_000)
    assert after.time_unix_nano == timed.time_unix_nano
    assert other.time_unix_nano == 0
    assert decoder.untimed == 3


@pytest.mark.parametrize("payload", [b"{not json", b"[1,2]", b'{"note": "no message field"}',
                                     b"\xff\xfe"])
def test_bad_json_lines_raise_decode_error(payload: bytes) -> None:
    """Broken JSON, non-objects and lines without the mapped message raise DecodeError."""
    with pytest.raises(DecodeError) as info:
        JsonLineDecoder().decode(Record(payload, PayloadKind.LOG_JSON, "app.log:7"))
    assert info.value.origin == "app.log:7"


def test_missing_message_names_the_config_key() -> None:
    """The error for a line without a message names logs.fields.message."""
    with pytest.raises(DecodeError, match=r"logs\.fields\.message"):
        JsonLineDecoder().decode(json_record({"note": "x"}))


def test_structured_logger_field_names_are_found() -> None:
    """Without the mapped fields, msg / severity as zap, pino or logrus write them are used."""
    (ev,) = JsonLineDecoder().decode(json_record({"msg": "db down", "severity": "error"}))
    assert isinstance(ev, LogEvent)
    assert (ev.body, ev.severity) == ("db down", Severity.ERROR)


def text(line: str, origin: str = "app.txt:1", decoder: TextLineDecoder | None = None,
         ) -> LogEvent:
    decoder = decoder or TextLineDecoder(default_service="web", default_version="1")
    return one(decoder.decode(Record(line.encode(), PayloadKind.LOG_TEXT, origin)))


@pytest.mark.parametrize(("line", "at", "severity", "body"), [
    ("2026-11-20T10:05:12.5Z ERROR payment failed for order 12",
     ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC), 500_000_000), Severity.ERROR,
     "payment failed for order 12"),
    ("2026-11-20 10:05:12,123 WARN  [main] pool low",
     ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC), 123_000_000), Severity.WARN,
     "[main] pool low"),
    ("[2026-11-20 12:05:12+02:00] [info] started",
     ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC)), Severity.INFO, "started"),
    ("1795000000 level=error db down", 1_795_000_000_000_000_000, Severity.ERROR,
     "level=error db down"),
])
def test_text_lines_leading_time_and_level(line: str, at: int, severity: Severity,
                                           body: str) -> None:
    """A leading timestamp and level are read and cut from the body."""
    event = text(line)
    assert (event.time_unix_nano, event.severity, event.body) == (at, severity, body)
    assert (event.service, event.version) == ("web", "1")


def test_apache_lines_from_loghub(loghub_dir: Path) -> None:
    """Real Apache lines from loghub: bracketed date and level are read."""
    path = loghub_dir / "Apache" / "Apache_2k.log"
    first, second = path.read_text().splitlines()[:2]
    decoder = TextLineDecoder()
    a, b = text(first, decoder=decoder), text(second, decoder=decoder)
    assert a.time_unix_nano == ns(datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC))
    assert a.severity is Severity.INFO  # [notice]
    assert a.body == "workerEnv.init() ok /etc/httpd/conf/workers2.properties"
    assert (b.severity, b.body) == (Severity.ERROR, "mod_jk child workerEnv in error state 6")


def test_text_without_time_uses_previous_and_keeps_whole_line() -> None:
    """A line with no timestamp takes the previous line's time and keeps its text."""
    decoder = TextLineDecoder()
    text("2026-11-20T10:05:12Z INFO first", "x.log:1", decoder)
    event = text("    at com.shop.Cart.apply(Cart.java:12)", "x.log:2", decoder)
    assert event.time_unix_nano == ns(datetime(2026, 11, 20, 10, 5, 12, tzinfo=UTC))
    assert (event.severity, event.body) == (Severity.UNSPECIFIED,
                                            "at com.shop.Cart.apply(Cart.java:12)")
    assert decoder.untimed == 1


def test_record_service_overrides_text_default() -> None:
    """A text record from a topic with a fixed service carries that service and version."""
    record = Record(b"INFO hi", PayloadKind.LOG_TEXT, "t:0:1", service="cart", version="9")
    event = one(TextLineDecoder().decode(record))
    assert (event.service, event.version, event.severity) == ("cart", "9", Severity.INFO)


def test_timezone_offsets_round_trip() -> None:
    """Negative offsets shift forward to UTC."""
    event = one(JsonLineDecoder().decode(json_record(
        {"message": "m", "time": "2026-11-20T05:05:12-05:00"})))
    expected = datetime(2026, 11, 20, 5, 5, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert event.time_unix_nano == ns(expected)


def test_a_json_lines_other_fields_are_kept_as_attributes_not_body() -> None:
    """Fields beyond message, level, time, service, version and trace context are the
    event's attributes (evidence), in the line's order, values as text."""
    line = {"ts": 1763636712.5, "level": "error", "msg": "payment declined",
            "service": "checkout", "version": "1.5.0", "order_id": 8812, "retry": True,
            "card": {"brand": "visa"}, "empty": "", "trace_id": "5bcb0b6f4130776240d8b6a2d487b2b8"}
    event = one(JsonLineDecoder().decode(json_record(line)))
    assert event.body == "payment declined"
    assert event.attributes == (("order_id", "8812"), ("retry", "true"),
                                ("card", '{"brand": "visa"}'))


def test_attributes_are_bounded_in_count_and_length() -> None:
    line = {"msg": "x", **{f"k{i}": "v" * 500 for i in range(40)}}
    event = one(JsonLineDecoder().decode(json_record(line)))
    assert len(event.attributes) == 16
    assert all(len(value) == 200 for _, value in event.attributes)


@pytest.mark.parametrize(("fields", "trace_id", "span_id"), [
    ({"traceId": "5BCB0B6F4130776240D8B6A2D487B2B8", "spanId": "40D8B6A2D487B2B8"},
     "5bcb0b6f4130776240d8b6a2d487b2b8", "40d8b6a2d487b2b8"),  # OTLP/JSON, Micrometer
    ({"trace": {"id": "5bcb0b6f4130776240d8b6a2d487b2b8"}, "span": {"id": "40d8b6a2d487b2b8"}},
     "5bcb0b6f4130776240d8b6a2d487b2b8", "40d8b6a2d487b2b8"),  # Elastic Common Schema
    ({"otelTraceID": "5bcb0b6f4130776240d8b6a2d487b2b8", "otelSpanID": "40d8b6a2d487b2b8"},
     "5bcb0b6f4130776240d8b6a2d487b2b8", "40d8b6a2d487b2b8"),  # OTel Python logging
    ({"logging.googleapis.com/trace": "projects/shop/traces/5bcb0b6f4130776240d8b6a2d487b2b8",
      "logging.googleapis.com/spanId": "40d8b6a2d487b2b8"},
     "5bcb0b6f4130776240d8b6a2d487b2b8", "40d8b6a2d487b2b8"),  # Google Cloud Logging
    ({"traceId": "not-a-trace-id", "spanId": "00000000000000000"}, "", ""),
])
def test_trace_context_is_read_where_structured_loggers_put_it(
        fields: dict[str, object], trace_id: str, span_id: str) -> None:
    event = one(JsonLineDecoder().decode(json_record({"msg": "x", **fields})))
    assert (event.trace_id, event.span_id) == (trace_id, span_id)
    assert event.attributes == ()  # trace context is not evidence twice

"""OTLP decoder: SDK-made traces and logs, otlp_proto and OTLP/JSON, into typed events."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from otel_sdk_helpers import (
    T0,
    Sdk,
    logs_json,
    logs_proto,
    traces_json,
    traces_proto,
)

from canarywatch.config import DEFAULT_VERSION_KEYS
from canarywatch.decode.fastbuild import log_event, span_event
from canarywatch.decode.otlp import OtlpDecoder, sniff_proto
from canarywatch.decode.otlp_proto import ProtoDecoder
from canarywatch.errors import DecodeError
from canarywatch.events import Event, LogEvent, Severity, SpanEvent, SpanKind
from canarywatch.sim import Scenario, generate_batches
from canarywatch.sources.base import PayloadKind, Record

MakeSdk = Callable[..., Sdk]
ENCODINGS = ("proto", "json")


def decode(payload: bytes, kind: PayloadKind = PayloadKind.OTLP_ANY,
           keys: Sequence[str] = DEFAULT_VERSION_KEYS) -> Sequence[Event]:
    return OtlpDecoder(keys).decode(Record(payload, kind, "test:1"))


def encode_traces(sdks: Sequence[Sdk], encoding: str) -> bytes:
    spans = tuple(s for sdk in sdks for s in sdk.spans)
    return traces_proto(spans) if encoding == "proto" else json.dumps(traces_json(spans)).encode()


def encode_logs(sdks: Sequence[Sdk], encoding: str) -> bytes:
    logs = tuple(r for sdk in sdks for r in sdk.logs)
    return logs_proto(logs) if encoding == "proto" else json.dumps(logs_json(logs)).encode()


def only_spans(events: Sequence[Event]) -> list[SpanEvent]:
    assert all(isinstance(e, SpanEvent) for e in events)
    return [e for e in events if isinstance(e, SpanEvent)]


def only_logs(events: Sequence[Event]) -> list[LogEvent]:
    assert all(isinstance(e, LogEvent) for e in events)
    return [e for e in events if isinstance(e, LogEvent)]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_span_fields_and_hex_ids_match_the_sdk(sdk: MakeSdk, encoding: str) -> None:
    """Ids are the SDK's own (hex), and endpoint, status, kind, times and service are read."""
    s = sdk()
    span = s.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart",
                                   "http.response.status_code": 503, "url.path": "/cart"},
                     start_ns=T0, duration_ns=42_000_000)
    [event] = only_spans(decode(encode_traces([s], encoding), PayloadKind.OTLP_SPANS))
    ctx = span.get_span_context()
    assert event.trace_id == format(ctx.trace_id, "032x")
    assert event.span_id == format(ctx.span_id, "016x")
    assert (event.service, event.version) == ("checkout", "1.4.2")
    assert (event.name, event.endpoint, event.kind) == ("GET /cart", "GET /cart", SpanKind.SERVER)
    assert (event.http_status, event.is_error) == (503, True)
    assert (event.start_time_unix_nano, event.duration_ms) == (T0, 42.0)
    assert event.exceptions == ()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_error_status_and_exception_events(sdk: MakeSdk, encoding: str) -> None:
    """Status ERROR marks a 200 span as an error; exception events become ExceptionRecords."""
    s = sdk()
    span = s.tracer.start_span("POST /checkout", kind=trace.SpanKind.SERVER, start_time=T0,
                               attributes={"http.request.method": "POST",
                                           "http.route": "/checkout",
                                           "http.response.status_code": 200})
    span.record_exception(KeyError("cart 77a1"), timestamp=T0 + 1000)
    span.add_event("retry", {"attempt": 2}, timestamp=T0 + 2000)
    span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end(end_time=T0 + 10_000)
    [event] = only_spans(decode(encode_traces([s], encoding)))
    assert (event.is_error, event.http_status) == (True, 200)
    assert len(event.exceptions) == 1
    assert event.exceptions[0].type == "KeyError"
    assert "cart 77a1" in event.exceptions[0].message
    assert event.exceptions[0].time_unix_nano == T0 + 1000


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_endpoint_fallbacks(sdk: MakeSdk, encoding: str) -> None:
    """Legacy http.method/http.status_code, rpc service/method, then the span name."""
    s = sdk()
    s.request("legacy", {"http.method": "PUT", "http.route": "/items/{id}",
                         "http.status_code": "404"})
    s.request("grpc", {"rpc.service": "shop.Cart", "rpc.method": "Get"})
    s.request("consume orders", {"messaging.system": "kafka"}, kind=trace.SpanKind.CONSUMER)
    s.request("SELECT", {"db.system.name": "postgresql"}, kind=trace.SpanKind.CLIENT,
              error=True)
    events = only_spans(decode(encode_traces([s], encoding)))
    assert [e.endpoint for e in events] == ["PUT /items/{id}", "shop.Cart/Get",
                                            "consume orders", "SELECT"]
    assert [e.http_status for e in events] == [404, None, None, None]
    assert [e.kind for e in events] == [SpanKind.SERVER, SpanKind.SERVER, SpanKind.CONSUMER,
                                        SpanKind.CLIENT]
    assert [e.is_error for e in events] == [False, False, False, True]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_versions_per_resource_in_one_message(sdk: MakeSdk, encoding: str) -> None:
    """One message with two resources: each span gets its own resource's version."""
    base = sdk({"service.name": "checkout", "service.version": "1.4.2"})
    canary = sdk({"service.name": "checkout", "service.version": "1.5.0"})
    other = sdk({"service.name": "cart", "app.version": "7"})
    for index, s in enumerate((base, canary, other, base)):
        s.request(f"op{index}", {})
    payload = encode_traces([base, canary, other], encoding)
    if encoding == "proto":
        assert len(TracesData.FromString(payload).resource_spans) == 3
    got = sorted((e.name, e.service, e.version) for e in only_spans(decode(payload)))
    assert got == [("op0", "checkout", "1.4.2"), ("op1", "checkout", "1.5.0"),
                   ("op2", "cart", "7"), ("op3", "checkout", "1.4.2")]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_version_from_record_attribute_when_resource_has_none(sdk: MakeSdk,
                                                              encoding: str) -> None:
    """Without a resource version the record's attributes are searched in key order."""
    s = sdk({"service.name": "checkout"})
    s.request("a", {"app.version": "2.0", "service.version": "2.1"})
    s.request("b", {"version": 3})
    s.request("c", {})
    s.log("hello", attributes={"k8s.pod.labels.app.kubernetes.io/version": "2.2"})
    s.log("bye")
    spans = only_spans(decode(encode_traces([s], encoding)))
    assert [e.version for e in spans] == ["2.1", "3", None]
    logs = only_logs(decode(encode_logs([s], encoding)))
    assert [e.version for e in logs] == ["2.2", None]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_resource_version_wins_and_custom_keys_are_honoured(sdk: MakeSdk,
                                                            encoding: str) -> None:
    """The resource is looked at before the record; configured keys replace the defaults."""
    s = sdk({"service.name": "checkout", "service.version": "1.4.2", "deploy.rev": "r9"})
    s.request("a", {"service.version": "9.9.9"})
    payload = encode_traces([s], encoding)
    assert [e.version for e in decode(payload)] == ["1.4.2"]
    assert [e.version for e in decode(payload, keys=("deploy.rev",))] == ["r9"]
    assert [e.version for e in decode(payload, keys=("missing",))] == [None]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_log_fields_trace_link_and_severity(sdk: MakeSdk, encoding: str) -> None:
    """Logs keep body, time, trace/span ids of their span and severity (number, else text)."""
    s = sdk()
    span = s.request("GET /cart", {})
    s.log("payment gateway timeout after 3000 ms for order 8812", SeverityNumber.ERROR2,
          "ERROR", T0 + 7, span)
    s.log("no number here", None, "warning", T0 + 8)
    s.log({"event": "login", "user": 12, "ok": True}, SeverityNumber.INFO, None, T0 + 9)
    s.log(["a", 1], SeverityNumber.FATAL, None, None)
    events = only_logs(decode(encode_logs([s], encoding), PayloadKind.OTLP_LOGS))
    first = events[0]
    ctx = span.get_span_context()
    assert first.body == "payment gateway timeout after 3000 ms for order 8812"
    assert (first.trace_id, first.span_id) == (format(ctx.trace_id, "032x"),
                                               format(ctx.span_id, "016x"))
    assert (first.time_unix_nano, first.severity) == (T0 + 7, Severity.ERROR)
    assert (events[1].severity, events[1].trace_id) == (Severity.WARN, "")
    assert json.loads(events[2].body) == {"event": "login", "user": 12, "ok": True}
    assert json.loads(events[3].body) == ["a", 1]
    assert events[3].time_unix_nano == T0 + 5  # no time: the observed time
    assert events[3].severity == Severity.FATAL


def test_any_tells_traces_from_logs_in_proto(sdk: MakeSdk) -> None:
    """OTLP_ANY proto is told apart by record shape, also when a log has no time field."""
    s = sdk()
    s.request("GET /cart", {})
    s.log("timed", at_ns=T0)
    traces, logs = encode_traces([s], "proto"), encode_logs([s], "proto")
    assert sniff_proto(traces) is PayloadKind.OTLP_SPANS
    assert sniff_proto(logs) is PayloadKind.OTLP_LOGS
    assert isinstance(decode(traces)[0], SpanEvent)
    assert isinstance(decode(logs)[0], LogEvent)
    untimed = sdk()
    untimed.log("no time at all", SeverityNumber.WARN, "WARN", at_ns=None)
    untimed_payload = encode_logs([untimed], "proto")
    assert sniff_proto(untimed_payload) is PayloadKind.OTLP_LOGS


def test_any_tells_traces_from_logs_in_json(sdk: MakeSdk) -> None:
    """OTLP_ANY JSON is told apart by its resourceSpans / resourceLogs key."""
    s = sdk()
    s.request("GET /cart", {})
    s.log("hi")
    assert isinstance(decode(encode_traces([s], "json"))[0], SpanEvent)
    assert isinstance(decode(encode_logs([s], "json"))[0], LogEvent)
    with pytest.raises(DecodeError, match="neither resourceSpans nor resourceLogs"):
        decode(b'{"something": []}')


def test_handwritten_otlp_json_with_snake_case_and_base64_ids() -> None:
    """OTLP/JSON written by hand: snake_case accepted, json_format's base64 ids repaired."""
    payload = json.dumps({"resource_spans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "cart"}},
            {"key": "service.version", "value": {"stringValue": "2"}}]},
        "scope_spans": [{"spans": [{
            "trace_id": "W8sLb0Ewd2JA2Lai1IeyuA==", "span_id": "AAAAAAAAAAE=",
            "name": "x", "kind": "SPAN_KIND_SERVER",
            "start_time_unix_nano": "1795000000000000100",
            "end_time_unix_nano": 1795000000000002100,
            "attributes": [{"key": "http.route", "value": {"stringValue": "/x"}},
                           {"key": "http.response.status_code", "value": {"intValue": 500}}],
            "status": {"code": 0}}]}]}]}).encode()
    [event] = only_spans(decode(payload))
    assert event.trace_id == "5bcb0b6f41307762" "40d8b6a2d487b2b8"
    assert event.span_id == "0000000000000001"
    assert (event.kind, event.endpoint, event.http_status, event.is_error) == (
        SpanKind.SERVER, "/x", 500, True)
    assert (event.service, event.version, event.duration_ms) == ("cart", "2", 0.002)


@pytest.mark.parametrize("payload", [
    b"\x0a\xff\xff\xff\x0f garbage",
    b"not otlp at all",
    b"{ broken json",
    b"[1, 2, 3]",
    b"",
])
def test_malformed_payloads_raise_decode_error_with_origin(payload: bytes) -> None:
    """Bad bytes or structure raise DecodeError carrying the record's origin."""
    with pytest.raises(DecodeError) as info:
        decode(payload, PayloadKind.OTLP_SPANS)
    assert info.value.origin == "test:1"


def test_truncated_proto_is_a_decode_error(sdk: MakeSdk) -> None:
    """A message cut in the middle of a field is rejected, not half-read."""
    s = sdk()
    for i in range(5):
        s.request(f"op{i}", {"http.route": "/r"})
    payload = encode_traces([s], "proto")
    with pytest.raises(DecodeError):
        decode(payload[: len(payload) - 7], PayloadKind.OTLP_SPANS)


def test_lean_path_equals_full_classes_on_unusual_attributes(sdk: MakeSdk) -> None:
    """Long keys, non-string values, long strings and big ints read as the full path reads."""
    s = sdk({"service.name": "checkout"})
    s.request("a", {"x" * 200: "long key", "http.route": "r" * 300, "http.request.method": 7,
                    "http.response.status_code": 2**40, "app.version": 1.5})
    s.request("b", {"http.route": "/é", "http.request.method": "GET",
                    "http.response.status_code": -1, "version": ("v", "w")})
    s.request("c", {}, error=True)
    payload = encode_traces([s], "proto")
    decoder = ProtoDecoder(DEFAULT_VERSION_KEYS)
    lean, full = decoder.spans(payload), decoder.spans_full(payload)
    assert lean == full
    assert [e.endpoint for e in lean] == ["r" * 300, "GET /é", "c"]
    assert [e.http_status for e in lean] == [2**40, -1, None]
    assert [e.version for e in lean] == ["1.5", '["v","w"]', None]


def test_lean_path_equals_full_classes_on_generated_traffic() -> None:
    """On simulated traffic with faults the lean path decodes exactly what the full one does."""
    from canarywatch.sim import Fault

    scenario = Scenario(duration_s=15.0, canary_share=0.5, seed=3, faults=(
        Fault("new_error", endpoint="GET /cart", magnitude=0.5),))
    decoder = ProtoDecoder(DEFAULT_VERSION_KEYS)
    payloads = [p for k, p in generate_batches(scenario) if k is PayloadKind.OTLP_SPANS]
    lean = [e for p in payloads for e in decoder.spans(p)]
    full = [e for p in payloads for e in decoder.spans_full(p)]
    assert lean == full
    assert any(e.exceptions for e in lean)


def test_fast_span_event_equals_the_constructor() -> None:
    """The hot path's SpanEvent builder makes objects equal to the dataclass constructor's."""
    args = ("s", "v", "n", SpanKind.SERVER, "GET /", 1, 2, True, 500, "t" * 32, "s" * 16, ())
    built = span_event(*args)
    assert built == SpanEvent(*args)
    assert type(built) is SpanEvent
    assert hash(built) == hash(SpanEvent(*args))
    with pytest.raises(AttributeError):
        built.name = "x"  # type: ignore[misc]


def test_fast_log_event_equals_the_constructor() -> None:
    """The hot path's LogEvent builder makes objects equal to the dataclass constructor's,
    its defaults included."""
    args = ("s", "v", 1, Severity.ERROR, "boom", "t" * 32, "s" * 16)
    for given in (args, args[:5], (*args, (("k", "v"),))):
        built = log_event(*given)
        assert built == LogEvent(*given)
        assert type(built) is LogEvent
        assert hash(built) == hash(LogEvent(*given))
    with pytest.raises(AttributeError):
        built.body = "x"  # type: ignore[misc]


def test_json_with_leading_whitespace_is_still_json(sdk: MakeSdk) -> None:
    """OTLP/JSON after newlines and spaces is told from otlp_proto (which starts with 0x0A)."""
    s = sdk()
    s.request("GET /cart", {"http.route": "/cart"})
    payload = b"\n  \r\n\t" + encode_traces([s], "json")
    [event] = only_spans(decode(payload))
    assert event.endpoint == "GET /cart"  # method from the span name: no http.method
    with pytest.raises(DecodeError, match="OTLP/JSON"):
        decode(b"\n {not json")

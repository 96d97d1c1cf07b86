"""The msgspec OTLP/JSON path gives what the reference decoders give: the same batch as the
protobuf lean path for the same SDK telemetry, and the same events and rejects as the stdlib
reference for any mutated message (anything unusual is left to the reference)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from otel_sdk_helpers import T0, Sdk, logs_json, logs_proto, traces_json, traces_proto
from test_decoders_property import JSON_LEAVES, JSON_MESSAGES, _paths

from canarywatch.config import DEFAULT_VERSION_KEYS, Config
from canarywatch.decode import Decoders
from canarywatch.decode.batch import CountedSpan, DecodedBatch
from canarywatch.decode.otlp import OtlpDecoder
from canarywatch.errors import DecodeError
from canarywatch.events import Event, LogEvent, SpanEvent, SpanKind
from canarywatch.sources.base import PayloadKind, Record

MakeSdk = Callable[..., Sdk]
GROUP_NS = 10_000_000_000


def _telemetry(s: Sdk) -> None:
    """Entry spans in every HTTP convention, messaging, RPC, client spans, an exception."""
    s.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart",
                            "http.response.status_code": 200, "url.path": "/cart"})
    s.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart",
                            "http.response.status_code": 503}, start_ns=T0 + 1)
    s.request("GET", {"http.request.method": "GET", "url.path": "/users/42",
                      "http.response.status_code": 404}, start_ns=T0 + 2)
    s.request("/orders", {"http.method": "POST", "http.route": "/orders",
                          "http.status_code": "201"}, start_ns=T0 + 3)
    s.request("process orders", {"messaging.operation.type": "process",
                                 "messaging.destination.name": "orders"},
              kind=trace.SpanKind.CONSUMER, start_ns=T0 + 4)
    s.request("grpc", {"rpc.service": "Cart", "rpc.method": "Get"}, start_ns=T0 + 5)
    s.request("GET /x", {"http.request.method": "GET", "http.route": "",
                         "http.response.status_code": 200}, start_ns=T0 + 6)
    for i in range(3):
        s.request("SELECT", {"db.system": "postgresql"}, kind=trace.SpanKind.CLIENT,
                  start_ns=T0 + 10 + i)
    s.request("late", {}, kind=trace.SpanKind.INTERNAL, start_ns=T0 + 2 * GROUP_NS)
    span = s.tracer.start_span("POST /pay", kind=trace.SpanKind.SERVER, start_time=T0 + 20,
                               attributes={"http.request.method": "POST",
                                           "http.route": "/pay"})
    span.record_exception(ValueError("card declined"), timestamp=T0 + 21)
    span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end(end_time=T0 + 30)
    s.log("payment failed", SeverityNumber.ERROR, "ERROR", at_ns=T0 + 7, span=span)
    s.log({"k": [1, 2]}, SeverityNumber.INFO, "INFO", at_ns=T0 + 8, attributes={"a": 1})
    s.log("no level", None, None, at_ns=T0 + 9)


def _same(json_batch: DecodedBatch, proto_batch: DecodedBatch) -> None:
    assert list(json_batch.entries) == list(proto_batch.entries)
    assert json_batch.origins == proto_batch.origins
    assert json_batch.newest_unix_nano == proto_batch.newest_unix_nano
    assert json_batch.spans == proto_batch.spans


def test_json_batches_equal_the_protobuf_lean_path(sdk: MakeSdk) -> None:
    """The same SDK spans and logs as OTLP/JSON and as otlp_proto give equal batches:
    SpanRows, grouped CountedSpans, SpanEvents with exceptions, log events, origins."""
    for resource in (None, {"service.name": "cart"}):
        s = sdk(resource) if resource else sdk()
        _telemetry(s)
        if resource:  # no resource version: records carry theirs
            s.request("GET /v", {"http.request.method": "GET", "http.route": "/v",
                                 "http.response.status_code": 200, "service.version": "2.0"})
        decoder = OtlpDecoder(DEFAULT_VERSION_KEYS, count_group_ns=GROUP_NS)
        reference = OtlpDecoder(DEFAULT_VERSION_KEYS, count_group_ns=GROUP_NS)
        for as_json, proto in ((traces_json(s.spans), traces_proto(s.spans)),
                               (logs_json(s.logs), logs_proto(s.logs))):
            payload = json.dumps(as_json).encode()
            fast = decoder.fast_json.batch(payload, PayloadKind.OTLP_ANY)
            _same(fast, reference.decode_batch(Record(proto, PayloadKind.OTLP_ANY, "f@0")))
            assert any(isinstance(ev, CountedSpan) for _, ev in fast.entries) == fast.spans


def test_snake_case_and_base64_ids_read_as_camel_case(sdk: MakeSdk) -> None:
    """The generic proto3 JSON mapping (snake_case names, base64 ids, numbers for 64-bit
    integers) gives the batch of OTLP/JSON."""
    s = sdk()
    _telemetry(s)
    generic = MessageToDict(encode_spans(s.spans), preserving_proto_field_name=True,
                            use_integers_for_enums=True)
    decoder = OtlpDecoder(DEFAULT_VERSION_KEYS, count_group_ns=GROUP_NS)
    camel = decoder.decode_batch(Record(json.dumps(traces_json(s.spans)).encode(),
                                        PayloadKind.OTLP_ANY, "f:1"))
    snake = decoder.decode_batch(Record(json.dumps(generic).encode(), PayloadKind.OTLP_ANY,
                                        "f:2"))
    _same(snake, camel)


def _must_show(ev: Event) -> bool:
    """Whether the batch path must materialise this reference event (analysis reads it)."""
    if isinstance(ev, LogEvent):
        return True
    return ev.version is not None and (
        ev.kind in (SpanKind.SERVER, SpanKind.CONSUMER) or bool(ev.exceptions))


def _origins(batch: DecodedBatch) -> Counter[tuple[str, str | None]]:
    out: Counter[tuple[str, str | None]] = Counter()
    for _, ev in batch.entries:
        if isinstance(ev, CountedSpan):
            out[(ev.service, ev.version)] += ev.count
        elif isinstance(ev, tuple):
            out[(ev[0], ev[1])] += 1
        else:
            out[(ev.service, ev.version)] += 1
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(min_value=0, max_value=1),
       mutations=st.integers(min_value=0, max_value=3))
def test_mutated_json_decodes_as_the_reference(data: st.DataObject, which: int,
                                               mutations: int) -> None:
    """Any mutated OTLP/JSON message: the batch path gives the reference's rejects, its
    events (the ones analysis reads) and its span and record counts per cohort."""
    message: Any = copy.deepcopy(JSON_MESSAGES[which])
    for _ in range(mutations):
        path = data.draw(st.sampled_from(_paths(message)))
        if not path:
            continue
        parent = message
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(JSON_LEAVES)
    record = Record(json.dumps(message).encode(), PayloadKind.OTLP_ANY, "t:0:1")
    fast, reference = Decoders(Config()), Decoders(Config())
    try:
        expected = reference.decode(record)
    except DecodeError as exc:  # the record as a whole is refused
        try:
            fast.decode_batch(record)
        except DecodeError as same:
            assert type(same) is type(exc) and str(same) == str(exc)
        else:
            raise AssertionError("the batch path read a record the reference refuses") from exc
        return
    batch = fast.decode_batch(record)
    assert fast.rejects.to_json() == reference.rejects.to_json()
    shown = batch.events
    assert all(ev in expected for ev in shown)
    assert [ev for ev in expected if _must_show(ev)] == [ev for ev in shown if _must_show(ev)]
    assert _origins(batch) == Counter((ev.service, ev.version) for ev in expected)
    assert batch.items == len(expected)
    assert isinstance(batch.events, list) and all(
        isinstance(ev, (SpanEvent, LogEvent)) for ev in shown)

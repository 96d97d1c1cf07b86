"""Decoded batches: spans analysis does not read are counted, not materialised."""

from __future__ import annotations

import json
from collections.abc import Callable

from opentelemetry import trace
from otel_sdk_helpers import T0, Sdk, logs_proto, traces_json, traces_proto

from canarywatch.config import DEFAULT_VERSION_KEYS
from canarywatch.decode.batch import CountedSpan, batch_of
from canarywatch.decode.otlp import OtlpDecoder
from canarywatch.decode.otlp_proto import ProtoDecoder
from canarywatch.events import SpanEvent
from canarywatch.sim import Scenario, generate_batches
from canarywatch.sources.base import PayloadKind, Record

MakeSdk = Callable[..., Sdk]


def test_only_entry_spans_and_spans_with_events_are_materialised(sdk: MakeSdk) -> None:
    """CLIENT/INTERNAL/PRODUCER spans without events become CountedSpans, in record order;
    entry spans without events become SpanRows (the SpanEvent's fields as a tuple)."""
    s = sdk()
    kinds = (trace.SpanKind.SERVER, trace.SpanKind.CLIENT, trace.SpanKind.INTERNAL,
             trace.SpanKind.CONSUMER, trace.SpanKind.PRODUCER)
    for i, kind in enumerate(kinds):
        s.request(f"op{i}", {"http.route": "/r"}, start_ns=T0 + i, kind=kind)
    client = s.tracer.start_span("SELECT", kind=trace.SpanKind.CLIENT, start_time=T0)
    client.record_exception(ValueError("bad row"), timestamp=T0 + 5)
    client.end(end_time=T0 + 99)
    payload = traces_proto(s.spans)
    batch = ProtoDecoder(DEFAULT_VERSION_KEYS).span_batch(payload)
    full = ProtoDecoder(DEFAULT_VERSION_KEYS).spans(payload)
    assert [t for t, _ in batch.entries] == [e.end_time_unix_nano for e in full]
    shown = [ev.name if isinstance(ev, SpanEvent) else ("row", ev[2])
             if isinstance(ev, tuple) else ev for _, ev in batch.entries]
    counted = CountedSpan("checkout", "1.4.2")
    assert shown == [("row", "op0"), counted, counted, ("row", "op3"), counted, "SELECT"]
    assert SpanEvent(*batch.entries[0][1]) == full[0]
    assert batch.events == [full[0], full[3], full[5]]
    assert batch.origins == {("checkout", "1.4.2"): 6}
    assert batch.newest_unix_nano == max(e.end_time_unix_nano for e in full) == T0 + 4 + 25_000_000
    assert batch.spans


def test_record_level_and_missing_versions(sdk: MakeSdk) -> None:
    """Without a resource version, counted spans carry the record's version; an unversioned
    span is only counted even when it is an entry span with an exception."""
    s = sdk({"service.name": "cart"})
    s.request("a", {"service.version": "2.1"}, kind=trace.SpanKind.CLIENT)
    s.request("b", {"service.version": "2.1"})
    server = s.tracer.start_span("c", kind=trace.SpanKind.SERVER, start_time=T0)
    server.record_exception(KeyError("k"), timestamp=T0 + 1)
    server.end(end_time=T0 + 10)
    batch = ProtoDecoder(DEFAULT_VERSION_KEYS).span_batch(traces_proto(s.spans))
    got = [(ev.name, ev.version) if isinstance(ev, SpanEvent) else (ev[2], ev[1])
           if isinstance(ev, tuple) else ev for _, ev in batch.entries]
    assert got == [CountedSpan("cart", "2.1"), ("b", "2.1"), CountedSpan("cart", None)]
    assert batch.origins == {("cart", "2.1"): 2, ("cart", None): 1}


def test_json_and_log_batches_hold_every_event(sdk: MakeSdk) -> None:
    """OTLP/JSON spans are counted as otlp_proto's are; log batches carry each record with
    its time."""
    s = sdk()
    s.request("a", {}, kind=trace.SpanKind.CLIENT, duration_ns=7)
    s.log("hello", at_ns=T0 + 3)
    decoder = OtlpDecoder(DEFAULT_VERSION_KEYS)
    spans = decoder.decode_batch(Record(json.dumps(traces_json(s.spans)).encode(),
                                        PayloadKind.OTLP_ANY, "f:1"))
    assert list(spans.entries) == [(T0 + 7, CountedSpan("checkout", "1.4.2"))]
    logs = decoder.decode_batch(Record(logs_proto(s.logs), PayloadKind.OTLP_ANY, "f:2"))
    assert not logs.spans
    assert [(t, ev) for t, ev in logs.entries] == [
        (T0 + 3, ev) for ev in decoder.decode(Record(logs_proto(s.logs),
                                                     PayloadKind.OTLP_LOGS, "f:3"))]
    assert logs.origins == {("checkout", "1.4.2"): 1}
    assert batch_of(()).entries == ()


def test_counted_spans_cover_exactly_the_non_entry_spans_of_generated_traffic() -> None:
    """On simulated traffic the batch holds one entry per span, materialising what the full
    path decodes for every entry span and every span with exceptions."""
    decoder = ProtoDecoder(DEFAULT_VERSION_KEYS)
    payloads = [p for k, p in generate_batches(Scenario(duration_s=10.0, seed=2))
                if k is PayloadKind.OTLP_SPANS]
    for payload in payloads:
        full = decoder.spans_full(payload)
        batch = decoder.span_batch(payload)
        assert len(batch.entries) == len(full)
        assert batch.events == [e for e in full if e.is_entry or e.exceptions]
        assert all(ev == CountedSpan(e.service, e.version)
                   for (_, ev), e in zip(batch.entries, full, strict=True)
                   if isinstance(ev, CountedSpan))


def test_counted_spans_are_grouped_per_time_group_at_their_first_end(sdk: MakeSdk) -> None:
    """Counted spans of one version ending in the same group become one entry with their
    number, at the first one's end; a group boundary splits them; newest covers them all."""
    s = sdk()
    group_ns = 1_000_000_000
    base = (T0 // group_ns + 1) * group_ns  # a group boundary
    ends = [base - 300, base - 200, base - 100, base + 50, base + 900]
    for end in ends:
        span = s.tracer.start_span("SELECT", kind=trace.SpanKind.CLIENT, start_time=end - 10)
        span.end(end_time=end)
    s.request("GET /x", {"http.route": "/x"}, start_ns=base - 250, kind=trace.SpanKind.SERVER,
              duration_ns=10)
    batch = ProtoDecoder(DEFAULT_VERSION_KEYS, count_group_ns=group_ns).span_batch(
        traces_proto(s.spans))
    got = [(t, ev.count if isinstance(ev, CountedSpan) else ev[2]) for t, ev in batch.entries]
    assert sorted(got) == [(base - 300, 3), (base - 240, "GET /x"), (base + 50, 2)]
    assert batch.items == 6 and batch.origins == {("checkout", "1.4.2"): 6}
    assert batch.newest_unix_nano == base + 900


def test_entry_spans_mean_the_same_on_the_fast_path_whatever_attributes_they_mix(
        sdk: MakeSdk) -> None:
    """Endpoint, status and error of entry spans agree with the full OTLP classes for current
    and older HTTP conventions, mixes of both, unusable values and RPC spans (the first key
    present decides its slot); each span is decoded twice so cached meanings are checked."""
    s = sdk()
    cases: list[dict[str, object]] = [
        {"http.request.method": "GET", "http.route": "/a", "http.response.status_code": 200},
        {"http.request.method": "GET", "http.route": "/a", "http.response.status_code": 503},
        {"http.method": "POST", "http.route": "/b", "http.status_code": 201},
        {"http.request.method": "PUT", "http.method": "POST", "http.route": "/c",
         "http.response.status_code": 404, "http.status_code": 500},
        {"http.request.method": "GET", "http.route": "/d", "http.response.status_code": "x",
         "http.status_code": 502},
        {"http.request.method": 7, "http.method": "DELETE", "http.route": "/e",
         "http.response.status_code": 200},
        {"http.request.method": "GET", "http.route": "", "rpc.service": "Cart",
         "rpc.method": "Add", "http.response.status_code": 200},
        {"http.request.method": "GET", "http.route": "/f"},
        {"rpc.service": "Pay", "rpc.method": "Charge"},
        {"http.request.method": "GET", "http.route": "/g", "http.response.status_code": "503"},
    ]
    for attributes in cases * 2:
        s.request("span name", attributes)
    payload = traces_proto(s.spans)
    decoder = ProtoDecoder(DEFAULT_VERSION_KEYS)
    fast = decoder.span_batch(payload).events
    slow = decoder.spans_full(payload)
    assert fast == slow
    as_json = OtlpDecoder(DEFAULT_VERSION_KEYS).decode(Record(
        json.dumps(traces_json(s.spans)).encode(), PayloadKind.OTLP_SPANS, "f:1"))
    assert as_json == slow
    seen = [(e.endpoint, e.http_status, e.is_error) for e in slow[:len(cases)]]
    assert seen == [("GET /a", 200, False), ("GET /a", 503, True), ("POST /b", 201, False),
                    ("PUT /c", 404, False), ("GET /d", None, False), ("/e", 200, False),
                    ("Cart/Add", 200, False), ("GET /f", None, False),
                    ("Pay/Charge", None, False), ("GET /g", 503, True)]

"""The canary telemetry generator: real SDK output, deterministic, faults only where asked."""

from __future__ import annotations

import gzip
import json
import statistics
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData

from canarywatch.errors import ConfigError, InputError
from canarywatch.sim import (
    Fault,
    Scenario,
    example_incident,
    generate_batches,
    load_loghub_lines,
    write_collector_files,
)
from canarywatch.sources.base import PayloadKind

BASE, CANARY = "1.4.2", "1.5.0"


@dataclass(frozen=True)
class Seen:
    spans: list[tuple[str, Span]]  # (version, span)
    logs: list[tuple[str, int, str, str, str]]  # (version, time, severity text, body, trace id)


def _version(attributes: Iterable[object]) -> str:
    for kv in attributes:
        if kv.key == "service.version":  # type: ignore[attr-defined]
            return str(kv.value.string_value)  # type: ignore[attr-defined]
    return ""


def _attr(span: Span, key: str) -> object:
    for kv in span.attributes:
        if kv.key == key:
            value = kv.value
            return getattr(value, value.WhichOneof("value"))
    return None


def collect(batches: Iterable[tuple[PayloadKind, bytes]]) -> Seen:
    spans: list[tuple[str, Span]] = []
    logs: list[tuple[str, int, str, str, str]] = []
    for kind, payload in batches:
        if kind is PayloadKind.OTLP_SPANS:
            for rs in TracesData.FromString(payload).resource_spans:
                version = _version(rs.resource.attributes)
                spans += [(version, s) for ss in rs.scope_spans for s in ss.spans]
        else:
            assert kind is PayloadKind.OTLP_LOGS
            for rl in LogsData.FromString(payload).resource_logs:
                version = _version(rl.resource.attributes)
                logs += [(version, r.time_unix_nano, r.severity_text, r.body.string_value,
                          r.trace_id.hex()) for sl in rl.scope_logs for r in sl.log_records]
    return Seen(spans, logs)


@cache
def run(scenario: Scenario) -> Seen:
    return collect(generate_batches(scenario))


SHORT = Scenario(duration_s=60.0, rps=40.0, seed=3)


def test_same_seed_gives_identical_bytes() -> None:
    """Two runs of one scenario produce byte-identical messages; another seed differs."""
    small = Scenario(duration_s=10.0, seed=11)
    first = list(generate_batches(small))
    assert first == list(generate_batches(small))
    assert first != list(generate_batches(Scenario(duration_s=10.0, seed=12)))


def test_traffic_rate_and_canary_share() -> None:
    """About rps x duration requests arrive and about canary_share of them go to the canary."""
    scenario = Scenario(duration_s=60.0, rps=40.0, canary_share=0.25, seed=5)
    servers = [v for v, s in run(scenario).spans if s.kind == Span.SPAN_KIND_SERVER]
    assert 2400 * 0.9 < len(servers) < 2400 * 1.1
    assert 0.21 < servers.count(CANARY) / len(servers) < 0.29


def test_each_request_is_a_server_span_with_a_client_child_inside_it() -> None:
    """Every SERVER span has one CLIENT child within its time range and the HTTP attributes."""
    seen = run(SHORT)
    by_id = {s.span_id: s for _, s in seen.spans}
    servers = [s for _, s in seen.spans if s.kind == Span.SPAN_KIND_SERVER]
    clients = [s for _, s in seen.spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert len(servers) == len(clients) > 0
    for child in clients:
        parent = by_id[child.parent_span_id]
        assert parent.trace_id == child.trace_id
        assert parent.start_time_unix_nano <= child.start_time_unix_nano
        assert child.end_time_unix_nano <= parent.end_time_unix_nano
    for server in servers:
        method, route = _attr(server, "http.request.method"), _attr(server, "http.route")
        assert server.name == f"{method} {route}"
        assert _attr(server, "http.response.status_code") in (200, 500, 503)


def test_logs_carry_trace_ids_and_fall_inside_their_span() -> None:
    """Each log line links to a SERVER span by trace id and lies within its start and end."""
    seen = run(SHORT)
    servers = {s.trace_id.hex(): s for _, s in seen.spans if s.kind == Span.SPAN_KIND_SERVER}
    assert len(seen.logs) >= len(servers)
    for _, at_ns, _, body, trace_id in seen.logs:
        span = servers[trace_id]
        assert span.start_time_unix_nano <= at_ns <= span.end_time_unix_nano
        assert body


def test_messages_come_in_event_time_order() -> None:
    """Span batches do not overlap in time: each starts after the previous one ended."""
    last_end = 0
    for kind, payload in generate_batches(Scenario(duration_s=20.0, seed=1)):
        if kind is PayloadKind.OTLP_SPANS:
            ends = [s.end_time_unix_nano for rs in TracesData.FromString(payload).resource_spans
                    for ss in rs.scope_spans for s in ss.spans]
            assert min(ends) >= last_end
            last_end = max(ends)


def test_one_message_can_hold_both_versions() -> None:
    """Baseline and canary spans share messages, each under its own resource."""
    versions_per_message = [
        {_version(rs.resource.attributes) for rs in TracesData.FromString(p).resource_spans}
        for k, p in generate_batches(Scenario(duration_s=20.0, canary_share=0.5, seed=2))
        if k is PayloadKind.OTLP_SPANS]
    assert any(v == {BASE, CANARY} for v in versions_per_message)


def test_new_error_only_in_canary_after_start_on_its_endpoint() -> None:
    """new_error puts NPE lines, 5xx and exception events on the canary endpoint only."""
    scenario = Scenario(duration_s=60.0, canary_share=0.3, seed=4, faults=(
        Fault("new_error", start_s=20.0, endpoint="GET /cart", magnitude=0.5),))
    seen = run(scenario)
    start_ns = scenario.start_unix_nano + 20 * 10**9
    npe = [(v, t) for v, t, sev, body, _ in seen.logs if "NullPointerException" in body]
    assert len(npe) > 20
    assert all(v == CANARY and t >= start_ns for v, t in npe)
    with_exception = [(v, s) for v, s in seen.spans
                      if any(e.name == "exception" for e in s.events)]
    assert len(with_exception) == len(npe)
    for version, span in with_exception:
        assert version == CANARY
        assert span.name == "GET /cart"
        assert _attr(span, "http.response.status_code") == 500
        assert span.status.code == span.status.STATUS_CODE_ERROR
        assert span.events[0].attributes[0].value.string_value == "java.lang.NullPointerException"


def test_new_error_200_keeps_status_ok() -> None:
    """new_error_200 adds a new ERROR line in the canary while its responses stay 200."""
    scenario = Scenario(duration_s=60.0, canary_share=0.3, seed=4, faults=(
        Fault("new_error_200", endpoint="POST /checkout", magnitude=0.8),))
    seen = run(scenario)
    traces = {tid for v, _, sev, body, tid in seen.logs if "OrderPlaced" in body}
    assert traces
    assert all(v == CANARY and sev == "ERROR" for v, _, sev, body, _ in seen.logs
               if "OrderPlaced" in body)
    statuses = {_attr(s, "http.response.status_code") for _, s in seen.spans
                if s.trace_id.hex() in traces and s.kind == Span.SPAN_KIND_SERVER}
    assert statuses == {200}


def test_known_error_more_raises_canary_frequency_only() -> None:
    """known_error_more makes the known gateway-timeout line frequent in the canary alone."""
    fault = Fault("known_error_more", endpoint="POST /payments", magnitude=0.5)
    seen = run(Scenario(duration_s=120.0, canary_share=0.5, seed=8, faults=(fault,)))
    counts = {BASE: 0, CANARY: 0}
    for v, _, _, body, _ in seen.logs:
        if body.startswith("payment gateway timeout"):
            counts[v] += 1
    assert counts[CANARY] > 5 * max(1, counts[BASE])


def test_shared_outage_hits_both_cohorts() -> None:
    """shared_outage puts 5xx and its ERROR line into both cohorts."""
    scenario = Scenario(duration_s=60.0, canary_share=0.3, seed=6, faults=(
        Fault("shared_outage", start_s=30.0, end_s=40.0, magnitude=0.6),))
    seen = run(scenario)
    outage = [(v, t) for v, t, _, body, _ in seen.logs if "connection refused" in body]
    assert {v for v, _ in outage} == {BASE, CANARY}
    lo, hi = (scenario.start_unix_nano + k * 10**9 for k in (30, 41))
    assert all(lo <= t <= hi for _, t in outage)


def _median_ms(seen: Seen, version: str, name: str) -> float:
    return statistics.median(
        (s.end_time_unix_nano - s.start_time_unix_nano) / 1e6 for v, s in seen.spans
        if v == version and s.name == name and s.kind == Span.SPAN_KIND_SERVER)


def test_latency_fault_slows_one_canary_endpoint() -> None:
    """latency x3 on POST /checkout triples the canary median there and nowhere else."""
    seen = run(Scenario(duration_s=120.0, canary_share=0.5, seed=9, faults=(
        Fault("latency", endpoint="POST /checkout", magnitude=3.0),)))
    ratio = _median_ms(seen, CANARY, "POST /checkout") / _median_ms(seen, BASE, "POST /checkout")
    assert 2.4 < ratio < 3.6
    other = _median_ms(seen, CANARY, "GET /cart") / _median_ms(seen, BASE, "GET /cart")
    assert 0.8 < other < 1.25


def test_faster_speeds_up_every_canary_endpoint() -> None:
    """faster x0.5 halves canary latency on all endpoints."""
    seen = run(Scenario(duration_s=120.0, canary_share=0.5, seed=9, faults=(
        Fault("faster", magnitude=0.5),)))
    for name in ("GET /cart", "POST /cart/items"):
        assert 0.4 < _median_ms(seen, CANARY, name) / _median_ms(seen, BASE, name) < 0.62


def test_reword_info_changes_canary_wording_only() -> None:
    """reword_info: the canary words GET /cart's INFO line differently; the baseline does not."""
    seen = run(Scenario(duration_s=60.0, canary_share=0.5, seed=10, faults=(
        Fault("reword_info", magnitude=1.0),)))
    old = {v for v, _, _, body, _ in seen.logs if body.startswith("loaded cart ")}
    new = {v for v, _, _, body, _ in seen.logs if body.startswith("cart ")}
    assert old == {BASE}
    assert new == {CANARY}


def test_no_fault_means_no_fault_lines() -> None:
    """Without faults no new-error, outage or OrderPlaced lines appear."""
    bodies = " ".join(body for *_, body, _ in run(SHORT).logs)
    for marker in ("NullPointerException", "connection refused", "OrderPlaced"):
        assert marker not in bodies


def test_unknown_fault_endpoint_names_the_key() -> None:
    """A fault on an endpoint the scenario lacks is a ConfigError naming the fault's key."""
    with pytest.raises(ConfigError) as info:
        Scenario(faults=(Fault("latency", endpoint="GET /nope", magnitude=2.0),))
    assert info.value.key == "scenario.faults.0.endpoint"
    assert "GET /cart" in str(info.value)


def test_collector_files_json_proto_and_gzip(tmp_path: Path) -> None:
    """JSON lines carry hex ids equal to the proto bytes; proto files are length-framed."""
    scenario = Scenario(duration_s=5.0, seed=1)
    json_paths = write_collector_files(scenario, tmp_path / "j", fmt="json", gzip=True)
    proto_paths = write_collector_files(scenario, tmp_path / "p", fmt="proto")
    assert [p.name for p in json_paths] == ["traces.jsonl.gz", "logs.jsonl.gz"]
    lines = gzip.decompress(json_paths[0].read_bytes()).splitlines()
    json_spans = [s for line in lines for rs in json.loads(line)["resourceSpans"]
                  for ss in rs["scopeSpans"] for s in ss["spans"]]
    data, frames = proto_paths[0].read_bytes(), []
    while data:
        (size,) = struct.unpack(">I", data[:4])
        frames.append(TracesData.FromString(data[4:4 + size]))
        data = data[4 + size:]
    proto_spans = [s for f in frames for rs in f.resource_spans for ss in rs.scope_spans
                   for s in ss.spans]
    assert len(json_spans) == len(proto_spans) > 0
    for js, ps in zip(json_spans, proto_spans, strict=True):
        assert js["traceId"] == ps.trace_id.hex() and len(js["traceId"]) == 32
        assert js["spanId"] == ps.span_id.hex() and len(js["spanId"]) == 16
        assert js["kind"] == ps.kind
        assert js["startTimeUnixNano"] == str(ps.start_time_unix_nano)


def test_example_incident_writes_a_new_canary_error(tmp_path: Path) -> None:
    """The bundled example incident holds the canary's NPE lines starting at 120 s."""
    paths = example_incident(tmp_path)
    assert [p.name for p in paths] == ["traces.jsonl", "logs.jsonl"]
    text = paths[1].read_text()
    assert "NullPointerException in CartService.applyDiscount" in text


def test_loghub_lines_and_corpus_use(loghub_dir: Path) -> None:
    """loghub Content lines load per system and show up as log bodies when given as corpus."""
    lines = load_loghub_lines(loghub_dir, ["Apache", "HDFS"], limit=50)
    assert len(lines) == 100
    assert lines[0] == "workerEnv.init() ok /etc/httpd/conf/workers2.properties"
    seen = run(Scenario(duration_s=10.0, seed=1, log_corpus=lines, corpus_rate=0.5))
    assert any(body in lines for *_, body, _ in seen.logs)


def test_loghub_unknown_system_is_an_input_error(loghub_dir: Path) -> None:
    """Asking for a system loghub does not have raises InputError listing the valid ones."""
    with pytest.raises(InputError, match="HDFS"):
        load_loghub_lines(loghub_dir, ["NoSuchSystem"])


def test_heavy_tail_has_a_longer_tail_than_lognormal() -> None:
    """latency_tail="heavy" puts far more mass above 10x the median than the lognormal."""
    def tail_share(tail: str) -> float:
        seen = run(Scenario(duration_s=60.0, seed=13, latency_tail=tail))  # type: ignore[arg-type]
        durations = [(s.end_time_unix_nano - s.start_time_unix_nano) / 1e6
                     for _, s in seen.spans if s.name == "GET /cart"
                     and s.kind == Span.SPAN_KIND_SERVER]
        median = statistics.median(durations)
        return sum(d > 10 * median for d in durations) / len(durations)

    assert tail_share("lognormal") < 0.001
    assert tail_share("heavy") > 0.01

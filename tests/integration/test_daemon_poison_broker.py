"""Poison on a real broker: records that once crashed or hung the agent are counted and passed.

Each kind is produced first in its partition, before the example incident (checkout 1.5.0
throws a new ERROR): the agent must keep consuming, roll the canary back, count every record,
stop on SIGTERM, and start again on the same state without hanging or crashing.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import MetricsData, ResourceMetrics
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "decode"))
from otel_sdk_helpers import T0, Sdk, logs_json, traces_proto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CANARY = ("checkout", "1.5.0")
YEAR_2200_NS = 7_258_118_400 * 1_000_000_000


def _sdk() -> Sdk:
    return Sdk({"service.name": "checkout", "service.version": "1.4.2"})


def _span_at(end_ns: int) -> bytes:
    """One SDK span re-timed to end at ``end_ns`` (0: the time-0 producer bug)."""
    sdk = _sdk()
    sdk.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart"})
    traces = TracesData.FromString(traces_proto(sdk.spans))
    span = traces.resource_spans[0].scope_spans[0].spans[0]
    span.start_time_unix_nano = max(0, end_ns - 25_000_000)
    span.end_time_unix_nano = end_ns
    return bytes(traces.SerializeToString())


def _many_attributes(n: int) -> bytes:
    """An SDK span given ``n`` more attributes (past the SDK's own limit of 128)."""
    sdk = _sdk()
    sdk.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart"})
    traces = TracesData.FromString(traces_proto(sdk.spans))
    span = traces.resource_spans[0].scope_spans[0].spans[0]
    for i in range(n):
        attribute = span.attributes.add()
        attribute.key = f"k{i}"
        attribute.value.int_value = i
    return bytes(traces.SerializeToString())


def _log(body: str) -> bytes:
    sdk = _sdk()
    sdk.log(body, at_ns=T0)
    return json.dumps(logs_json(sdk.logs)).encode()


def _nested_body(depth: int) -> bytes:
    """A log whose body is a kvlist nested ``depth`` levels deep (OTLP/JSON)."""
    doc = json.dumps(logs_json(_sdk_logs()))
    inner = '{"stringValue": "x"}'
    nested = '{"kvlistValue": {"values": [{"key": "k", "value": ' * depth + inner \
        + "}]}}" * depth
    return doc.replace('{"stringValue": "BODY"}', nested).encode()


def _sdk_logs() -> Any:
    sdk = _sdk()
    sdk.log("BODY", at_ns=T0)
    return sdk.logs


POISON_SPANS = {
    "nested_json": b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "year_2200": _span_at(YEAR_2200_NS),
    "time_0": _span_at(0),
    "metrics_data": bytes(MetricsData(resource_metrics=[ResourceMetrics()]).SerializeToString()),
    "non_otlp_json": b'{"hello": "world", "level": "info"}',
}


def _counted(agent: Any, topic: str) -> float:
    return agent.metric_sum("canarywatch_kafka_records_total", topic=topic)


def test_every_poison_kind_is_counted_and_the_faulty_canary_still_rolled_back(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """Nested JSON, 2200/0 times, 100k attributes, wrong-type and non-OTLP messages, 10 MB and
    deeply nested log bodies: counted, skipped, rollback decided, SIGTERM-able, restartable."""
    kafka_kit.create()
    spans = [*POISON_SPANS.values(), _many_attributes(100_000), *incident.spans]
    logs = [_log("x" * 10_000_000), _nested_body(400), *incident.logs]
    ends = {kafka_kit.spans_topic: kafka_kit.produce(kafka_kit.spans_topic, spans, "zstd"),
            kafka_kit.logs_topic: kafka_kit.produce(kafka_kit.logs_topic, logs, "zstd")}
    state_dir = tmp_path / "state"
    config = kafka_kit.write_config(kafka_kit.config_data(state_dir, commit_interval_s=1.0))
    agent = harness.agent(config)
    harness.until(lambda: agent.verdict_actions().get(CANARY) == "rollback", 180,
                  "a rollback verdict for checkout 1.5.0 behind the poison")
    harness.until(lambda: all((kafka_kit.committed(t) or 0) >= end for t, end in ends.items()),
                  60, "offsets committed past every record")
    harness.until(lambda: all(_counted(agent, t) == end for t, end in ends.items()), 30,
                  "every record counted once by outcome")
    # the nested JSON is refused by the decoder (a reject) or caught as poison: counted
    assert agent.metric_sum("canarywatch_poison_records_total", reason="too_deep") + \
        agent.metric_sum("canarywatch_rejected_total", reason="too_deep") >= 1
    assert agent.metric_sum("canarywatch_lines_truncated_total") >= 1
    assert agent.get_json("/healthz")[0] == 200
    agent.signal(signal.SIGTERM)
    assert agent.wait(15) == 0

    again = harness.agent(config)  # the same state: no hang, no crash loop
    harness.until(lambda: again.get_json("/readyz")[0] == 200, 60, "readiness after restart")
    assert again.verdict_actions().get(CANARY) == "rollback"
    assert again.get_json("/healthz")[0] == 200
    assert again.alive()
    again.signal(signal.SIGTERM)
    assert again.wait(15) == 0

"""KafkaSource against a real Kafka-protocol broker: kinds, positions, commits, resuming."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from canarywatch.config import ExtraLogTopic, KafkaConfig
from canarywatch.metrics import create_metrics
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.kafka import TEXT_HOLD_S, KafkaSource

pytestmark = pytest.mark.integration

# A stack trace as a shipper without multiline rules sends it (one message per line), then
# the next statement.
TRACE_LINES = [b"2026-01-01T00:00:00Z ERROR request failed",
               b"java.lang.IllegalStateException: cart 81 is locked",
               b"\tat com.shop.cart.CartService.lock(CartService.java:88)",
               b"Caused by: java.io.IOException: gone",
               b"\t... 42 more",
               b"2026-01-01T00:00:01Z INFO fine"]
FAST: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
                        "max_poll_interval_ms": 10000}


def _source(kit: Any, registry: CollectorRegistry | None = None, *,
            text_hold_s: float = TEXT_HOLD_S, **extra: Any) -> KafkaSource:
    cfg = KafkaConfig(bootstrap_servers=(kit.bootstrap,), group_id=kit.group_id,
                      spans_topic=kit.spans_topic, logs_topic=kit.logs_topic, **FAST, **extra)
    return KafkaSource(cfg, create_metrics(registry or CollectorRegistry()),
                       text_hold_s=text_hold_s)


def _read(source: KafkaSource, want: int, timeout_s: float = 30.0) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < want and time.monotonic() < deadline:
        out.extend(source.poll_batch(300))
    return out


def test_records_carry_kind_origin_and_position(kafka_kit: Any) -> None:
    """Each topic's records come out with its payload kind, exact bytes and t:p:o position."""
    text_topic = f"text-{kafka_kit.suffix}"
    kafka_kit.create(kafka_kit.spans_topic, kafka_kit.logs_topic, text_topic)
    kafka_kit.produce(kafka_kit.spans_topic, [b"span-0", b"span-1"], compression="gzip")
    kafka_kit.produce(kafka_kit.logs_topic, [b"log-0"], compression="zstd")
    kafka_kit.produce(text_topic, [b"GET / 500"], compression="lz4")
    registry = CollectorRegistry()
    source = _source(kafka_kit, registry, extra_log_topics=(
        ExtraLogTopic(topic=text_topic, format="text", service="edge", version="2.0"),))
    source.start()
    try:
        records = _read(source, 4)
    finally:
        source.stop()
    by_payload = {r.payload: r for r in records}
    assert set(by_payload) == {b"span-0", b"span-1", b"log-0", b"GET / 500"}
    assert by_payload[b"span-1"].kind is PayloadKind.OTLP_SPANS
    assert by_payload[b"span-1"].origin == f"{kafka_kit.spans_topic}:0:1"
    pos = by_payload[b"span-1"].position
    assert pos is not None and (pos.topic, pos.partition, pos.offset) == (
        kafka_kit.spans_topic, 0, 1)
    assert by_payload[b"log-0"].kind is PayloadKind.OTLP_LOGS
    text = by_payload[b"GET / 500"]
    assert (text.kind, text.service, text.version) == (PayloadKind.LOG_TEXT, "edge", "2.0")
    sent = registry.get_sample_value("canarywatch_bytes_consumed_total",
                                     {"topic": kafka_kit.spans_topic})
    assert sent == len(b"span-0") + len(b"span-1")


def test_text_topic_stack_trace_lines_join_one_record(kafka_kit: Any) -> None:
    """A text topic with one message per line: a stack trace's lines become one record with
    its header, positioned at its last line; the next line starts a new record."""
    text_topic = f"text-{kafka_kit.suffix}"
    kafka_kit.create(kafka_kit.spans_topic, kafka_kit.logs_topic, text_topic)
    lines = TRACE_LINES
    kafka_kit.produce(text_topic, lines)
    source = _source(kafka_kit, extra_log_topics=(
        ExtraLogTopic(topic=text_topic, format="text", service="edge", version="2.0"),))
    source.start()
    try:
        records = _read(source, 2)
    finally:
        source.stop()
    assert [r.payload for r in records] == [b"\n".join(lines[:5]), lines[5]]
    assert records[0].origin == f"{text_topic}:0:0"
    assert records[0].position is not None and records[0].position.offset == 4


def test_a_stack_trace_split_between_polls_stays_one_record(kafka_kit: Any) -> None:
    """The shipper sent a trace's first lines, the agent polled, then the rest came: the
    record waits for them (and is not returned, so nothing is committed past it)."""
    text_topic = f"text-{kafka_kit.suffix}"
    kafka_kit.create(kafka_kit.spans_topic, kafka_kit.logs_topic, text_topic)
    lines = TRACE_LINES
    source = _source(kafka_kit, extra_log_topics=(
        ExtraLogTopic(topic=text_topic, format="text", service="edge", version="2.0"),),
        text_hold_s=3.0)
    source.start()
    try:
        kafka_kit.produce(text_topic, [b"2026-01-01T00:00:00Z INFO warm-up"])
        assert [r.payload for r in _read(source, 1)] == [b"2026-01-01T00:00:00Z INFO warm-up"]
        kafka_kit.produce(text_topic, lines[:3])
        early: list[Record] = []
        deadline = time.monotonic() + 1.5  # several polls, within the hold
        while time.monotonic() < deadline:
            early.extend(source.poll_batch(200))
        assert early == []
        kafka_kit.produce(text_topic, lines[3:])
        records = _read(source, 1)
    finally:
        source.stop()
    assert [r.payload for r in records] == [b"\n".join(lines[:5])]
    assert records[0].position is not None and records[0].position.offset == 5


def test_commit_stores_the_next_offset_in_the_group(kafka_kit: Any) -> None:
    """commit() stores exactly the given next-offset for the group, as other tools see it."""
    kafka_kit.create()
    kafka_kit.produce(kafka_kit.spans_topic, [b"a", b"b", b"c"])
    source = _source(kafka_kit)
    source.start()
    try:
        records = _read(source, 3)
        assert len(records) == 3
        assert source.commit({(kafka_kit.spans_topic, 0): 2})
    finally:
        source.stop()
    assert kafka_kit.committed(kafka_kit.spans_topic) == 2


def test_saved_offset_wins_over_the_committed_one(kafka_kit: Any) -> None:
    """resume_from() makes a new member start at the state's offset, not Kafka's commit."""
    kafka_kit.create()
    kafka_kit.produce(kafka_kit.spans_topic, [b"m0", b"m1", b"m2", b"m3", b"m4"])
    first = _source(kafka_kit)
    first.start()
    try:
        assert len(_read(first, 5)) == 5
        assert first.commit({(kafka_kit.spans_topic, 0): 1})
    finally:
        first.stop()
    second = _source(kafka_kit)
    second.resume_from({(kafka_kit.spans_topic, 0): 3})
    second.start()
    try:
        records = _read(second, 2, timeout_s=20)
        time.sleep(0.5)
        records += second.poll_batch(300)
    finally:
        second.stop()
    assert [r.payload for r in records] == [b"m3", b"m4"]

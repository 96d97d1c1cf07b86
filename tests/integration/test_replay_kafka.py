"""`replay --kafka` and `record` against the real broker give the verdicts replay of files gives."""

from __future__ import annotations

import io
import json
import struct
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from canarywatch.cli import main

pytestmark = pytest.mark.integration


def _times_ns(payload: bytes, spans: bool) -> list[int]:
    """Every event time in one OTLP message (span end, log time else observed time)."""
    if spans:
        data = TracesData.FromString(payload)
        times = [s.end_time_unix_nano for rs in data.resource_spans for ss in rs.scope_spans
                 for s in ss.spans]
    else:
        logs = LogsData.FromString(payload)
        times = [r.time_unix_nano or r.observed_time_unix_nano for rl in logs.resource_logs
                 for sl in rl.scope_logs for r in sl.log_records]
    return times


def _newest_ms(payload: bytes, spans: bool) -> int:
    """The latest event time in one OTLP message, in ms (what a collector stamps it with)."""
    return max(_times_ns(payload, spans)) // 1_000_000


def _produce_stamped(bootstrap: str, topic: str, payloads: list[bytes], spans: bool) -> list[int]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 << 20,
                             linger_ms=5)
    stamps = [_newest_ms(p, spans) for p in payloads]
    try:
        futures = [producer.send(topic, p, timestamp_ms=t)
                   for p, t in zip(payloads, stamps, strict=True)]
        producer.flush(timeout=60)
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close()
    return stamps


def _write_frames(path: Path, payloads: list[bytes]) -> Path:
    with path.open("wb") as out:
        for p in payloads:
            out.write(struct.pack(">I", len(p)))
            out.write(p)
    return path


def _replay(*args: str) -> tuple[int, list[dict[str, Any]]]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["replay", "--json", *args])
    return code, [json.loads(line) for line in buf.getvalue().splitlines()]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


@pytest.fixture
def produced(kafka_kit: Any, incident: Any, tmp_path: Path) -> dict[str, Any]:
    """The incident produced with collector-like timestamps, its files, and a config."""
    kafka_kit.create()
    stamps = (_produce_stamped(kafka_kit.bootstrap, kafka_kit.spans_topic, incident.spans, True)
              + _produce_stamped(kafka_kit.bootstrap, kafka_kit.logs_topic, incident.logs,
                                 False))
    files = tmp_path / "files"
    files.mkdir()
    _write_frames(files / "traces.binpb", incident.spans)
    _write_frames(files / "logs.binpb", incident.logs)
    config = kafka_kit.write_config(kafka_kit.config_data(tmp_path / "state"))
    oldest_ms = min(min(_times_ns(p, True)) for p in incident.spans) // 1_000_000
    oldest_ms = min(oldest_ms, *(min(_times_ns(p, False)) // 1_000_000 for p in incident.logs))
    return {"files": files, "config": config, "from": _iso(oldest_ms),
            "to": _iso(max(stamps) + 1)}


def test_replay_kafka_gives_the_verdicts_of_replaying_the_files(
        kafka_kit: Any, produced: dict[str, Any]) -> None:
    """Same verdict changes, decision times and counts from the broker as from the files."""
    code_files, from_files = _replay(str(produced["files"]))
    assert code_files == 3
    code, from_kafka = _replay("--config", str(produced["config"]), "--kafka",
                               kafka_kit.bootstrap, "--from", produced["from"],
                               "--to", produced["to"])
    assert code == 3
    assert from_kafka[-1]["events"] == from_files[-1]["events"]
    assert from_kafka[-1]["verdicts"] == from_files[-1]["verdicts"]
    assert from_kafka == from_files
    rollback = [v for v in from_kafka if v.get("action") == "rollback"]
    assert rollback and rollback[0]["canary_version"] == "1.5.0"
    assert kafka_kit.committed(kafka_kit.spans_topic) is None  # nothing committed anywhere


def test_record_then_replay_of_the_directory_gives_the_same_verdicts(
        kafka_kit: Any, produced: dict[str, Any], tmp_path: Path) -> None:
    """`record` writes collector files whose replay equals replay of the original files."""
    out = tmp_path / "recorded"
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["record", "--config", str(produced["config"]), "--kafka",
                     kafka_kit.bootstrap, "--from", produced["from"], "--to", produced["to"],
                     "--gzip", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{kafka_kit.logs_topic}-0.binpb.gz", f"{kafka_kit.spans_topic}-0.binpb.gz"]
    _, from_files = _replay(str(produced["files"]))
    code, recorded = _replay(str(out))
    assert code == 3
    assert recorded == from_files


def test_a_later_range_reads_only_its_events(kafka_kit: Any, produced: dict[str, Any],
                                             incident: Any) -> None:
    """--from after the start: fewer spans, and only spans whose event time is in range."""
    _, whole = _replay(str(produced["files"]))
    start_ms = min(_newest_ms(p, True) for p in incident.spans)
    cut_ms = start_ms + 120_000
    _, later = _replay("--config", str(produced["config"]), "--kafka", kafka_kit.bootstrap,
                       "--from", _iso(cut_ms), "--to", produced["to"])
    expected = 0
    for payload in incident.spans:
        data = TracesData.FromString(payload)
        expected += sum(1 for rs in data.resource_spans for ss in rs.scope_spans
                        for s in ss.spans if s.end_time_unix_nano >= cut_ms * 1_000_000)
    assert later[-1]["events"]["spans"] == expected
    assert 0 < expected < whole[-1]["events"]["spans"]


def test_unreachable_broker_and_missing_topic_exit_2(kafka_kit: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A topic the broker lacks exits 2 naming it; no range given exits 2 too."""
    config = kafka_kit.write_config(kafka_kit.config_data(tmp_path / "state"))
    code = main(["replay", "--config", str(config), "--kafka", kafka_kit.bootstrap,
                 "--topics", f"missing-{kafka_kit.suffix}", "--from", "2026-11-18T11:00:00Z",
                 "--to", "2026-11-18T12:00:00Z"])
    assert code == 2
    assert f"missing-{kafka_kit.suffix}" in capsys.readouterr().err
    assert main(["replay", "--kafka", kafka_kit.bootstrap]) == 2


def test_a_text_topic_range_joins_stack_trace_lines_as_files_do(kafka_kit: Any) -> None:
    """One message per line in a text topic: the range reader gives the records a file of
    the same lines gives (the trace one record), and its last line too."""
    from canarywatch.config import ExtraLogTopic, KafkaConfig
    from canarywatch.sources.kafka_range import KafkaRange

    topic = f"text-{kafka_kit.suffix}"
    kafka_kit.create(kafka_kit.spans_topic, kafka_kit.logs_topic, topic)
    lines = [b"2026-01-01T00:00:00Z ERROR request failed",
             b"java.lang.IllegalStateException: cart 81 is locked",
             b"\tat com.shop.cart.CartService.lock(CartService.java:88)",
             b"Caused by: java.io.IOException: gone",
             b"2026-01-01T00:00:01Z INFO fine",
             b"2026-01-01T00:00:02Z WARN last"]
    at_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    producer = KafkaProducer(bootstrap_servers=kafka_kit.bootstrap)
    try:
        for i, line in enumerate(lines):
            producer.send(topic, line, timestamp_ms=at_ms + i)
        producer.flush(timeout=30)
    finally:
        producer.close()
    config = KafkaConfig(bootstrap_servers=(kafka_kit.bootstrap,), spans_topic=None,
                         logs_topic=None, extra_log_topics=(
                             ExtraLogTopic(topic=topic, format="text", service="edge"),))
    kafka_range = KafkaRange(config, (at_ms - 1000) * 1_000_000, (at_ms + 1000) * 1_000_000)
    try:
        records = [r for part in kafka_range.partitions() for r in part]
    finally:
        kafka_range.close()
    assert [r.payload for r in records] == [b"\n".join(lines[:4]), lines[4], lines[5]]
    assert [r.origin for r in records] == [f"{topic}:0:0", f"{topic}:0:4", f"{topic}:0:5"]


def test_learn_from_a_kafka_range_gives_the_model_learned_from_the_files(
        kafka_kit: Any, produced: dict[str, Any], tmp_path: Path) -> None:
    """`learn --kafka --from --to` writes the very model `learn` writes from the same
    telemetry as files, and nothing is committed."""
    from canarywatch.history import load_model

    out_files, out_kafka = tmp_path / "from-files", tmp_path / "from-kafka"
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["learn", str(produced["files"]), "--version", "1.4.2",
                     "--out", str(out_files)]) == 0
        assert main(["learn", "--config", str(produced["config"]), "--kafka",
                     kafka_kit.bootstrap, "--from", produced["from"], "--to", produced["to"],
                     "--version", "1.4.2", "--out", str(out_kafka)]) == 0
    from_files = load_model(out_files / "checkout.model.json")
    from_kafka = load_model(out_kafka / "checkout.model.json")
    assert from_kafka.versions == ("1.4.2",) and from_kafka.requests > 0
    assert from_kafka == from_files
    assert kafka_kit.committed(kafka_kit.spans_topic) is None

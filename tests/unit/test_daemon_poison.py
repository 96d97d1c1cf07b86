"""Poison records never stop the consume loop: each is counted, skipped and committed past.
(No broker: records are handed to ``Daemon.fold`` as the Kafka source would make them.)"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from canarywatch.config import validate
from canarywatch.daemon import Daemon
from canarywatch.metrics import create_metrics
from canarywatch.pipeline import TRUNCATION_MARKER
from canarywatch.sources.base import PayloadKind, Position, Record

sys.path.insert(0, str(Path(__file__).parent / "decode"))  # the shared OTel SDK helpers
from otel_sdk_helpers import T0, Sdk, logs_json

TOPIC = "otlp_logs"


def _daemon(state_dir: Path, **kafka: object) -> Daemon:
    cfg = validate({"kafka": {"bootstrap_servers": "127.0.0.1:9", **kafka},
                    "state_dir": str(state_dir)})
    return Daemon(cfg, create_metrics(CollectorRegistry()))


def _record(payload: bytes, offset: int, kind: PayloadKind = PayloadKind.OTLP_LOGS) -> Record:
    return Record(payload=payload, kind=kind, origin=f"{TOPIC}:0:{offset}",
                  position=Position(TOPIC, 0, offset))


def _sample(daemon: Daemon, name: str, **labels: str) -> float:
    value = daemon.metrics.__getattribute__(name)
    return float(value.labels(**labels)._value.get()) if labels else float(value._value.get())


def _good_logs(body: str = "user 42 logged in") -> bytes:
    sdk = Sdk({"service.name": "checkout", "service.version": "1.4.2"})
    sdk.log(body, at_ns=T0)
    return json.dumps(logs_json(sdk.logs)).encode()


def test_deeply_nested_json_is_poison_counted_and_committed_past(tmp_path: Path) -> None:
    """A record nested 100,000 levels deep is counted as too_deep and its offset passed (the
    decoder refuses it as a reject of that reason; nothing is left to the poison catch)."""
    daemon = _daemon(tmp_path)
    try:
        nested = b'{"resourceLogs":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        daemon.fold([_record(nested, 0), _record(_good_logs(), 1)])
        assert _sample(daemon, "rejected", reason="too_deep") == 1
        assert _sample(daemon, "kafka_records", topic=TOPIC, outcome="rejected") == 1
        assert _sample(daemon, "kafka_records", topic=TOPIC, outcome="events") == 1
        assert daemon.offsets == {(TOPIC, 0): 2}
        assert daemon.pipeline.counts.rejected == 1
    finally:
        daemon.store.close()


def test_an_object_that_is_no_telemetry_is_counted_as_empty(tmp_path: Path) -> None:
    """A JSON object that holds no telemetry is counted (empty or rejected), never lost."""
    daemon = _daemon(tmp_path)
    try:
        daemon.fold([_record(b'{"hello": "world"}', 0),
                     _record(b'{"resourceMetrics": []}', 1)])
        counted = sum(_sample(daemon, "kafka_records", topic=TOPIC, outcome=o)
                      for o in ("empty", "rejected", "poison", "events"))
        assert counted == 2
        assert daemon.offsets == {(TOPIC, 0): 2}
    finally:
        daemon.store.close()


def test_a_ten_megabyte_line_is_truncated_with_a_marker(tmp_path: Path) -> None:
    """A 10 MB log body is mined cut to logs.max_line_chars, ending in the marker, quickly."""
    daemon = _daemon(tmp_path)
    try:
        started = time.process_time()
        daemon.fold([_record(_good_logs("x" * 10_000_000), 0)])
        daemon.pipeline.drain()
        assert time.process_time() - started < 30  # untruncated, masking it took minutes
        assert daemon.pipeline.truncated_lines == 1
        texts = [daemon.pipeline._templates.template_text("checkout", tid)
                 for tid in range(1, daemon.pipeline.template_count("checkout") + 1)]
        assert any(t.endswith(TRUNCATION_MARKER.strip()) or TRUNCATION_MARKER.strip() in t
                   for t in texts), texts
        assert all(len(t) <= 4096 for t in texts)
    finally:
        daemon.store.close()


def test_a_stop_request_ends_the_batch_at_a_record_boundary(tmp_path: Path) -> None:
    """After request_stop, fold folds no further record and its offset stays before them."""
    daemon = _daemon(tmp_path)
    try:
        daemon.request_stop()
        daemon.fold([_record(_good_logs(), 0), _record(_good_logs(), 1)])
        assert daemon.offsets == {}
    finally:
        daemon.store.close()


def test_liveness_fails_when_the_loop_finishes_no_step(tmp_path: Path) -> None:
    """live() is True while steps finish and False once none did for stall_timeout_s."""
    daemon = _daemon(tmp_path, stall_timeout_s=1.0)
    try:
        daemon.step(0)
        assert daemon.live()
        daemon._step_at = time.monotonic() - 2.0  # as if one step had hung for 2 s
        assert not daemon.live()
        daemon.step(0)
        assert daemon.live()
    finally:
        daemon.store.close()

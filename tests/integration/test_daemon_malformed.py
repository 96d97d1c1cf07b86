"""Malformed Kafka messages are counted in /metrics and skipped; nothing else is lost."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

BAD_MESSAGES = 1000


def _bad(i: int) -> bytes:
    """Alternately broken OTLP/JSON and a protobuf whose first field claims 2 GB."""
    if i % 2:
        return b'{"resourceSpans": [ broken %d' % i
    return b"\x0a\xff\xff\xff\x7f" + b"garbage %d" % i


def _mix(good: list[bytes], bad: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    per_good = len(bad) / len(good)
    taken = 0
    for i, payload in enumerate(good):
        out.append(payload)
        upto = round((i + 1) * per_good)
        out.extend(bad[taken:upto])
        taken = upto
    out.extend(bad[taken:])
    return out


def test_a_thousand_malformed_messages_are_counted_and_nothing_else_is_lost(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """1,000 malformed messages among the OTLP ones: decode_errors is 1000, every event counted."""
    kafka_kit.create()
    bad = [_bad(i) for i in range(BAD_MESSAGES)]
    spans = _mix(incident.spans, bad[:600])
    logs = _mix(incident.logs, bad[600:])
    ends = {kafka_kit.spans_topic: kafka_kit.produce(kafka_kit.spans_topic, spans, "gzip"),
            kafka_kit.logs_topic: kafka_kit.produce(kafka_kit.logs_topic, logs, "gzip")}
    state_dir = tmp_path / "state"
    agent = harness.agent(kafka_kit.write_config(
        kafka_kit.config_data(state_dir, commit_interval_s=1.0)))
    harness.until(lambda: all((kafka_kit.committed(t) or 0) >= end for t, end in ends.items()), 90,
                  "offsets committed up to the end")
    assert agent.metric_sum("canarywatch_decode_errors_total") == BAD_MESSAGES
    assert agent.verdict_actions().get(("checkout", "1.5.0")) == "rollback"
    assert agent.alive()
    agent.signal(signal.SIGTERM)
    assert agent.wait(15) == 0
    assert harness.state_counts(state_dir) == {"spans": incident.span_count,
                                       "logs": incident.log_count, "rejected": BAD_MESSAGES}

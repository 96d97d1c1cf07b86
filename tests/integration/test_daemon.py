"""`canarywatch run` as a real process against a real broker: verdicts, stops and crashes."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CANARY = ("checkout", "1.5.0")


def _caught_up(kit: Any, ends: dict[str, int]) -> bool:
    return all((kit.committed(topic) or 0) >= end for topic, end in ends.items())


def test_faulty_canary_gets_rollback_then_sigterm_saves_and_exits_0(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """An OTel-SDK canary with a new ERROR gets `rollback` in /v1/verdicts; SIGTERM exits 0."""
    kafka_kit.create()
    ends = {kafka_kit.spans_topic: kafka_kit.produce(kafka_kit.spans_topic, incident.spans,
                                                     compression="gzip"),
            kafka_kit.logs_topic: kafka_kit.produce(kafka_kit.logs_topic, incident.logs,
                                                    compression="zstd")}
    state_dir = tmp_path / "state"
    agent = harness.agent(kafka_kit.write_config(
        kafka_kit.config_data(state_dir, commit_interval_s=1.0)))
    harness.until(lambda: agent.get_json("/healthz")[0] == 200, 30, "/healthz")
    harness.until(lambda: agent.get_json("/readyz")[0] == 200, 30, "/readyz after assignment")
    harness.until(lambda: agent.verdict_actions().get(CANARY) == "rollback", 60,
                  "a rollback verdict for checkout 1.5.0")
    _, body = agent.get_json("/v1/verdicts")
    verdict = next(v for v in body["verdicts"] if v["canary_version"] == "1.5.0")
    assert verdict["baseline_version"] == "1.4.2"
    assert any(r["signal"] == "log_signature" and r["failed"] for r in verdict["reasons"])
    harness.until(lambda: _caught_up(kafka_kit, ends), 60, "offsets committed up to the end")
    harness.until(lambda: agent.metric_sum("canarywatch_records_consumed_total",  # at drain
                                           topic=kafka_kit.spans_topic) == incident.span_count,
                  30, "every span counted in records_consumed")
    for cohort in ("baseline", "canary"):
        assert agent.metric_sum("canarywatch_records_consumed_total",
                                topic=kafka_kit.logs_topic, cohort=cohort) > 0
    for cohort in ("baseline", "canary", "other", "unversioned"):  # one cohort vocabulary
        # records_consumed counts at decode, events_decoded as events are folded: they agree
        # once the logs still in the reorder buffer are drained too
        harness.until(lambda c=cohort: agent.metric_sum(  # type: ignore[misc]
            "canarywatch_records_consumed_total", cohort=c) == agent.metric_sum(
            "canarywatch_events_decoded_total", cohort=c), 30,
            f"records_consumed and events_decoded to agree for {cohort}")
    assert agent.metric_sum("canarywatch_bytes_consumed_total", topic=kafka_kit.spans_topic) \
        == sum(len(p) for p in incident.spans)
    assert agent.metric_sum("canarywatch_processing_seconds_count") > 0
    assert agent.metric_sum("canarywatch_templates", service="checkout") > 0
    assert agent.metric_sum("canarywatch_verdicts_total", action="rollback") == 1
    assert agent.metric_sum("canarywatch_broker_connected") == 1
    lag_series = [labels for (name, labels) in agent.metrics()
                  if name == "canarywatch_consumer_lag"]
    assert (("partition", "0"), ("topic", kafka_kit.spans_topic)) in lag_series
    agent.signal(signal.SIGTERM)
    assert agent.wait(15) == 0
    assert "stopped cleanly" in agent.log_text()
    assert harness.state_counts(state_dir) == {"spans": incident.span_count,
                                       "logs": incident.log_count, "rejected": 0}


def test_sigkill_mid_stream_and_restart_counts_every_event_once(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """An agent SIGKILLed mid-stream and restarted folds each event once, then rolls back."""
    kafka_kit.create()
    spans, logs = incident.spans, incident.logs
    cut1, cut2 = len(spans) * 2 // 5, len(spans) * 7 // 10
    state_dir = tmp_path / "state"
    # A short session: the group notices the killed member sooner.
    config = kafka_kit.write_config(kafka_kit.config_data(
        state_dir, commit_interval_s=2.0, max_poll_records=20, session_timeout_ms=3000,
        heartbeat_interval_ms=500))
    produced = {kafka_kit.spans_topic: 0, kafka_kit.logs_topic: 0}

    def produce(lo: int, hi: int) -> None:
        produced[kafka_kit.spans_topic] += kafka_kit.produce(kafka_kit.spans_topic, spans[lo:hi])
        produced[kafka_kit.logs_topic] += kafka_kit.produce(kafka_kit.logs_topic, logs[lo:hi])

    produce(0, cut1)
    first = harness.agent(config)
    harness.until(lambda: first.metric_sum("canarywatch_state_saves_total") >= 1, 60,
                  "a first state save")
    before = first.metric_sum("canarywatch_records_consumed_total")
    produce(cut1, cut2)
    harness.until(lambda: first.metric_sum("canarywatch_records_consumed_total") > before, 30,
                  "the agent reading the second part")
    first.kill()  # SIGKILL: no checkpoint, no commit, no leaving the group

    produce(cut2, len(spans))
    second = harness.agent(config)
    harness.until(lambda: second.verdict_actions().get(CANARY) == "rollback", 60,
                  "a rollback verdict after the restart")
    harness.until(lambda: _caught_up(kafka_kit, produced), 60, "offsets committed up to the end")
    second.signal(signal.SIGINT)
    assert second.wait(15) == 0
    assert harness.state_counts(state_dir) == {"spans": incident.span_count,
                                       "logs": incident.log_count, "rejected": 0}


def test_extra_json_topic_is_read_with_its_own_field_mapping(
        kafka_kit: Any, harness: Any, tmp_path: Path) -> None:
    """An extra JSON log topic is decoded with the field names configured for that topic."""
    json_topic = f"applogs-{kafka_kit.suffix}"
    kafka_kit.create(kafka_kit.spans_topic, kafka_kit.logs_topic, json_topic)
    lines = [json.dumps({"msg": f"order {i} stored", "lvl": "info",
                         "ts": f"2026-11-20T10:00:{i:02d}Z"}).encode() for i in range(20)]
    kafka_kit.produce(json_topic, lines)
    data = kafka_kit.config_data(tmp_path / "state")
    data["kafka"]["extra_log_topics"] = [{
        "topic": json_topic, "format": "json", "service": "orders", "version": "2.0.0",
        "fields": {"message": "msg", "level": "lvl", "time": "ts"}}]
    agent = harness.agent(kafka_kit.write_config(data))
    harness.until(lambda: agent.metric_sum("canarywatch_records_consumed_total",
                                           topic=json_topic) == len(lines), 60,
                  "all JSON lines folded")
    assert agent.metric_sum("canarywatch_decode_errors_total") == 0
    agent.signal(signal.SIGTERM)
    assert agent.wait(15) == 0

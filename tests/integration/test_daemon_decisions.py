"""Decisions once, on a real broker: a SIGKILL after the rollback was queued, with a long
commit interval, re-derives the rollback at restart without a second id at the receiver."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from canarywatch.actions.testing import WebhookReceiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CANARY = ("checkout", "1.5.0")


def test_sigkill_after_a_queued_rollback_delivers_one_rollback_id(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """commit_interval_s 60 and a SIGKILL once the rollback is out: the restarted agent
    re-reads and re-decides, and the receiver still sees one rollback id."""
    kafka_kit.create()
    ends = {kafka_kit.spans_topic: kafka_kit.produce(kafka_kit.spans_topic, incident.spans),
            kafka_kit.logs_topic: kafka_kit.produce(kafka_kit.logs_topic, incident.logs)}
    with WebhookReceiver() as receiver:
        data = kafka_kit.config_data(tmp_path / "state", commit_interval_s=60.0)
        data["actions"] = {"webhooks": [{"name": "router", "url": receiver.url + "/hook",
                                         "on": ["change"]}]}
        config = kafka_kit.write_config(data)

        def rollbacks() -> list[str]:
            return [r.json()["id"] for r in receiver.received  # type: ignore[index]
                    if r.json()["action"] == "rollback"]  # type: ignore[index]

        first = harness.agent(config)
        harness.until(lambda: len(rollbacks()) >= 1, 120, "the rollback delivered")
        first.kill()  # before any checkpoint: the state holds none of the incident
        assert all((kafka_kit.committed(t) or 0) < end for t, end in ends.items())

        second = harness.agent(config)
        harness.until(lambda: second.verdict_actions().get(CANARY) == "rollback", 120,
                      "the rollback re-derived after the restart")
        harness.until(lambda: second.metric_sum("canarywatch_outbox_depth") == 0
                      and second.metric_sum("canarywatch_verdicts_total") >= 1, 30,
                      "the outbox drained")
        second.signal(signal.SIGTERM)
        assert second.wait(15) == 0
    assert len(set(rollbacks())) == 1, rollbacks()
    assert len(rollbacks()) == 1

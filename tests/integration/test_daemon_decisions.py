"""Decisions once, on a real broker: a SIGKILL after the rollback was queued, with a long
commit interval, re-derives the rollback at restart without a second id at the receiver; and
live, cold from a backlog or SIGKILLed on the way, the rollback has replay's time and id."""

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


def _replayed_rollback(incident: Any, tmp_path: Path) -> tuple[int, str]:
    """(event time, decision id) of the rollback `canarywatch replay` finds in the incident's
    files (the same payloads the broker gets)."""
    import io
    import json
    import struct
    from contextlib import redirect_stdout

    from canarywatch.actions.spec import decision_id
    from canarywatch.cli import main
    from canarywatch.serialize import verdict_from_json

    files = tmp_path / "files"
    files.mkdir()
    for name, payloads in (("traces.binpb", incident.spans), ("logs.binpb", incident.logs)):
        with (files / name).open("wb") as out:
            for p in payloads:
                out.write(struct.pack(">I", len(p)) + p)
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["replay", "--json", str(files)]) == 3
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    (rollback,) = [v for v in lines if v.get("type") == "verdict"
                   and v["action"] == "rollback"]
    return int(rollback["at_unix_nano"]), decision_id(verdict_from_json(rollback))


@pytest.mark.timeout(600)  # three agent starts on a loaded machine
@pytest.mark.parametrize("arrival", ["backlog", "live", "sigkills"])
def test_the_daemon_decides_as_replay_however_the_data_arrives(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path, arrival: str) -> None:
    """Cold from a backlog, produced while it runs, or SIGKILLed twice on the way: the
    receiver gets one rollback, with replay's decision time and id."""
    expected = _replayed_rollback(incident, tmp_path)
    kafka_kit.create()
    with WebhookReceiver() as receiver:
        data = kafka_kit.config_data(tmp_path / "state", commit_interval_s=1.0)
        data["actions"] = {"webhooks": [{"name": "router", "url": receiver.url + "/hook",
                                         "on": ["rollback"]}]}
        config = kafka_kit.write_config(data)

        def rollbacks() -> list[tuple[int, str]]:
            return [(int(r.json()["at_unix_nano"]), r.json()["id"])  # type: ignore[index]
                    for r in receiver.received]

        def produce(part: slice) -> None:
            kafka_kit.produce(kafka_kit.spans_topic, incident.spans[part])
            kafka_kit.produce(kafka_kit.logs_topic, incident.logs[part])

        records = len(incident.spans) + len(incident.logs)
        if arrival == "live":
            agent = harness.agent(config)
            harness.until(lambda: agent.get_json("/readyz")[0] == 200, 60, "ready")
            chunks = 8
            size = -(-max(len(incident.spans), len(incident.logs)) // chunks)
            for k in range(chunks):
                produce(slice(k * size, (k + 1) * size))
        else:
            produce(slice(None))
            agent = harness.agent(config)
            if arrival == "sigkills":
                # Kill the first agent once it has read a third, the second once it has read
                # a sixth more. Each agent counts only its own reads, and the second resumes
                # where the first's state left off: if the first read nearly everything (a
                # quiet machine), the second is killed once it has caught up (lag 0).
                for n, share in enumerate((3, 6)):
                    def far_enough(a: Any = agent, s: int = share, first: bool = n == 0) -> bool:
                        read = a.metric_sum("canarywatch_kafka_records_total")
                        if read >= records // s:
                            return True
                        lags = [v for (name, _), v in a.metrics().items()
                                if name == "canarywatch_consumer_lag"]
                        return not first and bool(lags) and sum(lags) == 0
                    harness.until(far_enough, 240, f"agent {n + 1}: 1/{share} of the records "
                                  "read")
                    agent.kill()
                    agent = harness.agent(config)
        harness.until(lambda: agent.verdict_actions().get(CANARY) == "rollback", 180,
                      "the rollback")
        harness.until(lambda: len(rollbacks()) >= 1, 30, "the rollback delivered")
        agent.signal(signal.SIGTERM)
        assert agent.wait(15) == 0
    assert rollbacks() == [expected]

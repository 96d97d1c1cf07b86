"""Kafka source: one consumer in a consumer group, reading OTLP and extra log topics.

Offsets are never committed automatically: the daemon commits (``commit``) only what it has
folded into state and saved. Where reading resumes is decided by the daemon's saved state
(``resume_from``), applied as partitions are assigned. kafka-python reconnects by itself;
this source keeps the loop alive through broker outages, logs each outage once and exposes
``broker_connected``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import KafkaConnectionError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from canarywatch.config import ExtraLogTopic, KafkaConfig, SecurityConfig
from canarywatch.errors import ConfigError
from canarywatch.metrics import Metrics
from canarywatch.redact import register_secret
from canarywatch.sources.base import PayloadKind, Position, Record
from canarywatch.sources.multiline import ContinuationJoiner

log = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]
PartitionsCallback = Callable[[set[TopicPartitionKey]], None]

# How often the lag gauge is refreshed.
STATUS_INTERVAL_S = 2.0
# A text partition's newest record waits this long for a next message that may continue it
# (a stack trace shipped one line per message, split between polls).
TEXT_HOLD_S = 1.0


def security_options(security: SecurityConfig,
                     environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """kafka-python keyword arguments for ``security``; the password is read, never logged."""
    env = os.environ if environ is None else environ
    opts: dict[str, Any] = {"security_protocol": security.protocol}
    prefix = "kafka.security."
    if security.protocol in ("SSL", "SASL_SSL"):
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(security, key)
            if value is not None:
                if not Path(value).is_file():
                    raise ConfigError(prefix + key, f"file not found: {value}")
                opts[key] = value
        opts["ssl_check_hostname"] = security.ssl_check_hostname
    if security.protocol.startswith("SASL"):
        if security.sasl_mechanism is None:
            raise ConfigError(prefix + "sasl_mechanism", f"required with {security.protocol}")
        if not security.sasl_username:
            raise ConfigError(prefix + "sasl_username", f"required with {security.protocol}")
        opts["sasl_mechanism"] = security.sasl_mechanism
        opts["sasl_plain_username"] = security.sasl_username
        opts["sasl_plain_password"] = password = _password(security, env)
        register_secret(password)
    return opts


def _password(security: SecurityConfig, env: Mapping[str, str]) -> str:
    prefix = "kafka.security."
    if security.sasl_password_env and security.sasl_password_file:
        raise ConfigError(prefix + "sasl_password_env", "set either it or sasl_password_file")
    if security.sasl_password_env:
        value = env.get(security.sasl_password_env)
        if not value:
            raise ConfigError(prefix + "sasl_password_env",
                              f"environment variable {security.sasl_password_env} is not set")
        return value
    if security.sasl_password_file:
        try:
            return Path(security.sasl_password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(prefix + "sasl_password_file", f"cannot read "
                              f"{security.sasl_password_file}: {exc.strerror}") from None
    raise ConfigError(prefix + "sasl_password_env",
                      "a SASL password needs an env variable or a file")


def _tcp_reachable(server: str, timeout_s: float = 2.0) -> bool:
    host, _, port = server.rpartition(":")
    if not port.isdigit():
        return True  # let kafka-python report the malformed address
    with contextlib.suppress(OSError), socket.create_connection(
            (host.strip("[]") or "localhost", int(port)), timeout=timeout_s):
        return True
    return False


def topic_kinds(config: KafkaConfig) -> dict[str, tuple[PayloadKind, ExtraLogTopic | None]]:
    """What each subscribed topic carries (extra topics keep their config for service/version)."""
    kinds: dict[str, tuple[PayloadKind, ExtraLogTopic | None]] = {}
    if config.spans_topic:
        kinds[config.spans_topic] = (PayloadKind.OTLP_SPANS, None)
    if config.logs_topic:
        if config.logs_topic in kinds:
            raise ConfigError("kafka.logs_topic", "must differ from kafka.spans_topic")
        kinds[config.logs_topic] = (PayloadKind.OTLP_LOGS, None)
    for i, extra in enumerate(config.extra_log_topics):
        if extra.topic in kinds:
            raise ConfigError(f"kafka.extra_log_topics.{i}.topic", f"{extra.topic} is read twice")
        kind = PayloadKind.LOG_JSON if extra.format == "json" else PayloadKind.LOG_TEXT
        kinds[extra.topic] = (kind, extra)
    if not kinds:
        raise ConfigError("kafka",
                          "no topic to read: set spans_topic, logs_topic or extra_log_topics")
    return kinds


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base class
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._source._revoked({(tp.topic, tp.partition) for tp in revoked})

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._source._assigned({(tp.topic, tp.partition) for tp in assigned})


class KafkaSource:
    """A consumer-group member; ``poll_batch`` returns Records carrying their Position."""

    def __init__(self, config: KafkaConfig, metrics: Metrics, client_id: str = "canarywatch",
                 environ: Mapping[str, str] | None = None,
                 text_hold_s: float = TEXT_HOLD_S) -> None:
        """``text_hold_s``: how long a text partition's newest record waits for a line that
        may continue it (see :class:`~canarywatch.sources.multiline.ContinuationJoiner`)."""
        self._config = config
        self._metrics = metrics
        self._kinds = topic_kinds(config)
        self._options: dict[str, Any] = {
            "bootstrap_servers": list(config.bootstrap_servers),
            "client_id": client_id,
            "group_id": config.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": config.auto_offset_reset,
            "session_timeout_ms": config.session_timeout_ms,
            "heartbeat_interval_ms": config.heartbeat_interval_ms,
            "max_poll_interval_ms": config.max_poll_interval_ms,
            "max_poll_records": config.max_poll_records,
            "metadata_max_age_ms": config.metadata_max_age_ms,
            "request_timeout_ms": max(5000, config.session_timeout_ms + 1000),
            "reconnect_backoff_max_ms": 5000,
            # start() gives up after this; the daemon retries, checking for a stop request.
            "bootstrap_timeout_ms": 5000,
            "metrics_enabled": False,
            **security_options(config.security, environ),
        }
        self._consumer: KafkaConsumer | None = None
        self._resume_from: dict[TopicPartitionKey, int] = {}
        self.on_assigned: PartitionsCallback | None = None
        self.on_revoked: PartitionsCallback | None = None
        self._assignment: set[TopicPartitionKey] = set()
        self._connected: bool | None = None
        # Set while the broker is away: before trusting records again, topic metadata is
        # refreshed, so a topic the broker recreated meanwhile shows its new id.
        self._suspect = False
        self._outage_started: float | None = None
        self._next_status = 0.0
        self._lag: dict[TopicPartitionKey, int] = {}
        self._joiner = ContinuationJoiner(text_hold_s)

    @property
    def topics(self) -> list[str]:
        return list(self._kinds)

    @property
    def assignment(self) -> set[TopicPartitionKey]:
        return set(self._assignment)

    def resume_from(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Read each named partition from this offset when it is assigned (before Kafka's
        committed offset); ``on_assigned`` may still seek elsewhere."""
        self._resume_from.update(offsets)

    def start(self) -> None:
        """Create the consumer and subscribe; KafkaError if the bootstrap servers never answer.

        The servers are probed with a plain TCP connect first: a KafkaConsumer that fails to
        bootstrap leaves its IO thread behind, so retrying construction would leak threads.
        """
        if not any(_tcp_reachable(server) for server in self._config.bootstrap_servers):
            raise KafkaConnectionError(
                f"no bootstrap server accepts connections: "
                f"{','.join(self._config.bootstrap_servers)}")
        self._consumer = KafkaConsumer(**self._options)
        self._consumer.subscribe(self.topics, listener=_Listener(self))
        log.info("subscribed to %s as group %s on brokers %s", ",".join(self.topics),
                 self._config.group_id, ",".join(self._config.bootstrap_servers))

    def stop(self) -> None:
        """Leave the group and close (offsets are committed by the daemon beforehand)."""
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False, timeout_ms=3000)
            except KafkaError as exc:
                log.warning("closing the Kafka consumer: %s", exc)
            self._consumer = None

    def __iter__(self) -> Iterator[Record]:
        while self._consumer is not None:
            yield from self.poll_batch(500)

    def _assigned(self, partitions: set[TopicPartitionKey]) -> None:
        self._assignment = set(partitions)
        for key in sorted(partitions):
            offset = self._resume_from.get(key)
            if offset is not None:
                self.seek(key, offset)
        if self.on_assigned is not None:
            self.on_assigned(set(partitions))

    def seek(self, key: TopicPartitionKey, offset: int) -> None:
        """Read an assigned partition from ``offset`` on (call from ``on_assigned``)."""
        if self._consumer is not None:
            self._consumer.seek(TopicPartition(*key), offset)

    def seek_to_reset(self, key: TopicPartitionKey) -> None:
        """Read an assigned partition from where ``auto_offset_reset`` says (start or end)."""
        if self._consumer is not None:
            tp = TopicPartition(*key)
            if self._config.auto_offset_reset == "earliest":
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek_to_end(tp)

    def topic_id(self, topic: str) -> str | None:
        """The broker's id of ``topic`` (changes when a topic is deleted and recreated)."""
        consumer = self._consumer
        if consumer is None:
            return None
        try:
            value = consumer._cluster.topic_id(topic)
        except Exception:  # private kafka-python internals: an unknown id is not fatal
            return None
        return None if value is None else str(value)

    def _revoked(self, partitions: set[TopicPartitionKey]) -> None:
        if partitions:
            log.info("partitions revoked: %s",
                     ", ".join(f"{t}:{p}" for t, p in sorted(partitions)))
        if self.on_revoked is not None:
            self.on_revoked(set(partitions))
        self._joiner.drop(partitions)
        self._assignment -= partitions

    def poll_batch(self, timeout_ms: int) -> list[Record]:
        """Up to ``max_poll_records`` records; [] on timeout or while the broker is away."""
        consumer = self._consumer
        if consumer is None:
            return []
        try:
            polled = consumer.poll(timeout_ms=timeout_ms)
        except KafkaError as exc:
            log.debug("poll failed: %s", exc)
            self._set_connected(False, str(exc))
            time.sleep(min(1.0, timeout_ms / 1000))
            return []
        records: list[Record] = []
        joiner = self._joiner
        for tp, batch in polled.items():
            kind, extra = self._kinds.get(tp.topic, (PayloadKind.LOG_TEXT, None))
            service = extra.service if extra else None
            version = extra.version if extra else None
            size = 0
            text = kind is PayloadKind.LOG_TEXT
            key = (tp.topic, tp.partition)
            for msg in batch:
                value = msg.value if msg.value is not None else b""
                size += len(value)
                record = Record(
                    payload=value, kind=kind, origin=f"{tp.topic}:{tp.partition}:{msg.offset}",
                    position=Position(tp.topic, tp.partition, msg.offset),
                    service=service, version=version)
                if text:
                    # One message per line (a shipper without multiline rules): a stack
                    # trace's lines join the record they continue, across polls.
                    done = joiner.push(key, record)
                    if done is not None:
                        records.append(done)
                    continue
                records.append(record)
            self._metrics.bytes_consumed.labels(tp.topic).inc(size)
        records.extend(joiner.expired())
        reachable = self._broker_reachable()
        self._set_connected(reachable, "no broker connection")
        if not reachable:
            self._suspect = True
        elif records and self._suspect:
            self._refresh_metadata()
        self._update_lag((tp.topic, tp.partition) for tp in polled)
        self._refresh_status()
        return records

    def _refresh_metadata(self) -> None:
        if self._consumer is None:
            return
        try:
            self._consumer.topics()  # a blocking metadata request
        except KafkaError as exc:
            log.debug("metadata refresh after an outage failed: %s", exc)
            return
        self._suspect = False

    def commit(self, offsets: Mapping[TopicPartitionKey, int], timeout_ms: int = 5000) -> bool:
        """Commit next-offsets for assigned partitions; False (logged) if the broker refused."""
        consumer = self._consumer
        owned = {key: off for key, off in offsets.items() if key in self._assignment}
        if consumer is None or not owned:
            return False
        try:
            consumer.commit({TopicPartition(*key): OffsetAndMetadata(off, "", -1)
                             for key, off in owned.items()}, timeout_ms=timeout_ms)
        except KafkaError as exc:
            log.debug("commit failed: %s", exc)
            self._set_connected(False, f"commit failed: {exc}")
            return False
        return True

    def _refresh_status(self) -> None:
        now = time.monotonic()
        if now < self._next_status or self._consumer is None:
            return
        self._next_status = now + STATUS_INTERVAL_S
        self._update_lag(self._assignment)

    def _update_lag(self, partitions: Iterable[TopicPartitionKey]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        for key in partitions:
            tp = TopicPartition(*key)
            try:
                highwater = consumer.highwater(tp)
                position = consumer.position(tp, timeout_ms=0)
            except (KafkaError, ValueError, AssertionError):
                continue
            if highwater is not None and position is not None:
                lag = self._lag[key] = max(0, highwater - position)
                self._metrics.consumer_lag.labels(key[0], str(key[1])).set(lag)

    def waiting(self) -> int:
        """Records the broker last reported beyond this consumer's position, over the
        assigned partitions (0 when unknown)."""
        return sum(lag for key, lag in self._lag.items() if key in self._assignment)

    def waiting_partitions(self) -> set[TopicPartitionKey]:
        """Assigned partitions with records beyond this consumer's position, as the broker
        last reported (a partition whose lag is not known yet counts as waiting)."""
        return {key for key in self._assignment if self._lag.get(key, 1) > 0}

    def _broker_reachable(self) -> bool:
        consumer = self._consumer
        if consumer is None:
            return False
        try:
            client = consumer._client
            brokers = consumer._cluster.brokers()
            return any(client.connected(b.node_id) for b in brokers)
        except Exception:  # private kafka-python internals: never fatal
            return True

    def _set_connected(self, connected: bool, why: str) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        self._metrics.broker_connected.set(1 if connected else 0)
        if connected:
            if self._outage_started is not None:
                log.warning("broker reachable again after %.1fs",
                            time.monotonic() - self._outage_started)
            self._outage_started = None
        else:
            self._outage_started = time.monotonic()
            log.warning("broker unreachable (%s); retrying in the background", why)

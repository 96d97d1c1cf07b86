"""Kafka time ranges for ``replay --kafka`` and ``record``: read, never join, never commit.

Each partition of the topics is read from the first offset whose record timestamp is at or
after ``from - slack`` (``offsets_for_times``) up to the first record stamped after
``to + slack``, or the end of the partition: once the end offset seen when the read began is
reached, a partition that yields nothing more for :data:`END_IDLE_S` has ended. (The end
offset is a hint, not a bound, because some Kafka-protocol brokers, Tansu among them, answer
ListOffsets per record batch; for the same reason records stamped before ``from - slack``
are skipped wherever the lookup started.) No
consumer group is joined (``group_id=None``) and nothing is committed, so reading a range
never moves a running agent's offsets. The slack covers producers whose record timestamp is a
little later than the event times inside (the collector batches before it sends); the
events themselves are then kept by their own event time (see :mod:`canarywatch.replay`).

One :class:`PartitionRange` per partition is a :class:`~canarywatch.sources.base.Source`, so
replay merges them by event time exactly as it merges files. They share one consumer: the
partition being read is resumed, the others paused, so memory stays one fetch per partition.
Security (TLS, SASL) comes from ``kafka.security``, as for ``canarywatch run``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from canarywatch.config import KafkaConfig
from canarywatch.errors import InputError
from canarywatch.sources.base import PayloadKind, Position, Record
from canarywatch.sources.kafka import security_options, topic_kinds
from canarywatch.sources.multiline import ContinuationJoiner

log = logging.getLogger(__name__)

_NS_PER_MS = 1_000_000
STALL_TIMEOUT_S = 60.0  # no record for this long while a partition still has some: give up
END_IDLE_S = 1.0  # past the end offset, no record for this long: the partition has ended


class _SharedReader:
    """One consumer assigned to every partition of the range."""

    def __init__(self, consumer: KafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        self.consumer = consumer
        self.buffers: dict[TopicPartition, deque[Any]] = {tp: deque() for tp in partitions}
        self.finished: set[TopicPartition] = set()

    def next_batch(self, tp: TopicPartition, at_end: bool) -> list[Any]:
        """The next fetched records of ``tp``; [] once it is finished, or (``at_end``: past
        its end offset) nothing came for END_IDLE_S; InputError when the broker stalls."""
        buffer = self.buffers[tp]
        deadline = time.monotonic() + (END_IDLE_S if at_end else STALL_TIMEOUT_S)
        while not buffer:
            if tp in self.finished:
                return []
            others = [p for p in self.buffers if p != tp and p not in self.finished]
            if others:
                self.consumer.pause(*others)
            self.consumer.resume(tp)
            try:
                polled = self.consumer.poll(timeout_ms=1000, max_records=2000)
            except KafkaError as exc:
                raise InputError(f"{tp.topic}:{tp.partition}", f"cannot read: {exc}") from None
            for part, msgs in polled.items():
                self.buffers[part].extend(msgs)
            if not buffer and time.monotonic() > deadline:
                if at_end:
                    return []
                raise InputError(f"{tp.topic}:{tp.partition}",
                                 f"no record for {STALL_TIMEOUT_S:.0f}s before the end offset")
        out = list(buffer)
        buffer.clear()
        return out

    def finish(self, tp: TopicPartition) -> None:
        self.finished.add(tp)
        self.buffers[tp].clear()


class PartitionRange:
    """The records of one partition inside the time range, in offset order."""

    def __init__(self, reader: _SharedReader, tp: TopicPartition, *, start: int, end: int,
                 skip_before_ms: int, stop_after_ms: int, kind: PayloadKind, service: str | None,
                 version: str | None) -> None:
        self._reader = reader
        self.tp = tp
        self.start_offset = start
        self.end_offset = end
        self._skip_before_ms = skip_before_ms
        self._stop_after_ms = stop_after_ms
        self._kind = kind
        self._service = service
        self._version = version

    def __repr__(self) -> str:
        return (f"PartitionRange({self.tp.topic}:{self.tp.partition} "
                f"[{self.start_offset}, {self.end_offset}))")

    @property
    def kind(self) -> PayloadKind:
        return self._kind

    def start(self) -> None:
        return None

    def stop(self) -> None:
        self._reader.finish(self.tp)

    def __iter__(self) -> Iterator[Record]:
        tp = self.tp
        next_offset = self.start_offset
        # A text log shipped one message per line: continuation lines join their record, as
        # the daemon joins them (no time limit here: the partition's end decides).
        joiner = ContinuationJoiner() if self._kind is PayloadKind.LOG_TEXT else None
        try:
            for record in self._records(next_offset):
                if joiner is None:
                    yield record
                elif (done := joiner.push(tp, record)) is not None:
                    yield done
            if joiner is not None and (last := joiner.flush(tp)) is not None:
                yield last
        finally:
            self._reader.finish(tp)

    def _records(self, next_offset: int) -> Iterator[Record]:
        tp = self.tp
        topic, partition = tp.topic, tp.partition
        while True:
            batch = self._reader.next_batch(tp, next_offset >= self.end_offset)
            if not batch:
                return
            for msg in batch:
                next_offset = msg.offset + 1
                if msg.timestamp > self._stop_after_ms:
                    return
                if msg.timestamp < self._skip_before_ms:
                    continue
                yield Record(msg.value if msg.value is not None else b"", self._kind,
                             f"{topic}:{partition}:{msg.offset}",
                             position=Position(topic, partition, msg.offset),
                             service=self._service, version=self._version)


class KafkaRange:
    """Opens the range: ``partitions()`` then iterate each; ``close()`` at the end."""

    def __init__(self, config: KafkaConfig, from_unix_nano: int, to_unix_nano: int, *,
                 topics: Sequence[str] | None = None, slack_s: float = 60.0,
                 client_id: str = "canarywatch-replay",
                 environ: Mapping[str, str] | None = None) -> None:
        if to_unix_nano <= from_unix_nano:
            raise InputError("--to", "must be after --from")
        kinds = topic_kinds(config)
        self._kinds = {t: kinds.get(t, (PayloadKind.OTLP_ANY, None)) for t in topics} \
            if topics else kinds
        self._from_ms = from_unix_nano // _NS_PER_MS
        self._to_ms = -(-to_unix_nano // _NS_PER_MS)
        self._slack_ms = int(slack_s * 1000)
        self._options: dict[str, Any] = {
            "bootstrap_servers": list(config.bootstrap_servers), "client_id": client_id,
            "group_id": None, "enable_auto_commit": False, "metrics_enabled": False,
            "max_partition_fetch_bytes": 8 << 20, "request_timeout_ms": 30000,
            **security_options(config.security, environ)}
        self._consumer: KafkaConsumer | None = None

    def partitions(self) -> list[PartitionRange]:
        """One source per partition holding records of the range; InputError when the
        broker cannot be reached or a topic does not exist."""
        servers = ",".join(self._options["bootstrap_servers"])
        try:
            consumer = self._consumer = KafkaConsumer(**self._options)
            tps: list[TopicPartition] = []
            for topic in self._kinds:
                found = consumer.partitions_for_topic(topic)
                if not found:
                    raise InputError(f"{servers}/{topic}", "no such topic")
                tps.extend(TopicPartition(topic, p) for p in sorted(found))
            consumer.assign(tps)
            lookup = consumer.offsets_for_times(
                {tp: max(0, self._from_ms - self._slack_ms) for tp in tps})
            ends = consumer.end_offsets(tps)
        except KafkaError as exc:
            self.close()
            raise InputError(servers, f"cannot read from Kafka: {exc}") from None
        reader = _SharedReader(consumer, tps)
        out = []
        for tp in tps:
            found_at = lookup.get(tp)
            end = int(ends.get(tp) or 0)
            if found_at is None:
                reader.finish(tp)
                log.info("%s:%d holds no record of the range", tp.topic, tp.partition)
                continue
            consumer.seek(tp, found_at.offset)
            kind, extra = self._kinds[tp.topic]
            out.append(PartitionRange(
                reader, tp, start=found_at.offset, end=end,
                skip_before_ms=self._from_ms - self._slack_ms,
                stop_after_ms=self._to_ms + self._slack_ms, kind=kind,
                service=extra.service if extra else None,
                version=extra.version if extra else None))
            log.info("%s:%d: reading from offset %d (end offset %d)", tp.topic, tp.partition,
                     found_at.offset, end)
        return out

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False, timeout_ms=3000)
            except KafkaError as exc:
                log.warning("closing the Kafka consumer: %s", exc)
            self._consumer = None

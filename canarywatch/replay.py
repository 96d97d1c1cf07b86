"""Replay: the daemon's pipeline fed from recorded files, clocked by event time."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from canarywatch.events import Event
from canarywatch.pipeline import Pipeline, ReplayResult, event_time
from canarywatch.sources.base import Source
from canarywatch.sources.files import open_sources

if TYPE_CHECKING:
    from canarywatch.sources.kafka_range import KafkaRange

_CHUNK = 2048


TimeRange = tuple[int, int]  # [from, to) event time, Unix nanoseconds


def _events(source: Source, pipeline: Pipeline, between: TimeRange | None) -> Iterator[Event]:
    source.start()
    try:
        for record in source:
            if between is None:
                yield from pipeline.decode(record)
            else:
                lo, hi = between
                yield from (ev for ev in pipeline.decode(record) if lo <= event_time(ev) < hi)
    finally:
        source.stop()


def replay_sources(sources: Sequence[Source], pipeline: Pipeline,
                   between: TimeRange | None = None) -> ReplayResult:
    """Merge the sources' events by event time and run them through ``pipeline``; with
    ``between``, only events whose event time lies in ``[from, to)``."""
    streams = [_events(s, pipeline, between) for s in sources]
    merged = heapq.merge(*streams, key=event_time) if len(streams) != 1 else iter(streams[0])
    while chunk := list(islice(merged, _CHUNK)):
        pipeline.feed_events(chunk)
    return pipeline.finish()


def replay_paths(paths: Sequence[Path], pipeline: Pipeline,
                 between: TimeRange | None = None) -> ReplayResult:
    """Replay files (directories expand to their files); raises InputError for a missing path."""
    return replay_sources(open_sources(paths), pipeline, between)


def replay_kafka(kafka: KafkaRange, pipeline: Pipeline, between: TimeRange) -> ReplayResult:
    """Replay a Kafka time range: every partition is one stream of the event-time merge."""
    try:
        return replay_sources(kafka.partitions(), pipeline, between)
    finally:
        kafka.close()

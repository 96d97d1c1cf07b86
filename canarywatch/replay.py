"""Replay: the daemon's pipeline fed from recorded files, clocked by event time."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

from canarywatch.events import Event
from canarywatch.pipeline import Pipeline, ReplayResult, event_time
from canarywatch.sources.base import Source
from canarywatch.sources.files import open_sources

_CHUNK = 2048


def _events(source: Source, pipeline: Pipeline) -> Iterator[Event]:
    source.start()
    try:
        for record in source:
            yield from pipeline.decode(record)
    finally:
        source.stop()


def replay_sources(sources: Sequence[Source], pipeline: Pipeline) -> ReplayResult:
    """Merge the sources' events by event time and run them through ``pipeline``."""
    streams = [_events(s, pipeline) for s in sources]
    merged = heapq.merge(*streams, key=event_time) if len(streams) > 1 else iter(streams[0])
    while chunk := list(islice(merged, _CHUNK)):
        pipeline.feed_events(chunk)
    return pipeline.finish()


def replay_paths(paths: Sequence[Path], pipeline: Pipeline) -> ReplayResult:
    """Replay files (directories expand to their files); raises InputError for a missing path."""
    return replay_sources(open_sources(paths), pipeline)

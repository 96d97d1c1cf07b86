"""Learn models from recorded telemetry: the inputs of ``canarywatch replay`` (files, or a
Kafka time range), decoded the same way."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Sequence
from itertools import islice
from pathlib import Path

from canarywatch.config import Config
from canarywatch.errors import InputError
from canarywatch.events import Event
from canarywatch.history.learn import Learner
from canarywatch.history.model import ServiceModel
from canarywatch.pipeline import Pipeline, event_time
from canarywatch.sources.base import Source
from canarywatch.sources.files import open_sources

_CHUNK = 2048
TimeRange = tuple[int, int]  # [from, to) in Unix nanoseconds of event time


def _events(source: Source, pipeline: Pipeline, between: TimeRange | None) -> Iterator[Event]:
    source.start()
    try:
        for record in source:
            events = pipeline.decode(record)
            if between is None:
                yield from events
            else:
                lo, hi = between
                yield from (ev for ev in events if lo <= event_time(ev) < hi)
    finally:
        source.stop()


def learn_sources(sources: Sequence[Source], config: Config, where: str, *,
                  versions: Collection[str] | None = None, window_s: float = 60.0,
                  previous: dict[str, ServiceModel] | None = None,
                  between: TimeRange | None = None) -> tuple[list[ServiceModel], Learner]:
    """Models learned from ``sources`` merged by event time (only events in ``between`` and
    of ``versions`` when given), merged into ``previous``.

    ``where`` names the inputs in errors. Raises InputError when no event of the named
    versions is found.
    """
    decoder = Pipeline(config)  # only its decoders and reject accounting are used
    streams = [_events(s, decoder, between) for s in sources]
    merged = heapq.merge(*streams, key=event_time) if len(streams) != 1 else iter(streams[0])
    learner = Learner(config.templates, versions, window_s)
    while chunk := list(islice(merged, _CHUNK)):
        learner.observe(chunk)
    if not learner.versions_seen():
        wanted = f" of version(s) {', '.join(sorted(versions))}" if versions else ""
        raise InputError(where, f"no versioned telemetry{wanted} to learn from")
    return learner.models(previous), learner


def learn_paths(paths: Sequence[Path], config: Config, versions: Collection[str] | None = None,
                window_s: float = 60.0, previous: dict[str, ServiceModel] | None = None,
                ) -> tuple[list[ServiceModel], Learner]:
    """Models learned from files ``paths`` (see :func:`learn_sources`).

    Raises InputError for a missing path, or when no event of the named versions is found.
    """
    return learn_sources(open_sources(paths), config, ", ".join(str(p) for p in paths),
                         versions=versions, window_s=window_s, previous=previous)

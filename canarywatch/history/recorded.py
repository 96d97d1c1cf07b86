"""Learn models from recorded files: the inputs of ``canarywatch replay``, decoded the same way."""

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


def _events(source: Source, pipeline: Pipeline) -> Iterator[Event]:
    source.start()
    try:
        for record in source:
            yield from pipeline.decode(record)
    finally:
        source.stop()


def learn_paths(paths: Sequence[Path], config: Config, versions: Collection[str] | None = None,
                window_s: float = 60.0, previous: dict[str, ServiceModel] | None = None,
                ) -> tuple[list[ServiceModel], Learner]:
    """Models learned from ``paths`` (only ``versions`` when given), merged into ``previous``.

    Raises InputError for a missing path, or when no event of the named versions is found.
    """
    decoder = Pipeline(config)  # only its decoders and reject accounting are used
    streams = [_events(s, decoder) for s in open_sources(paths)]
    merged = heapq.merge(*streams, key=event_time) if len(streams) > 1 else iter(streams[0])
    learner = Learner(config.templates, versions, window_s)
    while chunk := list(islice(merged, _CHUNK)):
        learner.observe(chunk)
    seen = learner.versions_seen()
    if not seen:
        wanted = f" of version(s) {', '.join(sorted(versions))}" if versions else ""
        raise InputError(", ".join(str(p) for p in paths),
                         f"no versioned telemetry{wanted} to learn from")
    return learner.models(previous), learner

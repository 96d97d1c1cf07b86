"""Replay: the daemon's pipeline fed from recorded files, clocked by event time.

Every input is accounted for: how many events and rejected records each file gave, and which
paths a directory walk skipped and why, so the command line can refuse input that held no
telemetry at all (exit 2) instead of reporting "no canary found". ``-`` reads standard input
(spooled to a temporary file first: the format is told from its first bytes). Ctrl-C stops
the replay where it is and returns what was decided so far, marked partial.
"""

from __future__ import annotations

import heapq
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from canarywatch.events import Event
from canarywatch.pipeline import Pipeline, ReplayResult, event_time
from canarywatch.sources.base import Source
from canarywatch.sources.files import FileSource
from canarywatch.sources.walk import STDIN, Skipped, expand_inputs

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from canarywatch.sources.kafka_range import KafkaRange

TimeRange = tuple[int, int]  # [from, to) event time, Unix nanoseconds

_CHUNK = 2048

# Called after each chunk with (events so far, event time of the chunk's last event).
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class InputTally:
    """What one input gave: events decoded and records rejected (with the first reason)."""

    name: str
    events: int = 0
    rejected: int = 0
    first_reject: str | None = None

    def why_empty(self) -> str:
        """Why this input gave no event, in a few words."""
        if self.rejected == 1 and self.first_reject:
            return self.first_reject
        if self.rejected:
            return (f"{self.rejected} records, none decodable"
                    + (f" (first: {self.first_reject})" if self.first_reject else ""))
        return "holds no record"


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """A replay's result plus its input accounting; ``partial`` when it was interrupted."""

    result: ReplayResult
    inputs: tuple[InputTally, ...]
    skipped: tuple[Skipped, ...] = ()
    partial: bool = False
    stopped_at_unix_nano: int = 0  # event time reached when interrupted
    versions: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def has_telemetry(self) -> bool:
        return any(tally.events for tally in self.inputs)


def _events(source: Source, pipeline: Pipeline, tally: InputTally,
            between: TimeRange | None = None) -> Iterator[Event]:
    source.start()
    counts = pipeline.counts
    try:
        for record in source:
            before = counts.rejected
            events = pipeline.decode(record)
            if counts.rejected != before:
                tally.rejected += counts.rejected - before
                if tally.first_reject is None:
                    last = pipeline.rejects.last
                    tally.first_reject = last.detail if last is not None else record.error
            tally.events += len(events)
            if between is None:
                yield from events
            else:
                lo, hi = between
                yield from (ev for ev in events if lo <= event_time(ev) < hi)
    finally:
        source.stop()


def replay_sources(sources: Sequence[Source], pipeline: Pipeline,
                   names: Sequence[str] | None = None,
                   progress: Progress | None = None,
                   between: TimeRange | None = None) -> ReplayRun:
    """Merge the sources' events by event time and run them through ``pipeline``.

    Ctrl-C (KeyboardInterrupt) ends the replay early: the events read so far are processed and
    the run comes back with ``partial`` set.
    """
    tallies = [InputTally(names[i] if names else repr(s)) for i, s in enumerate(sources)]
    streams = [_events(s, pipeline, t, between) for s, t in zip(sources, tallies, strict=True)]
    merged = heapq.merge(*streams, key=event_time) if len(streams) != 1 else iter(streams[0])
    done = 0
    last = 0
    partial = False
    log.info("replaying %d input(s)", len(sources))
    try:
        while chunk := list(islice(merged, _CHUNK)):
            pipeline.feed_events(chunk)
            done += len(chunk)
            last = event_time(chunk[-1])
            if progress is not None:
                progress(done, last)
    except KeyboardInterrupt:
        partial = True
    result = pipeline.finish()
    return ReplayRun(result, tuple(tallies), partial=partial,
                     stopped_at_unix_nano=last if partial else 0,
                     versions=pipeline.versions_seen())


def spool_stdin(stream: BinaryIO | None = None) -> Path:
    """Copy standard input to a private temporary file and return its path (the caller
    removes its directory). Replay needs a file: the format is told from the first bytes."""
    directory = Path(tempfile.mkdtemp(prefix="canarywatch-stdin-"))
    target = directory / "stdin"
    with target.open("wb") as out:
        shutil.copyfileobj(stream or sys.stdin.buffer, out, 1 << 20)
    return target


def replay_paths(paths: Sequence[Path], pipeline: Pipeline,
                 progress: Progress | None = None,
                 between: TimeRange | None = None) -> ReplayRun:
    """Replay files; directories are walked recursively (see :mod:`canarywatch.sources.walk`)
    and ``-`` reads standard input. Raises InputError for a missing path or an empty
    directory."""
    inputs = expand_inputs(paths)
    spooled: Path | None = None
    sources: list[FileSource] = []
    names: list[str] = []
    try:
        for path in inputs.files:
            if path == STDIN:
                if spooled is None:
                    spooled = spool_stdin()
                sources.append(FileSource(spooled))
                names.append("<stdin>")
            else:
                sources.append(FileSource(path))
                names.append(str(path))
        run = replay_sources(sources, pipeline, names, progress, between)
    finally:
        if spooled is not None:
            shutil.rmtree(spooled.parent, ignore_errors=True)
    return ReplayRun(run.result, run.inputs, inputs.skipped, run.partial,
                     run.stopped_at_unix_nano, run.versions)


def replay_kafka(kafka: KafkaRange, pipeline: Pipeline, between: TimeRange,
                 progress: Progress | None = None) -> ReplayRun:
    """Replay a Kafka time range: every partition is one stream of the event-time merge."""
    try:
        return replay_sources(kafka.partitions(), pipeline, progress=progress, between=between)
    finally:
        kafka.close()

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
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from canarywatch.decode.batch import DecodedBatch, batch_of
from canarywatch.errors import InputError
from canarywatch.pipeline import Pipeline, ReplayResult, event_time
from canarywatch.rejects import Rejection
from canarywatch.sources.base import Source
from canarywatch.sources.detect import HEAD_BYTES, detect_format
from canarywatch.sources.files import FileSource
from canarywatch.sources.walk import STDIN, Skipped, expand_inputs

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from canarywatch.sources.kafka_range import KafkaRange

TimeRange = tuple[int, int]  # [from, to) event time, Unix nanoseconds

_PROGRESS_EVERY = 2048  # events between two progress calls
_SMALL_BATCH = 16  # records with fewer entries (log lines) are fed in runs ...
_RUN_ENTRIES = 2048  # ... of this many entries

# Called every few thousand events with (events so far, newest event time of the last record).
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


def _batches(source: Source, pipeline: Pipeline, tally: InputTally,
             between: TimeRange | None = None) -> Generator[DecodedBatch, None, None]:
    """The non-empty batches of ``source``'s records, decoded by the daemon's fast path
    (:meth:`Pipeline.decode_batch`); what each record gave is added to ``tally``.

    With a time range, records are decoded in full (every span an event with its own time)
    and only the events in ``[from, to)`` are kept: a counted-span group has one time for
    many spans, so it cannot be cut at the range's edges.

    Records of a few events (a log file's lines) are joined into runs of about
    ``_RUN_ENTRIES``, in record order, so that merging and the reorder buffer cost nothing
    per line (fed one by one, a JSON-lines file replayed 3-4 times slower).
    """
    source.start()
    counts = pipeline.counts
    small: list[DecodedBatch] = []
    small_entries = 0
    try:
        for record in source:
            before = counts.rejected
            if between is None:
                batch = pipeline.decode_batch(record)
                items = batch.items
            else:
                lo, hi = between
                events = pipeline.decode(record)
                items = len(events)
                batch = batch_of([ev for ev in events if lo <= event_time(ev) < hi])
            if counts.rejected != before:
                tally.rejected += counts.rejected - before
                if tally.first_reject is None:
                    last = pipeline.rejects.last
                    tally.first_reject = last.detail if last is not None else record.error
            tally.events += items
            if not batch.entries:
                continue
            if len(batch.entries) >= _SMALL_BATCH:
                if small:
                    yield _joined(small)
                    small = []
                yield batch
                continue
            small.append(batch)  # a log line: records this small are fed in runs
            small_entries += len(batch.entries)
            if small_entries >= _RUN_ENTRIES:
                yield _joined(small)
                small, small_entries = [], 0
        if small:
            yield _joined(small)
    finally:
        source.stop()


def _joined(batches: Sequence[DecodedBatch]) -> DecodedBatch:
    """Consecutive small batches of one source as one, their entries in record order."""
    if len(batches) == 1:
        return batches[0]
    origins: dict[tuple[str, str | None], int] = {}
    for batch in batches:
        for key, n in batch.origins.items():
            origins[key] = origins.get(key, 0) + n
    return DecodedBatch([entry for batch in batches for entry in batch.entries],
                        max(batch.newest_unix_nano for batch in batches), origins,
                        spans=batches[-1].spans)


def _oldest(batch: DecodedBatch) -> int:
    oldest: int = min(map(itemgetter(0), batch.entries))
    return oldest


class _DeferredInterrupt:
    """SIGINT (Ctrl-C) as a request the replay loop takes between records.

    A KeyboardInterrupt raised wherever the interpreter happens to be can leave the reorder
    buffer or a window half-updated, and the partial result then crashes. The first Ctrl-C
    only sets :attr:`requested`; a second one interrupts at once. Outside the main thread
    (where no handler can be set) Python's default behaviour stays.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None


def replay_sources(sources: Sequence[Source], pipeline: Pipeline,
                   names: Sequence[str] | None = None,
                   progress: Progress | None = None,
                   between: TimeRange | None = None) -> ReplayRun:
    """Merge the sources' records by event time and run them through ``pipeline``.

    The merge works on whole records, as the daemon reads Kafka partitions: the source whose
    next record holds the oldest event is read next, and each source is a stream with its own
    watermark (:meth:`Pipeline.feed_batch`), so a source read ahead (a collector batch of 30
    s) holds nothing back and nothing of the others arrives late; the pipeline's reorder
    buffer puts the events in time order. No per-event work is done here.

    Ctrl-C ends the replay early: the records read so far are processed and the run comes
    back with ``partial`` set. The signal is taken between records (see
    :class:`_DeferredInterrupt`), so it never cuts the pipeline in the middle of an update.
    """
    tallies = [InputTally(names[i] if names else repr(s)) for i, s in enumerate(sources)]
    streams = [_batches(s, pipeline, t, between) for s, t in zip(sources, tallies, strict=True)]
    labels = [f"input {i}" for i in range(len(streams))]
    done = 0
    reported = 0
    last = 0
    partial = False
    log.info("replaying %d input(s)", len(sources))
    interrupt = _DeferredInterrupt()
    try:
        heap: list[tuple[int, int, DecodedBatch]] = []
        for i, stream in enumerate(streams):
            first = next(stream, None)
            if first is not None:
                heap.append((_oldest(first), i, first))
        heapq.heapify(heap)
        merged = len(heap) > 1
        active = {labels[i] for _, i, _ in heap}
        if merged:
            pipeline.set_waiting(active)
        feed = pipeline.feed_batch
        while heap:
            if interrupt.requested:
                raise KeyboardInterrupt
            _, i, batch = heap[0]
            feed(batch, labels[i] if merged else None)
            done += batch.items
            last = batch.newest_unix_nano
            following = next(streams[i], None)
            if following is None:
                heapq.heappop(heap)
                active.discard(labels[i])
                if merged:
                    pipeline.set_waiting(active)
            else:
                heapq.heapreplace(heap, (_oldest(following), i, following))
            if progress is not None and done - reported >= _PROGRESS_EVERY:
                reported = done
                progress(done, last)
    except KeyboardInterrupt:
        partial = True
    finally:
        interrupt.restore()
        for stream in streams:
            stream.close()
    if progress is not None and done != reported:
        progress(done, last)
    result = pipeline.finish()
    return ReplayRun(result, tuple(tallies), partial=partial,
                     stopped_at_unix_nano=last if partial else 0,
                     versions=pipeline.versions_seen())


def spool_stdin(stream: BinaryIO | None = None) -> Path:
    """Copy standard input to a private temporary file and return its path (the caller
    removes its directory). Replay needs a file: the format is told from the first bytes.

    InputError when those first bytes (:data:`HEAD_BYTES`) are no telemetry (binary data,
    ``/dev/zero``), before anything is written."""
    source = stream or sys.stdin.buffer
    head = source.read(HEAD_BYTES)
    found = detect_format(head, "<stdin>")
    if isinstance(found, Rejection):  # refused before an endless stream fills the disk
        raise InputError("<stdin>", f"{found.detail} ({found.reason.value})")
    directory = Path(tempfile.mkdtemp(prefix="canarywatch-stdin-"))
    target = directory / "stdin"
    with target.open("wb") as out:
        out.write(head)
        shutil.copyfileobj(source, out, 1 << 20)
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

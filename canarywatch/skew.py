"""Events too far from their stream's watermark are rejected before they can move a clock.

Each stream (a file, a Kafka partition: the origin without its last ``:line`` / ``@offset`` /
``:offset`` part) has a watermark, the latest event time accepted from it; its first record
sets it from the median of that record's times, so one wrong clock among the first events
does not decide it. An event more than ``analysis.max_clock_skew_s`` ahead of or behind the
watermark is rejected (reason ``clock_skew``) with where it came from. The check costs one
``min`` per record, and nothing per event unless a record holds a skewed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from canarywatch.decode.batch import CountedSpan, DecodedBatch, Entry, event_time, latest
from canarywatch.events import Event, format_unix_nano
from canarywatch.rejects import RejectReason, RejectTally

_NS = 1_000_000_000
_MAX_STREAMS = 65_536


def stream_of(origin: str) -> str:
    """``file:line`` / ``file@offset`` -> ``file``; ``topic:partition:offset`` ->
    ``topic:partition``."""
    for separator in ("@", ":"):
        head, sep, tail = origin.rpartition(separator)
        if sep and tail.isdigit():
            return head
    return origin


class SkewGuard:
    """Per-stream watermarks, and the events of a record that are too far from them."""

    def __init__(self, max_skew_s: float, rejects: RejectTally) -> None:
        self.max_skew_ns = int(max_skew_s * _NS)
        self.rejects = rejects
        self._watermarks: dict[str, int] = {}

    def check_batch(self, origin: str, batch: DecodedBatch) -> DecodedBatch:
        """``batch`` without its skewed entries (the same object when there are none)."""
        entries = batch.entries
        if not entries:
            return batch
        newest = batch.newest_unix_nano
        oldest = min(map(itemgetter(0), entries))
        kept = self._keep(origin, entries, oldest, newest)
        if kept is None:
            return batch
        origins = dict(batch.origins)
        for _, ev in _dropped(entries, kept):
            key, n = _origin_of(ev)
            origins[key] = origins.get(key, 0) - n
            if origins[key] <= 0:
                del origins[key]
        return DecodedBatch(kept, latest(kept), origins, batch.spans)

    def check_events(self, origin: str, events: Sequence[Event]) -> Sequence[Event]:
        """``events`` without the skewed ones (the same sequence when there are none)."""
        if not events:
            return events
        entries = [(event_time(ev), ev) for ev in events]
        times = [t for t, _ in entries]
        kept = self._keep(origin, entries, min(times), max(times))
        if kept is None:
            return events
        return [ev for _, ev in kept]  # type: ignore[misc]

    def _keep(self, origin: str, entries: Sequence[Entry], oldest: int,
              newest: int) -> list[Entry] | None:
        """The entries to keep, or None when all are kept; rejects and logs the others."""
        stream = stream_of(origin)
        watermark = self._watermarks.get(stream)
        if watermark is None:
            times = sorted(t for t, _ in entries)
            watermark = times[(len(times) - 1) // 2]
            if len(self._watermarks) >= _MAX_STREAMS:
                self._watermarks.clear()
        skew = self.max_skew_ns
        if newest - watermark <= skew and watermark - oldest <= skew:
            self._watermarks[stream] = max(watermark, newest)
            return None
        low, high = watermark - skew, watermark + skew
        kept = [entry for entry in entries if low <= entry[0] <= high]
        for t, ev in entries:
            if not low <= t <= high:
                self.rejects.reject(
                    origin, RejectReason.CLOCK_SKEW,
                    f"event time {format_unix_nano(t)} is {abs(t - watermark) / _NS:.0f} s "
                    f"{'ahead of' if t > watermark else 'behind'} the stream's watermark "
                    f"{format_unix_nano(watermark)} (analysis.max_clock_skew_s = "
                    f"{skew / _NS:g})", _origin_of(ev)[1], version_of=_origin_of(ev)[0])
        self._watermarks[stream] = max([watermark, *(t for t, _ in kept)])
        return kept

    def snapshot(self) -> dict[str, int]:
        return dict(self._watermarks)

    def restore(self, watermarks: dict[str, int]) -> None:
        self._watermarks = {str(k): int(v) for k, v in watermarks.items()}


def _dropped(entries: Sequence[Entry], kept: Sequence[Entry]) -> list[Entry]:
    ids = {id(entry) for entry in kept}
    return [entry for entry in entries if id(entry) not in ids]


def _origin_of(ev: object) -> tuple[tuple[str, str | None], int]:
    """(service, version) of an entry's event and how many events it stands for."""
    if isinstance(ev, tuple):  # a SpanRow
        return (ev[0], ev[1]), 1
    if isinstance(ev, CountedSpan):
        return (ev.service, ev.version), ev.count
    return (ev.service, ev.version), 1  # type: ignore[attr-defined]

"""Events too far from their stream's watermark are rejected before they can move a clock.

Each stream (a file, a Kafka partition: the origin without its last ``:line`` / ``@offset`` /
``:offset`` part) has a watermark, the latest event time accepted from it; its first record
sets it from the median of that record's times, so one wrong clock among the first events
does not decide it. An event more than ``analysis.max_clock_skew_s`` ahead of or behind the
watermark is rejected (reason ``clock_skew``) with where it came from. The check costs one
``min`` per record, and nothing per event unless a record holds a skewed one.

The watermark is re-anchored when the stream shows it was wrong: when the rejected events of
at least :data:`REANCHOR_RECORDS` records agree with each other (within the skew bound) and
outnumber the events accepted since the first of them, the stream's clock is where they are
(a lone first record with a wrong clock, or a producer whose clock was corrected), and the
record that tips it is read against the new watermark. What that costs: the rejected events of
the records before it (counted under ``clock_skew``, and the switch logged as a warning). A
wrong clock that is a minority of a stream's events never wins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from canarywatch.decode.batch import CountedSpan, DecodedBatch, Entry, event_time, latest
from canarywatch.events import Event, format_unix_nano
from canarywatch.rejects import RejectReason, RejectTally

_NS = 1_000_000_000
_MAX_STREAMS = 65_536
REANCHOR_RECORDS = 2  # records whose rejected events must agree before the watermark moves

log = logging.getLogger(__name__)


def stream_of(origin: str) -> str:
    """``file:line`` / ``file@offset`` -> ``file``; ``topic:partition:offset`` ->
    ``topic:partition``."""
    for separator in ("@", ":"):
        head, sep, tail = origin.rpartition(separator)
        if sep and tail.isdigit():
            return head
    return origin


@dataclass(slots=True)
class _Candidate:
    """Rejected events of a stream that agree with each other: where its clock may really be."""

    anchor_ns: int  # median time of the first rejected record
    newest_ns: int
    records: int
    events: int
    accepted_since: int = 0  # events accepted at the current watermark since this began


class SkewGuard:
    """Per-stream watermarks, and the events of a record that are too far from them."""

    def __init__(self, max_skew_s: float, rejects: RejectTally) -> None:
        self.max_skew_ns = int(max_skew_s * _NS)
        self.rejects = rejects
        self._watermarks: dict[str, int] = {}
        self._candidates: dict[str, _Candidate] = {}
        self.reanchored = 0  # watermarks moved to where a stream's rejected events agree

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
            watermark = _median(t for t, _ in entries)
            if len(self._watermarks) >= _MAX_STREAMS:
                self._watermarks.clear()
                self._candidates.clear()
        skew = self.max_skew_ns
        if newest - watermark <= skew and watermark - oldest <= skew:
            self._watermarks[stream] = max(watermark, newest)
            candidate = self._candidates.get(stream)
            if candidate is not None:
                candidate.accepted_since += len(entries)
            return None
        low, high = watermark - skew, watermark + skew
        kept = [entry for entry in entries if low <= entry[0] <= high]
        rejected = [entry for entry in entries if not low <= entry[0] <= high]
        if self._reanchor(origin, stream, watermark, rejected, len(kept)):
            return self._keep(origin, entries, oldest, newest)
        for t, ev in rejected:
            self.rejects.reject(
                origin, RejectReason.CLOCK_SKEW,
                f"event time {format_unix_nano(t)} is {abs(t - watermark) / _NS:.0f} s "
                f"{'ahead of' if t > watermark else 'behind'} the stream's watermark "
                f"{format_unix_nano(watermark)} (analysis.max_clock_skew_s = "
                f"{skew / _NS:g})", _origin_of(ev)[1], version_of=_origin_of(ev)[0])
        self._watermarks[stream] = max([watermark, *(t for t, _ in kept)])
        return kept

    def _reanchor(self, origin: str, stream: str, watermark: int,
                  rejected: Sequence[Entry], accepted: int) -> bool:
        """Whether ``rejected`` tips the stream's candidate clock over its watermark (then the
        watermark is the candidate's and the caller reads the record again)."""
        times = [t for t, _ in rejected]
        median, newest = _median(times), max(times)
        candidate = self._candidates.get(stream)
        if candidate is None or abs(median - candidate.newest_ns) > self.max_skew_ns:
            candidate = self._candidates[stream] = _Candidate(median, newest, 0, 0)
        candidate.records += 1
        candidate.events += len(rejected)
        candidate.newest_ns = max(candidate.newest_ns, newest)
        candidate.accepted_since += accepted
        if candidate.records < REANCHOR_RECORDS or candidate.events <= candidate.accepted_since:
            return False
        del self._candidates[stream]
        self._watermarks[stream] = candidate.anchor_ns
        self.reanchored += 1
        log.warning(
            "%s: moved the stream's watermark from %s to %s: the events of %d records agree "
            "on the new time and outnumber the %d accepted at the old one since (a producer "
            "clock was wrong or was corrected; events rejected before the move stay counted "
            "as clock_skew)", origin, format_unix_nano(watermark),
            format_unix_nano(candidate.anchor_ns), candidate.records, candidate.accepted_since)
        return True

    def snapshot(self) -> dict[str, int]:
        return dict(self._watermarks)

    def restore(self, watermarks: dict[str, int]) -> None:
        self._watermarks = {str(k): int(v) for k, v in watermarks.items()}
        self._candidates.clear()


def _median(times: Iterable[int]) -> int:
    """The lower median of ``times`` (not empty)."""
    ordered = sorted(times)
    return ordered[(len(ordered) - 1) // 2]


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

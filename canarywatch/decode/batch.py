"""What the pipeline's fast path gets from a decoder: events, each with its time, plus spans
that only need counting.

Analysis looks at SERVER / CONSUMER spans (and at recorded exceptions); every other span only
counts: in the span totals, in its version's traffic and, through its end time, in the event
clock. The OTLP protobuf decoder does not build a :class:`SpanEvent` for such a span; it puts
a :class:`CountedSpan` (one shared object per service and version) in the span's place, so
the pipeline counts it and moves time exactly as it would for the full event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

from canarywatch.events import Event, SpanEvent


@dataclass(frozen=True, slots=True)
class CountedSpan:
    """Stands for a span of ``service`` at ``version`` that nothing but the counts needs."""

    service: str
    version: str | None


Entry = tuple[int, Event | CountedSpan]
"""(event time in Unix ns, what happened): a span's end time, a log record's time."""


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """One record's events in record order.

    ``entries`` holds every span and log record of the record; ``newest_unix_nano`` is the
    latest entry time (0 when empty); ``origins`` counts the entries per (service, version).
    """

    entries: Sequence[Entry]
    newest_unix_nano: int
    origins: dict[tuple[str, str | None], int]
    spans: bool  # True: the entries are spans (materialised or counted), else log records

    @property
    def events(self) -> list[Event]:
        """The materialised events (no CountedSpan)."""
        return [ev for _, ev in self.entries if not isinstance(ev, CountedSpan)]


EMPTY_BATCH = DecodedBatch((), 0, {}, spans=False)


def event_time(ev: Event) -> int:
    """The moment an event becomes known: a span when it ends, a log when written."""
    return ev.end_time_unix_nano if isinstance(ev, SpanEvent) else ev.time_unix_nano


def latest(entries: Sequence[Entry]) -> int:
    """The latest time among ``entries``, 0 when there are none."""
    return max(map(itemgetter(0), entries), default=0)


def batch_of(events: Sequence[Event]) -> DecodedBatch:
    """A batch holding ``events``, every one materialised (decoders without a fast path)."""
    if not events:
        return EMPTY_BATCH
    entries = [(event_time(ev), ev) for ev in events]
    origins = Counter((ev.service, ev.version) for ev in events)
    return DecodedBatch(entries, latest(entries), dict(origins),
                        spans=isinstance(events[0], SpanEvent))

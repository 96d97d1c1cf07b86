"""What the pipeline's fast path gets from a decoder: events, each with its time, plus spans
that only need counting.

Analysis looks at SERVER / CONSUMER spans (and at recorded exceptions); every other span only
counts: in the span totals, in its version's traffic and, through its end time, in the event
clock. The OTLP protobuf decoder does not build a :class:`SpanEvent` for such a span (and
makes a plain entry span a :data:`SpanRow`, not an object). It counts them instead: the
spans of one (service, version) whose end times fall in the same ``group_ns`` of event time
become one :class:`CountedSpan` entry carrying their number, placed at the end time of the
first of them. ``group_ns`` divides the judge's evaluation interval, so
every evaluation sees exactly the traffic it would have seen had each span been fed alone; the
batch's ``newest_unix_nano`` still covers every span.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

from canarywatch.events import Event, SpanEvent, SpanKind


@dataclass(frozen=True, slots=True)
class CountedSpan:
    """Stands for ``count`` spans of ``service`` at ``version`` that only need counting."""

    service: str
    version: str | None
    count: int = 1


class CountedSpans:
    """The one :class:`CountedSpan` per (service, version), so a batch's count-only spans
    share it; at most ``limit`` kept (the cache starts over past it: decoders see a few
    services each, a flood of distinct names must not grow it without bound)."""

    __slots__ = ("_found", "_limit")

    def __init__(self, limit: int) -> None:
        self._found: dict[tuple[str, str | None], CountedSpan] = {}
        self._limit = limit

    def __call__(self, service: str, version: str | None) -> CountedSpan:
        found = self._found.get((service, version))
        if found is None:
            if len(self._found) >= self._limit:
                self._found.clear()
            found = self._found[(service, version)] = CountedSpan(service, version)
        return found


SpanRow = tuple[str, str, str, SpanKind, str, int, int, bool, int | None, str, str,
                tuple[()]]
"""A versioned SERVER/CONSUMER span without span events, as the plain tuple of
:class:`SpanEvent`'s fields in their order: what the fast path makes for the spans analysis
reads most (a tuple is built in one step, a frozen dataclass one field at a time);
``SpanEvent(*row)`` is the event."""

Entry = tuple[int, Event | CountedSpan | SpanRow]
"""(event time in Unix ns, what happened): a span's end time, a log record's time."""


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """One record's events in record order.

    ``entries`` holds every span and log record of the record (counted spans grouped, see
    above); ``newest_unix_nano`` is the latest span end or record time (0 when empty);
    ``origins`` counts the spans or records per (service, version).
    """

    entries: Sequence[Entry]
    newest_unix_nano: int
    origins: dict[tuple[str, str | None], int]
    spans: bool  # True: the entries are spans (materialised or counted), else log records

    @property
    def items(self) -> int:
        """How many spans or log records the batch stands for."""
        return sum(self.origins.values())

    @property
    def events(self) -> list[Event]:
        """The events of the entries (SpanRows as SpanEvents; CountedSpans left out)."""
        return [SpanEvent(*ev) if isinstance(ev, tuple) else ev
                for _, ev in self.entries if not isinstance(ev, CountedSpan)]


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

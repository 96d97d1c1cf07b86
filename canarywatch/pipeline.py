"""The one pipeline behind both the daemon and replay.

decode -> version/cohort -> templates -> analysis -> judge -> verdict changes to sinks.
Event time drives everything: events are released in time order once the watermark (the
latest event time seen) has passed them by ``analysis.lateness_s``, and the judge looks at every
canary each ``analysis.evaluation_interval_s`` of event time. No wall clock, no I/O here:
sources read, sinks write.

``feed`` / ``feed_batch`` take the decoder's fast path: spans analysis does not read arrive
grouped in :class:`~canarywatch.decode.batch.CountedSpan` entries that are counted (totals,
cohort traffic, metrics) and move the event clock as the spans would, so verdicts and counts
equal those of ``feed_events(decode(record))``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from canarywatch.analysis import Analyzer
from canarywatch.analysis.windows import Summary
from canarywatch.cohort import Cohort, CohortResolver, Roles
from canarywatch.config import Config, ServiceCohorts
from canarywatch.decode import Decoders
from canarywatch.decode.batch import (
    EMPTY_BATCH,
    CountedSpan,
    DecodedBatch,
    Entry,
    SpanRow,
    event_time,
    latest,
)
from canarywatch.errors import DecodeError
from canarywatch.events import Action, Event, LogEvent, Severity, SpanEvent, SpanKind, Verdict
from canarywatch.metrics import Metrics
from canarywatch.notices import InputNotices
from canarywatch.rejects import RejectReason, RejectTally
from canarywatch.reorder import PendingEntries
from canarywatch.serialize import event_from_json, event_to_json, verdict_from_json
from canarywatch.series import ServiceSeries
from canarywatch.skew import SkewGuard
from canarywatch.sources.base import Record
from canarywatch.templates import TemplateMiner

if TYPE_CHECKING:
    from canarywatch.analysis.logs import TemplateInfo
    from canarywatch.history.judge import HistoryJudge
    from canarywatch.history.rolling import RollingHistory

__all__ = ["EventCounts", "LookObserver", "Pipeline", "ReplayResult", "VerdictSink", "event_time"]

log = logging.getLogger(__name__)

_NS = 1_000_000_000
# Events ending more than this after the wall clock are dropped before the skew guard: no
# producer clock is that wrong by accident, and such a time (a span ending in 2200) would
# anchor its stream's watermark or move the event clock past every real event. Smaller skews
# are the skew guard's (analysis.max_clock_skew_s, relative to each stream's watermark).
FUTURE_BOUND_NS = 86_400 * _NS
_COUNTED_SPAN = "counted_span"  # a pending CountedSpan in a snapshot
_SPAN_ROW = "row"  # a pending SpanRow in a snapshot: a list, SpanEvent's fields in order
_LOGGED_FOLD_ERRORS = 20  # log every fold error up to this many, then every 1000th
TRUNCATION_MARKER = " …[truncated]"


def truncate_line(body: str, max_chars: int) -> str:
    """``body`` cut to at most ``max_chars`` characters, ending in :data:`TRUNCATION_MARKER`
    (a very long line costs the template miner time and the state space for nothing)."""
    if len(body) <= max_chars:
        return body
    return body[:max(0, max_chars - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER


class VerdictSink(Protocol):
    def send(self, verdict: Verdict) -> None: ...


class LookObserver(Protocol):
    """Told of every look at every canary (the HTML report's recorder is one)."""

    def looked(self, view: Pipeline, now_unix_nano: int, verdict: Verdict) -> None: ...


@dataclass(slots=True)
class EventCounts:
    spans: int = 0
    logs: int = 0
    rejected: int = 0
    unversioned: int = 0
    # rejected records and events by reason (RejectReason values), in first-seen order
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"spans": self.spans, "logs": self.logs, "rejected": self.rejected,
                "unversioned": self.unversioned,
                "rejected_by_reason": dict(self.rejected_by_reason)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventCounts:
        by_reason = data.get("rejected_by_reason") or {}
        return cls(**{k: int(v) for k, v in data.items()
                      if k in ("spans", "logs", "rejected", "unversioned")},
                   rejected_by_reason={str(k): int(v) for k, v in by_reason.items()})


@dataclass(frozen=True, slots=True)
class ReplayResult:
    changes: tuple[Verdict, ...]  # every verdict change, in event-time order
    final: tuple[Verdict, ...]  # the last verdict per canary
    counts: EventCounts = field(default_factory=EventCounts)
    # what a user must hear about the input: services without versions, cohorts whose
    # records were mostly rejected (with the reason of the first)
    notices: tuple[str, ...] = ()

    @property
    def rollback(self) -> bool:
        return any(v.action is Action.ROLLBACK for v in self.final)

    def summary_json(self) -> dict[str, object]:
        return {"type": "summary", "verdicts": [v.to_json() for v in self.final],
                "events": self.counts.to_json(), "notices": list(self.notices)}


UNSPECIFIED = Severity.UNSPECIFIED


def _may_name_a_level(body: str) -> bool:
    """Whether a body may carry its own level (JSON, logfmt, klog): checked before parsing."""
    return "{" in body or "=" in body or body[:1] in "IWEF"


class Pipeline:
    """Folds events into templates and analysis state and emits verdict changes."""

    def __init__(self, config: Config, sinks: Sequence[VerdictSink] = (),
                 metrics: Metrics | None = None, *,
                 roles: dict[str, ServiceCohorts] | None = None,
                 global_roles: ServiceCohorts | None = None,
                 history: HistoryJudge | None = None,
                 observer: LookObserver | None = None,
                 rolling: RollingHistory | None = None) -> None:
        self.config = config
        self._history = history
        # The daemon's rolling history of each service's baseline (read at every look).
        self.rolling = rolling
        self._sinks = list(sinks)
        self._observer = observer
        self._metrics = metrics
        self.counts = EventCounts()
        self.rejects = RejectTally(on_reject=self._count_reject)
        self._decoders = Decoders(config, rejects=self.rejects)
        self._skew = SkewGuard(config.analysis.max_clock_skew_s, self.rejects)
        self._folds_reported: dict[str, int] = {}  # endpoint folds already counted in metrics
        self._notices = InputNotices(config.cohorts.version_keys)
        self._cohorts = CohortResolver(config.cohorts, roles, global_roles)
        self._templates = TemplateMiner(config.templates, track_evictions=True)
        self._analyzer = Analyzer(config.analysis,
                                  max_examples=config.templates.examples_per_template,
                                  history=history)
        self._lateness_ns = int(config.analysis.lateness_s * _NS)
        self._interval_ns = config.analysis.evaluation_interval_ns
        self._pending = PendingEntries()
        self._watermark = 0
        self._newest_fed = 0  # the newest event time fed on any stream (ahead of the clock)
        self._released_to = 0  # every event at or before this time has been processed
        self._next_eval = 0  # the release clock's next interval boundary (housekeeping)
        self._service_next: dict[str, int] = {}  # per service, its next look's event time
        self._current: dict[tuple[str, str], Verdict] = {}
        self._changes: list[Verdict] = []
        # Looks at the boundaries of a gap in the data: enough for every window and timer to
        # run out, then the look at the gap's end (so a gap costs no work proportional to it).
        self.look_count = 0  # judge looks taken: the work event time costs, whatever its gaps
        self._gap_looks = 2 + int(max(config.analysis.window_s, config.analysis.promote_after_s,
                                      config.analysis.alpha_horizon_s)
                                  / config.analysis.evaluation_interval_s)
        self._tally: dict[tuple[str, str, str], int] = {}
        self._consumed: dict[tuple[str, str, str | None], int] = {}  # (topic, service, version)
        self._max_line = config.logs.max_line_chars
        self._stream_marks: dict[str, int] = {}  # newest event time per input stream
        self._waiting: frozenset[str] = frozenset()
        self._waiting_bounded = True
        self._hold_ns = int(config.analysis.partition_hold_s * _NS)
        self._series = None if metrics is None else ServiceSeries(
            config.server.max_service_series, (metrics.templates, metrics.endpoints),
            (metrics.endpoint_folds,), self._cohorts.totals)
        self._looked: set[str] = set()  # services looked at since the last housekeeping
        self.truncated_lines = 0  # log bodies cut to logs.max_line_chars
        self.fold_errors = 0  # events skipped because folding them raised

    # -- input -----------------------------------------------------------------------------

    def decode(self, record: Record) -> Sequence[Event]:
        """Decode one record; a malformed one is counted, logged and skipped, and so are
        events farther than ``analysis.max_clock_skew_s`` from their stream's watermark."""
        try:
            events = self._decoders.decode(record)
        except DecodeError as exc:
            self.reject(exc.origin, exc.message, record.kind.value, exc.reason)
            return ()
        return self._skew.check_events(record.origin, events)

    def reject(self, origin: str, message: str, source: str,
               reason: RejectReason = RejectReason.MALFORMED_RECORD) -> None:
        """Count, log and skip one unreadable record from ``origin`` (``source``: its topic
        or payload kind, the label of ``canarywatch_decode_errors``)."""
        if self._metrics is not None:
            self._metrics.decode_errors.labels(source).inc()
        self.rejects.reject(origin, reason, message)

    def _count_reject(self, reason: RejectReason, n: int) -> None:
        counts = self.counts
        counts.rejected += n
        counts.rejected_by_reason[reason.value] = counts.rejected_by_reason.get(
            reason.value, 0) + n
        if self._metrics is not None:
            self._metrics.rejected.labels(reason.value).inc(n)

    def decode_batch(self, record: Record) -> DecodedBatch:
        """Decode one record for :meth:`feed_batch`: spans analysis does not read are only
        counted (see :mod:`canarywatch.decode.batch`); a malformed record is counted, logged
        and skipped."""
        try:
            batch = self._decoders.decode_batch(record)
        except DecodeError as exc:
            self.reject(exc.origin, exc.message, record.kind.value, exc.reason)
            return EMPTY_BATCH
        if batch.newest_unix_nano > time.time_ns() + FUTURE_BOUND_NS:
            batch = self._drop_future(record, batch)
        return self._skew.check_batch(record.origin, batch)

    def _drop_future(self, record: Record, batch: DecodedBatch) -> DecodedBatch:
        """``batch`` without the events ending more than :data:`FUTURE_BOUND_NS` after the
        wall clock, counted as rejected (``clock_skew``). Telemetry, live or recorded, cannot
        come from the future: such a time (a span ending in 2200) must never anchor a
        stream's watermark nor move the event clock past every real event, so it is dropped
        before the skew guard sees it."""
        limit = time.time_ns() + FUTURE_BOUND_NS
        kept = [entry for entry in batch.entries if entry[0] <= limit]
        origins: dict[tuple[str, str | None], int] = {}
        for _, ev in kept:
            if isinstance(ev, tuple):
                key: tuple[str, str | None] = (ev[0], ev[1])
                n = 1
            else:
                key, n = (ev.service, ev.version), getattr(ev, "count", 1)
            origins[key] = origins.get(key, 0) + n
        dropped = batch.items - sum(origins.values())
        if self._metrics is not None:
            self._metrics.future_events.inc(dropped)
        self.reject(record.origin, f"{dropped} events end more than "
                    f"{FUTURE_BOUND_NS // _NS} s after the wall clock", record.kind.value,
                    RejectReason.CLOCK_SKEW)
        newest = max((t for t, _ in kept), default=0)
        return DecodedBatch(kept, newest, origins, batch.spans)

    def feed(self, record: Record) -> None:
        self.feed_batch(self.decode_batch(record))

    def feed_events(self, events: Iterable[Event]) -> None:
        entries: list[Entry] = [(event_time(ev), ev) for ev in events]
        self._feed(entries, latest(entries))

    def feed_batch(self, batch: DecodedBatch, stream: str | None = None) -> None:
        """Feed what :meth:`decode_batch` made; the same verdicts and counts as feeding every
        event of the record through :meth:`feed_events`.

        ``stream`` names the ordered input the batch came from (a Kafka ``topic:partition``).
        Each stream has its own watermark (its newest event time); the clock that releases
        events is the lowest of them, so events of a stream read ahead (a consumer catching
        up reads partitions in chunks) wait for the others and are processed in the same
        order as ``replay`` processes them. A stream more than ``analysis.partition_hold_s``
        behind the newest one no longer holds the clock back.
        """
        newest = batch.newest_unix_nano
        if stream is not None and newest:
            self._newest_fed = max(self._newest_fed, newest)
            newest = self._stream_clock(stream, newest)
        self._feed(batch.entries, newest)

    def _stream_clock(self, stream: str, newest: int) -> int:
        """The release clock once ``stream`` has seen an event at ``newest``: the lowest
        watermark of this stream and those with records still waiting (see
        :meth:`set_waiting`; one never heard from counts as 0), but never more than
        ``analysis.partition_hold_s`` behind the newest stream's (unless the waiting were
        set ``bounded=False``)."""
        marks = self._stream_marks
        if newest > marks.get(stream, 0):
            marks[stream] = newest
        low = marks[stream]
        for waiting in self._waiting:
            low = min(low, marks.get(waiting, 0))
        if (len(marks) == 1 and not self._waiting) or not self._waiting_bounded:
            return low
        return max(low, max(marks.values()) - self._hold_ns)

    def complete_to(self, now_unix_nano: int) -> int:
        """Event time up to which every stream with records still waiting has delivered,
        less the lateness (``now`` when none waits): a window ending by then is whole even
        when one stream is read far ahead of another (a backlog at start)."""
        low = now_unix_nano
        for stream in self._waiting:
            low = min(low, self._stream_marks.get(stream, 0) - self._lateness_ns)
        return low

    def set_waiting(self, streams: Iterable[str], *, bounded: bool = True) -> None:
        """The streams that still have records to read (Kafka partitions with lag): their
        watermarks hold the release clock back; a caught-up stream holds nothing back.

        ``bounded``: none holds it more than ``analysis.partition_hold_s`` (event time)
        behind the newest stream. The daemon passes False: a partition with records on the
        broker holds the clock however far behind it is (a backlog's partitions are fetched
        in rounds whose event-time spans differ by minutes), and the daemon itself stops
        counting a partition as waiting once it has delivered nothing for
        ``kafka.partition_wait_s`` (so a stuck fetch cannot hold decisions forever)."""
        self._waiting = frozenset(streams)
        self._waiting_bounded = bounded

    def _feed(self, entries: Sequence[Entry], newest: int) -> None:
        pending = self._pending
        pending.add(entries)
        self._watermark = max(self._watermark, newest)
        cutoff = self._watermark - self._lateness_ns
        head = pending.head
        if head is not None and cutoff > self._released_to and head[0] <= cutoff:
            self._release(cutoff)

    def drain(self) -> None:
        """Process every buffered event now (input is idle or has ended)."""
        self._release(self._watermark)
        self._housekeep()

    def _forget_evicted(self) -> None:
        """Templates the miner evicted leave the analysis too (their lines fold into an
        evicted total), except those a current verdict's reasons name: they keep their text."""
        evicted = self._templates.take_evicted()
        if not evicted:
            return
        forgotten = 0
        for service, ids in evicted.items():
            keep = {r.template_id: r.template or f"#{r.template_id}"
                    for (s, _), v in self._current.items() if s == service
                    for r in v.reasons if r.template_id is not None}
            forgotten += self._analyzer.forget_templates(service, ids, keep)
        if self._metrics is not None and forgotten:
            self._metrics.templates_evicted.inc(forgotten)

    def finish(self) -> ReplayResult:
        """The input has ended: process everything still held (events of a stream ahead of
        the others' clock too) and return the result."""
        self._watermark = max(self._watermark, self._newest_fed)
        self.drain()
        if self._released_to:
            # A last look at each service, at its own clock: at most one interval after its
            # last event (where its next look would be), never past the input's end.
            for service, nxt in self._service_next.items():
                self._look(service, min(self._released_to, nxt - 1))
        # Each service is looked at on its own clock, so one's look can come after another's
        # later one: the changes in event-time order (stable: a service's keep their order).
        changes = sorted(self._changes, key=lambda v: v.at_unix_nano)
        return ReplayResult(tuple(changes), tuple(self._current.values()), self.counts,
                            tuple(self.notices()))

    def notices(self) -> list[str]:
        """Services without versions and (service, version)s whose records were mostly
        rejected, as sentences (see :mod:`canarywatch.notices`)."""
        cohorts = self._cohorts
        traffic = {service: cohorts.traffic(service) for service in cohorts.services()}
        roles: dict[tuple[str, str], str] = {}
        for service in traffic:
            found = cohorts.roles(service)
            if found is not None:
                roles[(service, found.baseline)] = "baseline"
                roles.update({(service, c): "canary" for c in found.canaries})
        return [*self._notices.notices,
                *self._notices.rejected_cohorts(self.rejects, traffic, roles)]

    # -- processing ------------------------------------------------------------------------

    def _release(self, cutoff: int) -> None:
        ready = self._pending.take_until(cutoff)
        try:
            self._process(ready)
        finally:
            self._released_to = max(self._released_to, cutoff)

    def _tick(self, t: int) -> None:
        """Housekeeping at every interval boundary of the release clock first passed (metrics,
        evicted templates); the looks themselves run per service (:meth:`_tick_service`)."""
        if self._next_eval == 0:
            self._next_eval = (t // self._interval_ns + 1) * self._interval_ns
            return
        if self._next_eval <= t:
            boundary = self._next_eval + (t - self._next_eval) // self._interval_ns \
                * self._interval_ns
            self._housekeep(boundary)
            self._next_eval = boundary + self._interval_ns

    def _tick_service(self, service: str, t: int) -> None:
        """Look at ``service`` at every interval boundary of its own event time up to ``t``
        (the time of its event about to be folded): each service is judged on its own
        clock, so a look costs work for the services with new data only, and what other
        services send (or how far ahead their clocks are) changes none of its looks."""
        interval = self._interval_ns
        nxt = self._service_next.get(service)
        if nxt is None:
            self._service_next[service] = (t // interval + 1) * interval
            return
        looks = 0
        while nxt <= t:
            self._look(service, nxt)
            nxt += interval
            looks += 1
            if looks == self._gap_looks and nxt <= t:
                # A gap: nothing arrived since, so the looks in between could only repeat
                # the last; jump to the last boundary the gap reaches.
                nxt += (t - nxt) // interval * interval
        self._service_next[service] = nxt

    def _process(self, ready: Sequence[Entry]) -> None:
        """Fold time-ordered entries (see :meth:`_fold`); an entry whose folding raises is
        counted (``canarywatch_fold_errors``), logged and skipped, and folding goes on with
        the next one: one poison event never loses the others released with it."""
        entries = iter(ready)
        while True:
            try:
                self._fold(entries)
                return
            except Exception as exc:  # poison: one event must never stop the analysis
                self.fold_errors += 1
                if self.fold_errors <= _LOGGED_FOLD_ERRORS or self.fold_errors % 1000 == 0:
                    log.error("skipped an event whose folding raised %s: %.200s (%d so far)",
                              type(exc).__name__, exc, self.fold_errors,
                              exc_info=self.fold_errors <= 3)
                if self._metrics is not None:
                    self._metrics.fold_errors.labels(type(exc).__name__).inc()

    def _fold(self, ready: Iterator[Entry]) -> None:
        """Fold time-ordered entries into cohorts, templates and analysis, evaluating at every
        interval boundary first passed.

        Events are counted per (kind, service, version) here and the counts moved to the
        totals, the cohort traffic and the metrics tally before each look and at the end: the
        same counts at every look as counting each event as it passes, one call fewer each.
        """
        observe_span = self._analyzer.observe_span
        observe_request = self._analyzer.observe_request
        observe_log = self._analyzer.observe_log
        match = self._templates.match
        max_line = self._max_line
        structured = _may_name_a_level
        prepare_text = self._templates.preprocessor.text
        seen: dict[tuple[str, str, str | None], int] = {}
        seen_get = seen.get
        next_eval = self._next_eval
        service_next = self._service_next.get
        try:
            for t, ev in ready:
                if t >= next_eval:
                    self._count(seen)
                    self._tick(t)
                    next_eval = self._next_eval
                if isinstance(ev, tuple):  # a SpanRow: a versioned entry span, no events
                    service = ev[0]
                    if t >= service_next(service, 0):
                        self._count(seen)
                        self._tick_service(service, t)
                    (_, version, _, _, endpoint, start, end, is_error, status, trace_id,
                     _, _) = ev
                    key: tuple[str, str, str | None] = ("span", service, version)
                    seen[key] = seen_get(key, 0) + 1
                    observe_request(service, version, endpoint, start, end, is_error, status,
                                    trace_id)
                    continue
                service = ev.service
                if t >= service_next(service, 0):
                    self._count(seen)
                    self._tick_service(service, t)
                if isinstance(ev, CountedSpan):
                    key = ("span", ev.service, ev.version)
                    seen[key] = seen_get(key, 0) + ev.count
                    continue
                if isinstance(ev, SpanEvent):
                    key = ("span", ev.service, ev.version)
                    seen[key] = seen_get(key, 0) + 1
                    if ev.version is None:
                        continue
                    observe_span(ev)
                    if ev.exceptions:
                        self._span_exceptions(ev, ev.version)
                else:
                    key = ("log", ev.service, ev.version)
                    seen[key] = seen_get(key, 0) + 1
                    if ev.version is None:
                        continue
                    line = ev
                    if line.severity is UNSPECIFIED and structured(line.body):
                        line = self._with_body_level(line)
                    if len(line.body) > max_line:
                        # The signature comes from the whole record (a long stack trace's
                        # innermost cause is at its end); the evidence kept is cut.
                        text = truncate_line(prepare_text(line.body), max_line)
                        line = self._truncated(line)
                        observe_log(line, match(line.service, text))
                    else:
                        observe_log(line, match(line.service, line.body))
        finally:
            self._count(seen)

    def _truncated(self, ev: LogEvent) -> LogEvent:
        """``ev`` with its body cut to ``logs.max_line_chars`` and the truncation marker."""
        self.truncated_lines += 1
        if self._metrics is not None:
            self._metrics.lines_truncated.inc()
        return replace(ev, body=truncate_line(ev.body, self._max_line))

    def _count(self, seen: dict[tuple[str, str, str | None], int]) -> None:
        """Move events counted by :meth:`_process` to the totals, cohorts and metrics tally
        (in first-seen order, which the cohorts keep); empties ``seen``."""
        observe = self._cohorts.observe
        notice = self._notices.observe
        counts = self.counts
        tally = self._tally
        for (kind, service, version), n in seen.items():
            observe(service, version, n)
            notice(service, version, n)
            if kind == "span":
                counts.spans += n
            else:
                counts.logs += n
            if version is None:
                counts.unversioned += n
            else:
                key = (kind, service, version)
                tally[key] = tally.get(key, 0) + n
        seen.clear()

    def _with_body_level(self, ev: LogEvent) -> LogEvent:
        """A record without a severity takes the level its structured body names, if any."""
        severity = self._templates.preprocessor.prepare(ev.body).severity
        return ev if severity is UNSPECIFIED else replace(ev, severity=severity)

    def _span_exceptions(self, ev: SpanEvent, version: str) -> None:
        """A span's recorded exceptions count as ERROR log lines of its service."""
        for exc in ev.exceptions:
            body = f"{exc.type}: {exc.message}" if exc.message else exc.type
            if len(body) > self._max_line:
                self.truncated_lines += 1
                body = truncate_line(body, self._max_line)
            line = LogEvent(ev.service, version, exc.time_unix_nano, Severity.ERROR, body,
                            ev.trace_id, ev.span_id)
            self._analyzer.observe_log(line, self._templates.match(ev.service, body))

    def count_consumed(self, topic: str, origins: Mapping[tuple[str, str | None], int]) -> None:
        """Count a Kafka record's events per (service, version) for ``records_consumed``.

        They are labelled when :meth:`_flush_tally` labels ``events_decoded``, by the same
        cohort resolver at the same moment, so both metrics use one cohort vocabulary (a
        versioned event is never ``other`` in one and ``canary`` in the other).
        """
        consumed = self._consumed
        for (service, version), n in origins.items():
            key = (topic, service, version)
            consumed[key] = consumed.get(key, 0) + n

    def _flush_tally(self) -> None:
        """Move per-event counts to the metrics in one go (cheaper than per event)."""
        if self._metrics is not None:
            cohort_of = self._cohorts.cohort_of
            for (kind, service, version), n in self._tally.items():
                self._metrics.events_decoded.labels(kind, cohort_of(service, version).value).inc(n)
            if self._consumed:
                for (topic, service, v), n in self._consumed.items():
                    self._metrics.records_consumed.labels(topic, cohort_of(service, v).value).inc(n)
        self._tally.clear()
        self._consumed.clear()

    def _housekeep(self, now: int | None = None) -> None:
        """What every interval of the release clock does once, whatever the services:
        metrics tally, templates evicted from the miner, endpoint metrics."""
        self._flush_tally()
        self._forget_evicted()
        series, metrics = self._series, self._metrics
        if series is not None and metrics is not None:
            series.round()
            for service in self._looked:
                series.set(metrics.templates, service, self._templates.template_count(service))
                counts = self._analyzer.endpoint_count(service)
                if counts is None:
                    continue
                kept, folded = counts
                series.set(metrics.endpoints, service, kept)
                reported = self._folds_reported.get(service, 0)
                if folded > reported:
                    series.inc(metrics.endpoint_folds, service, folded - reported)
                    self._folds_reported[service] = folded
        self._looked.clear()

    def _look(self, service: str, now: int) -> None:
        """Judge every canary of ``service`` at its event time ``now``."""
        self.look_count += 1
        self._looked.add(service)
        roles = self._cohorts.roles(service)
        pairs = [] if roles is None else [(roles.baseline, c) for c in roles.canaries]
        if not pairs and self._history is not None:
            pairs = self._against_history(service, roles)
        text = self._template_text(service)
        for baseline, canary in pairs:
            verdict = self._analyzer.evaluate(service, baseline, canary, now, text)
            previous = self._current.get(verdict.key)
            self._current[verdict.key] = verdict
            if self._observer is not None:
                self._observe(self._observer, now, verdict)
            if previous is None or previous.action is not verdict.action:
                self._changes.append(verdict)
                self._emit(verdict)
        if self.rolling is not None:  # after the look, as it reads its verdicts
            self.rolling.looked(_OneService(self, service), now, retained_ns=self.window_ns,
                                complete_to_unix_nano=self.complete_to(now))

    def _against_history(self, service: str, roles: Roles | None) -> list[tuple[str, str]]:
        """(history label, version) for a service with one version and a model of it."""
        assert self._history is not None
        view = self._history.view(service)
        if view is None:
            return []
        if roles is not None:
            versions: tuple[str, ...] = (roles.baseline,)
        else:  # roles given on the command line: judge the named canaries that are here
            versions = tuple(v for v in self._cohorts.explicit_canaries(service)
                             if v in self._cohorts.traffic(service))
        return [(view.label, v) for v in versions if v not in view.model.versions]

    def _observe(self, observer: LookObserver, now: int, verdict: Verdict) -> None:
        try:
            observer.looked(self, now, verdict)
        except Exception:  # the report must never stop the analysis
            log.exception("look observer failed for %s/%s", verdict.service,
                          verdict.canary_version)

    def _template_text(self, service: str) -> Callable[[int], str]:
        return lambda template_id: self._templates.template_text(service, template_id)

    def _emit(self, verdict: Verdict) -> None:
        if self._metrics is not None:
            self._metrics.verdicts.labels(verdict.action.value).inc()
            for action in Action:
                self._metrics.current_verdicts.labels(action.value).set(
                    sum(1 for v in self._current.values() if v.action is action))
        for sink in self._sinks:
            try:
                sink.send(verdict)
            except Exception:  # a broken sink must never stop the analysis
                log.exception("verdict sink %r failed for %s/%s", sink, verdict.service,
                              verdict.canary_version)

    # -- queries and state -----------------------------------------------------------------

    def verdicts(self) -> list[Verdict]:
        return list(self._current.values())

    def versions_seen(self) -> dict[str, dict[str, int]]:
        """Events counted per service and version so far (first seen first)."""
        return {service: self._cohorts.traffic(service) for service in self._cohorts.services()}

    def services(self) -> list[str]:
        """Every service seen, first seen first."""
        return list(self._cohorts.services())

    def roles(self, service: str) -> Roles | None:
        """The service's baseline and canaries now (None while undecided)."""
        return self._cohorts.roles(service)

    def template_info(self, service: str, template_id: int) -> TemplateInfo | None:
        """Severity, versions and example lines of a template (None if unknown)."""
        return self._analyzer.template_info(service, template_id)

    def cohort_of(self, service: str, version: str | None) -> Cohort:
        return self._cohorts.cohort_of(service, version)

    def template_count(self, service: str) -> int:
        return self._templates.template_count(service)

    def template_text(self, service: str, template_id: int) -> str:
        return self._templates.template_text(service, template_id)

    def window_summary(self, service: str, version: str, start_unix_nano: int,
                       end_unix_nano: int) -> Summary | None:
        """One version's analysis buckets starting in ``[start, end)`` (for observers)."""
        return self._analyzer.window_summary(service, version, start_unix_nano, end_unix_nano)

    @property
    def bucket_ns(self) -> int:
        return max(1, int(self.config.analysis.bucket_s * _NS))

    @property
    def window_ns(self) -> int:
        return int(self.config.analysis.window_s * _NS)

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume exactly here, as plain JSON-able data."""
        return {
            "version": 1,
            "templates": self._templates.snapshot(),
            "analysis": self._analyzer.snapshot(),
            "cohorts": self._cohorts.snapshot(),
            "pending": [_entry_to_json(t, ev) for t, ev in self._pending.entries()],
            "watermark": self._watermark,
            "released_to": self._released_to,
            "next_eval": self._next_eval,
            "service_next_eval": dict(self._service_next),
            "current": [v.to_json() for v in self._current.values()],
            "counts": self.counts.to_json(),
            "partition_watermarks": dict(self._stream_marks),
            "stream_watermarks": self._skew.snapshot(),
            **({"history": self.rolling.snapshot(self)} if self.rolling is not None else {}),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._templates.restore(snapshot["templates"])
        self._analyzer.restore(snapshot["analysis"])
        self._cohorts.restore(snapshot["cohorts"])
        self._pending = PendingEntries([_entry_from_json(e)
                                        for e in snapshot.get("pending", [])])
        self._watermark = int(snapshot.get("watermark", 0))
        self._released_to = int(snapshot.get("released_to", 0))
        self._next_eval = int(snapshot.get("next_eval", 0))
        self._service_next = {str(k): int(v) for k, v in
                              snapshot.get("service_next_eval", {}).items()}
        current = [verdict_from_json(v) for v in snapshot.get("current", [])]
        self._current = {v.key: v for v in current}
        self.counts = EventCounts.from_json(snapshot.get("counts", {}))
        self._stream_marks = {str(k): int(v) for k, v in
                              snapshot.get("partition_watermarks", {}).items()}
        self._skew.restore(snapshot.get("stream_watermarks", {}))
        if self.rolling is not None and "history" in snapshot:
            self.rolling.restore(snapshot["history"])


class _OneService:
    """The pipeline as the rolling history's source, showing one service: a look reads the
    history of the service it judged only (its cost does not grow with the services)."""

    def __init__(self, pipeline: Pipeline, service: str) -> None:
        self._pipeline = pipeline
        self._service = service
        self.roles = pipeline.roles
        self.window_summary = pipeline.window_summary
        self.template_text = pipeline.template_text
        self.template_info = pipeline.template_info

    def services(self) -> list[str]:
        return [self._service]

    def verdicts(self) -> list[Verdict]:
        return [v for v in self._pipeline.verdicts() if v.service == self._service]


def _entry_to_json(t: int, ev: Event | CountedSpan | SpanRow) -> dict[str, Any] | list[Any]:
    if isinstance(ev, tuple):  # a SpanRow, as a list (the most common entry: kept compact)
        return [_SPAN_ROW, *ev[:3], int(ev[3]), *ev[4:11]]
    if isinstance(ev, CountedSpan):
        return {"t": _COUNTED_SPAN, "service": ev.service, "version": ev.version, "end": t,
                "count": ev.count}
    return event_to_json(ev)


def _entry_from_json(data: dict[str, Any] | list[Any]) -> Entry:
    if isinstance(data, list):  # a SpanRow
        (_, service, version, name, kind, endpoint, start, end, is_error, status, trace_id,
         span_id) = data
        return int(end), (str(service), str(version), str(name), SpanKind(kind), str(endpoint),
                          int(start), int(end), bool(is_error),
                          None if status is None else int(status), str(trace_id),
                          str(span_id), ())
    if data["t"] == _COUNTED_SPAN:
        return int(data["end"]), CountedSpan(data["service"], data["version"],
                                             int(data.get("count", 1)))
    ev = event_from_json(data)
    return event_time(ev), ev
